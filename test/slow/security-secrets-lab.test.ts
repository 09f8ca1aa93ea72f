// Secrets out of every output, end to end: the shipped ha-l4 and ha-l7 playbooks on a lab, in check mode
// and for real, with --json, --diff and -v. The TLS private key (PEM and the base64 form that the
// ha-l4 cluster config embeds) and the lab's SSH private key must appear in no output, while the
// files that need them do hold them. A lab of its own, removed afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useLab, lab, type LabInfo } from '../lab/_lab.js';
import { root } from '../unit/cli-helpers.js';

const NAME = 'h9s';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-seclab-'));

function run(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const { main } = await import(${JSON.stringify(join(root, 'runner', 'cli', 'index.ts'))}); process.exitCode = await main(process.argv.slice(1));`, ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' }, maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

/** Needles: lines from the middle of each private key, and a slice of the key's base64. */
function needles(): [string, string][] {
  const tls = readFileSync(info.serverKey, 'utf8');
  const ssh = readFileSync(info.sshKey, 'utf8');
  const b64 = Buffer.from(tls).toString('base64');
  return [
    ['TLS key PEM line', tls.split('\n')[3]!],
    ['TLS key base64', b64.slice(120, 200)],
    ['SSH key line', ssh.split('\n')[2]!],
  ];
}

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
});

test.after(async () => {
  rmSync(work, { recursive: true, force: true });
  await lab.labDown(NAME);
});

for (const pb of ['ha-l4', 'ha-l7']) {
  test(`${pb}: check, run and rerun with --json/--diff/-v leak no private key`, () => {
    const dir = join(work, pb);
    const base = [join(root, 'playbooks', `${pb}.yml`), '-i', info.inventory, '-e', `work_dir=${dir}`, '--diff', '-v'];
    const outputs = [
      run(['check', ...base, '--json']),
      run(['run', ...base, '--json']),
      run(['run', ...base]),
    ];
    assert.is(outputs[1]!.code, 0, outputs[1]!.out.slice(-3000));
    assert.is(outputs[2]!.code, 0, outputs[2]!.out.slice(-3000));
    const cfg = join(dir, 'rancher-cluster.yml');
    assert.is(statSync(cfg).mode & 0o777, 0o600);
    if (pb === 'ha-l4') {
      // The key is really in the config (so clean output means masking, not absence).
      const b64 = Buffer.from(readFileSync(info.serverKey)).toString('base64');
      assert.ok(readFileSync(cfg, 'utf8').includes(b64), 'the ha-l4 config embeds the key');
      assert.match(outputs[1]!.out, /rancher-cluster\.yml.*\(secret, \d+ bytes\)/s, 'its diff is shown masked');
    }
    for (const [i, o] of outputs.entries()) {
      for (const [what, n] of needles()) assert.is(o.out.includes(n), false, `${pb} output ${i}: ${what} leaked`);
    }
  });
}

test.run();
