// A user's project, outside this repository: `new-task` scaffolds a task, its generated uvu test
// passes, the task is listed/documented by `tasks`, included in `schema playbook`, and used in a
// playbook run twice through the CLI (changed, then ok). Bad custom input exits 5 with
// file:line:column and runs nothing. Needs a build (dist/), like every CLI test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve('.');
const cli = join(repo, 'bin/rancher-play.js');
const proj = mkdtempSync(join(tmpdir(), 'rp-project-'));
test.after(() => rmSync(proj, { recursive: true, force: true }));

interface Out { code: number | null; stdout: string; stderr: string }
function rp(args: string[], cwd = proj): Out {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1', NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function recap(out: Out): Record<string, Record<string, number>> {
  const lines = out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; hosts?: Record<string, Record<string, number>> });
  const last = lines[lines.length - 1];
  assert.is(last?.event, 'recap', out.stdout + out.stderr);
  return last!.hosts!;
}

test.before(() => {
  // The project has rancher-play installed as a dependency would be, and nothing else.
  mkdirSync(join(proj, 'node_modules'));
  symlinkSync(repo, join(proj, 'node_modules', 'rancher-play'));
  writeFileSync(join(proj, 'inventory.yml'), 'hosts:\n  box: { connection: local }\n');
  writeFileSync(join(proj, 'site.yml'), [
    'name: Custom task in a playbook',
    'plays:',
    '  - name: Motd',
    '    hosts: box',
    '    tasks:',
    '      - name: motd line',
    '        ensure-motd: { path: out/motd, line: "managed by rancher-play" }',
    '',
  ].join('\n'));
  mkdirSync(join(proj, 'out'));
});

test('new-task writes tasks/NAME.ts and tasks/NAME.test.ts', () => {
  const r = rp(['new-task', 'ensure-motd']);
  assert.is(r.code, 0, r.stderr);
  // Run from a checkout (not installed in this project): the hint names the checkout's launcher.
  assert.match(r.stdout, new RegExp(`run its test: node ${cli.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} test tasks/ensure-motd\\.test\\.ts\n`));
  assert.ok(existsSync(join(proj, 'tasks/ensure-motd.ts')));
  assert.ok(existsSync(join(proj, 'tasks/ensure-motd.test.ts')));
  assert.match(readFileSync(join(proj, 'tasks/ensure-motd.ts'), 'utf8'), /id: 'ensure-motd'/);
  // Only what rancher-play itself provides (plus Node's own modules and the task file).
  const specifiers = ['ensure-motd.ts', 'ensure-motd.test.ts']
    .flatMap((f) => [...readFileSync(join(proj, 'tasks', f), 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!));
  const packages = [...new Set(specifiers.filter((s) => !s.startsWith('node:') && !s.startsWith('./')))].sort();
  assert.equal(packages, ['rancher-play', 'rancher-play/testing', 'uvu', 'uvu/assert']);
});

test('new-task refuses to overwrite, and refuses names that are not kebab-case or built-in', () => {
  const before = readFileSync(join(proj, 'tasks/ensure-motd.ts'), 'utf8');
  writeFileSync(join(proj, 'tasks/ensure-motd.ts'), `${before}// my edit\n`);
  const again = rp(['new-task', 'ensure-motd']);
  assert.is(again.code, 5);
  assert.match(again.stderr, /refusing to overwrite/);
  assert.match(readFileSync(join(proj, 'tasks/ensure-motd.ts'), 'utf8'), /\/\/ my edit\n$/);
  for (const bad of ['Ensure_Motd', 'ensure--motd', '9lives', 'copy']) {
    const r = rp(['new-task', bad]);
    assert.is(r.code, 5, bad);
    assert.not.ok(existsSync(join(proj, 'tasks', `${bad}.ts`)), bad);
  }
});

test('the generated test passes with `rancher-play test`, which new-task printed', () => {
  const r = rp(['test', 'tasks/ensure-motd.test.ts']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\n2 passed, 0 failed\n$/);
});

test('tasks lists the custom task beside the built-ins; tasks ID shows its params', () => {
  const list = rp(['tasks']);
  assert.is(list.code, 0, list.stderr);
  assert.match(list.stdout, /ensure-motd\s+Ensure a line is present in a file/);
  assert.match(list.stdout, /render-template/);
  const one = rp(['tasks', 'ensure-motd']);
  assert.is(one.code, 0, one.stderr);
  assert.match(one.stdout, /path\s+string, required/);
  assert.match(one.stdout, /line\s+string, required — Exact line that must be present/);
  assert.match(one.stdout, /mode\s+string.*0644/);
});

test('check before the first run reports the change and writes nothing', () => {
  const r = rp(['check', 'site.yml', '-i', 'inventory.yml', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.is(recap(r).box!.changed, 1);
  assert.not.ok(existsSync(join(proj, 'out/motd')));
});

test('the playbook runs twice: changed, then ok', () => {
  const first = rp(['run', 'site.yml', '-i', 'inventory.yml', '--json']);
  assert.is(first.code, 0, first.stderr + first.stdout);
  const r1 = recap(first).box!;
  assert.equal([r1.changed, r1.failed, r1.unreachable], [1, 0, 0]);
  assert.is(readFileSync(join(proj, 'out/motd'), 'utf8'), 'managed by rancher-play\n');
  const second = rp(['run', 'site.yml', '-i', 'inventory.yml', '--json']);
  assert.is(second.code, 0, second.stderr);
  const r2 = recap(second).box!;
  assert.equal([r2.ok, r2.changed, r2.failed, r2.unreachable], [1, 0, 0, 0]);
});

test('a schema violation of the custom task exits 5 with file:line:column and the key', () => {
  writeFileSync(join(proj, 'bad.yml'), [
    'name: Bad params',
    'plays:',
    '  - hosts: box',
    '    tasks:',
    '      - ensure-motd:',
    '          path: out/never',
    '          line: 42',
    '',
  ].join('\n'));
  for (const cmd of ['validate', 'run']) {
    const r = rp([cmd, 'bad.yml', '-i', 'inventory.yml']);
    assert.is(r.code, 5, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /bad\.yml:7:\d+ ensure-motd\.line .*string/);
  }
  assert.not.ok(existsSync(join(proj, 'out/never')));
});

test('a custom task with a syntax error: exit 5, its file and line, no stack trace', () => {
  const dir = join(proj, 'broken-tasks');
  cpSync(join(repo, 'test/fixtures/custom/tasks-syntax'), dir, { recursive: true });
  const r = rp(['validate', 'site.yml', '-i', 'inventory.yml', '--tasks-dir', 'broken-tasks']);
  assert.is(r.code, 5, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /broken-tasks\/broken\.ts:9:\d+ syntax error/);
  assert.not.match(out, /^\s+at /m, 'no stack trace');
});

test('a custom task shadowing a built-in: exit 5 naming both files', () => {
  const dir = join(proj, 'shadow-tasks');
  cpSync(join(repo, 'test/fixtures/custom/tasks-shadow'), dir, { recursive: true });
  const r = rp(['tasks', '--tasks-dir', 'shadow-tasks']);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /shadow-tasks\/command\.ts .*shadows the built-in task in rancher-play's tasks\/command\.ts/);
});

test.run();
