// `rancher-play test [PATH...]` in a project with nothing installed: it finds the tests of the
// tasks directory (or the PATHs given), resolves 'rancher-play', 'rancher-play/testing', 'uvu'
// and 'uvu/assert' to its own copies, runs each file in its own process, shows a failing
// assertion's message, and exits 0 / 1 / 5 with `N passed, N failed` as the last line.
// Needs a build (dist/), like every CLI test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve('.');
const cli = join(repo, 'bin/rancher-play.js');
const work = mkdtempSync(join(tmpdir(), 'rp-testcmd-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Out { code: number | null; stdout: string; stderr: string; last: string }
function rp(args: string[], cwd: string): Out {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', XDG_CACHE_HOME: join(work, 'cache') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, last: r.stdout.trimEnd().split('\n').pop() ?? '' };
}
/** A new project directory with `files` (relative path → content). */
function project(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const passing = (label: string) => `import { test } from 'uvu';
import * as assert from 'uvu/assert';
test('${label} one', () => { assert.is(1 + 1, 2); });
test('${label} two', () => { assert.ok(true); });
test.run();
`;

test('default: the *.test.ts files of tasks/, each passing: exit 0, last line the counts', () => {
  const dir = project('pass', { 'tasks/a.test.ts': passing('a'), 'tasks/b.test.ts': passing('b'), 'tasks/helper.ts': 'export const x = 1;\n' });
  const r = rp(['test'], dir);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /tasks\/a\.test\.ts\n/);
  assert.match(r.stdout, /tasks\/b\.test\.ts\n/);
  assert.is(r.last, '4 passed, 0 failed');
});

test('a failing assertion: exit 1, its message and the test file line shown, others still run', () => {
  const dir = project('fail', {
    'tasks/a.test.ts': passing('a'),
    'tasks/b.test.ts': `import { test } from 'uvu';\nimport * as assert from 'uvu/assert';\n\ntest('motd has the line', () => {\n  assert.is('first\\n', 'first\\nhello\\n', 'the motd must end with hello');\n});\ntest.run();\n`,
  });
  const r = rp(['test'], dir);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /FAIL\s+"motd has the line"/);
  assert.match(r.stdout, /the motd must end with hello/);
  assert.match(r.stdout, /tasks\/b\.test\.ts:5:\d+/);
  assert.not.match(r.stdout, /dist\/runner|node_modules\/uvu/, 'rancher-play\'s own frames are left out');
  assert.is(r.last, '2 passed, 1 failed');
});

test('a task that does not load: exit 5 with its file:line:column, last line still the counts', () => {
  const dir = project('syntax', { 'tasks/a.test.ts': passing('a'), 'tasks/b.test.ts': "import task from './broken.js';\nimport { test } from 'uvu';\nimport * as assert from 'uvu/assert';\ntest('x', () => { assert.ok(task); });\ntest.run();\n" });
  cpSync(join(repo, 'test/fixtures/custom/tasks-syntax/broken.ts'), join(dir, 'tasks/broken.ts'));
  const r = rp(['test'], dir);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /tasks\/broken\.ts:9:\d+ syntax error/);
  assert.not.match(r.stderr, /^\s+at /m, 'no stack trace');
  assert.is(r.last, '2 passed, 1 failed');
});

test("'rancher-play', 'rancher-play/testing' and 'uvu' are rancher-play's own, even over a project's node_modules", () => {
  const broken = 'throw new Error("the project\'s copy was used");\n';
  const pkg = (name: string) => JSON.stringify({ name, version: '9.9.9', type: 'module', exports: { '.': './index.js', './testing': './index.js', './assert': './index.js' } });
  const dir = project('own', {
    'node_modules/uvu/package.json': pkg('uvu'), 'node_modules/uvu/index.js': broken,
    'node_modules/rancher-play/package.json': pkg('rancher-play'), 'node_modules/rancher-play/index.js': broken,
    'tasks/stamp.ts': "import { defineTask } from 'rancher-play';\nexport default defineTask({ id: 'stamp', summary: 's', schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] }, async probe(ctx, p) { return (await ctx.readFile(p.path)) === 'x' ? { changed: false } : { changed: true }; }, async apply(ctx, p) { await ctx.writeFile(p.path, 'x'); } });\n",
    'tasks/stamp.test.ts': `import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runTask } from 'rancher-play/testing';
import { defineTask } from 'rancher-play';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import task from './stamp.js';
test('changed, then ok', async () => {
  assert.type(defineTask, 'function');
  const path = join(mkdtempSync(join(tmpdir(), 'stamp-')), 'f');
  assert.is((await runTask(task, { path })).status, 'changed');
  assert.is((await runTask(task, { path })).status, 'ok');
});
test.run();
`,
  });
  const r = rp(['test'], dir);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(r.last, '1 passed, 0 failed');
});

test('each file runs in its own process: globals and uvu state do not leak between files', () => {
  const file = (mine: string, other: string) => `import { test } from 'uvu';
import * as assert from 'uvu/assert';
test('same name in both files', () => {
  assert.is((globalThis as any).${other}, undefined, 'the other file leaked');
  (globalThis as any).${mine} = process.pid;
});
test.run();
`;
  const dir = project('isolated', { 'tasks/a.test.ts': file('fromA', 'fromB'), 'tasks/b.test.ts': file('fromB', 'fromA') });
  const r = rp(['test'], dir);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(r.last, '2 passed, 0 failed', 'each test ran exactly once');
});

test('a test file that exits early counts as failed', () => {
  const dir = project('exits', { 'tasks/a.test.ts': "import { test } from 'uvu';\ntest('x', () => { process.exit(0); });\ntest.run();\n" });
  const r = rp(['test'], dir);
  assert.is(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /tasks\/a\.test\.ts: the test process ended \(exit 0\) before its tests finished/);
  assert.is(r.last, '0 passed, 1 failed');
});

test('PATHs: a file or a directory; --tasks-dir as for run; missing paths and no tests are exit 5', () => {
  const dir = project('paths', { 'tasks/a.test.ts': passing('a'), 'more/b.test.ts': passing('b'), 'more/c.test.ts': passing('c') });
  assert.is(rp(['test', 'tasks/a.test.ts'], dir).last, '2 passed, 0 failed');
  assert.is(rp(['test', 'more'], dir).last, '4 passed, 0 failed');
  assert.is(rp(['test', '--tasks-dir', 'more'], dir).last, '4 passed, 0 failed');
  const missing = rp(['test', 'nope.test.ts'], dir);
  assert.is(missing.code, 5);
  assert.match(missing.stderr, /nope\.test\.ts no such file or directory/);
  const noDir = rp(['test', '--tasks-dir', 'absent'], dir);
  assert.is(noDir.code, 5);
  assert.match(noDir.stderr, /--tasks-dir directory absent does not exist/);
  const empty = rp(['test'], project('empty', { 'README.md': 'x\n' }));
  assert.is(empty.code, 5);
  assert.match(empty.stderr, /no tasks directory/);
  assert.is(empty.last, '0 passed, 0 failed');
});

test('`test` is in --help', () => {
  const r = rp(['--help'], work);
  assert.match(r.stdout, /\n\s+test \[options\] \[paths\.\.\.\]\s+run custom-task tests/);
  assert.not.match(r.stdout, /--worker/);
});

test.run();
