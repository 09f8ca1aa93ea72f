// The lab's rke wrappers answer `--version` in shell (no Node start); what they print must be
// exactly what the fixture they wrap prints, for each release it plays; any other argv reaches
// the fixture.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { WRAPPER_PLAYS, wrapperScript } from '../../lab/wrappers.js';

const FIXTURES = resolve('lab/fixtures');
const dir = mkdtempSync(join(tmpdir(), 'rp-wrappers-'));
const run = (cmd: string, args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

for (const [tool, play] of Object.entries(WRAPPER_PLAYS)) {
  test(`${tool} wrapper: --version and -v as the fixture prints them (${play.rkeVersion})`, () => {
    const path = join(dir, tool);
    writeFileSync(path, wrapperScript(tool, { fixturesDir: FIXTURES, node: process.execPath, labDir: dir }), { mode: 0o755 });
    for (const flag of ['--version', '-v']) {
      const fast = run(path, [flag]);
      const slow = run(process.execPath, [join(FIXTURES, `${play.fixture}-fixture`), flag], { RKE_FIXTURE_VERSION: play.rkeVersion! });
      assert.equal(fast, slow, flag);
      assert.equal(fast.stdout, `rke version ${play.rkeVersion}\n`);
    }
    // Anything else is the fixture's (here its usage on an unknown command, exit 1).
    const other = run(path, ['--version', 'extra']);
    assert.equal(other.stdout, `rke version ${play.rkeVersion}\n`);
    const usage = run(path, ['nope']);
    assert.is(usage.status, 1);
    assert.match(usage.stderr, /lab fixture/);
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
