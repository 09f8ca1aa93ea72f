// The compile cache of custom tasks: the first load compiles (babel) and stores each module under
// a key of its content; a later process loading the same files does not load the compiler at all;
// an edit changes the key and compiles that one file again. Each load runs in a fresh process
// (the built loader in dist/), as every `rancher-play` command does.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileCacheDir } from '../../runner/engine/task-compiler.js';

const repo = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'rp-cache-'));
const cache = join(work, 'xdg');
const tasks = join(work, 'tasks');
test.after(() => rmSync(work, { recursive: true, force: true }));

// Loads `dir` in a new process and reports what the compiler did there.
const script = `
import { loadCustomTasks } from ${JSON.stringify(join(repo, 'dist/runner/engine/loader.js'))};
import { Registry } from ${JSON.stringify(join(repo, 'dist/runner/engine/registry.js'))};
import { compileCount, compilerLoaded, compileKey } from ${JSON.stringify(join(repo, 'dist/runner/engine/task-compiler.js'))};
const r = new Registry();
let error;
try { await loadCustomTasks(process.argv[1], r); } catch (e) { error = e.message; }
console.log(JSON.stringify({ ids: r.ids(), compiled: compileCount(), loaded: compilerLoaded(), error }));
`;
interface Load { ids: string[]; compiled: number; loaded: boolean; error?: string }
function load(dir = tasks, env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cache }): Load {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8', env: { ...process.env, ...env } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Load;
}
const entries = (): string[] => readdirSync(join(cache, 'rancher-play', 'tasks')).sort();

test.before(() => {
  cpSync(join(repo, 'test/fixtures/custom/tasks-good'), tasks, { recursive: true });
});

test('first load compiles every module and stores one file per module, named by a sha256', () => {
  const r = load();
  assert.equal(r.ids, ['extra-one', 'extra-two', 'stamp-file', 'tla-task']);
  assert.ok(r.loaded, 'babel was needed');
  // extra.mts, stamp-file.ts, tla.mts and the helper stamp-file imports.
  assert.is(r.compiled, 4);
  assert.is(entries().length, 4);
  for (const e of entries()) assert.match(e, /^[0-9a-f]{64}\.js$/);
  // Private to the user: cached code is executed by later loads.
  assert.is(statSync(join(cache, 'rancher-play')).mode & 0o777, 0o700);
  for (const e of entries()) assert.is(statSync(join(cache, 'rancher-play', 'tasks', e)).mode & 0o777, 0o600, e);
});

test('an unchanged second load does not load the compiler, and rewrites nothing', () => {
  const before = entries().map((e) => statSync(join(cache, 'rancher-play', 'tasks', e)).mtimeMs);
  const r = load();
  assert.equal(r.ids, ['extra-one', 'extra-two', 'stamp-file', 'tla-task']);
  assert.is(r.compiled, 0);
  assert.is(r.loaded, false, 'babel not even loaded');
  assert.equal(entries().map((e) => statSync(join(cache, 'rancher-play', 'tasks', e)).mtimeMs), before);
});

test('editing one file changes its key: only that file compiles again, and the edit is what runs', () => {
  const file = join(tasks, 'tla.mts');
  const old = new Set(entries());
  writeFileSync(file, readFileSync(file, 'utf8').replace("'hello'", "'edited'"));
  const r = load();
  assert.is(r.compiled, 1);
  const added = entries().filter((e) => !old.has(e));
  assert.is(added.length, 1, 'one new entry');
  assert.match(readFileSync(join(cache, 'rancher-play', 'tasks', added[0]!), 'utf8'), /edited/);
  // The edited task is loaded (not the cached old one).
  const show = spawnSync(process.execPath, [join(repo, 'bin/rancher-play.js'), 'tasks', '--tasks-dir', tasks], { encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: cache } });
  assert.match(show.stdout, /tla-task\s+edited/);
});

test('a syntax error is reported every time and never cached', () => {
  const dir = join(work, 'broken');
  cpSync(join(repo, 'test/fixtures/custom/tasks-syntax'), dir, { recursive: true });
  const n = entries().length;
  for (let i = 0; i < 2; i++) {
    const r = load(dir);
    assert.match(r.error ?? '', /broken\.ts:9:\d+ syntax error/);
  }
  assert.is(entries().length, n);
});

test('no temp files are left beside the entries', () => {
  assert.equal(entries().filter((e) => !/^[0-9a-f]{64}\.js$/.test(e)), []);
});

test('the cache lives under $XDG_CACHE_HOME/rancher-play, else ~/.cache/rancher-play', () => {
  assert.is(compileCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/h' }), '/x/cache/rancher-play/tasks');
  assert.is(compileCacheDir({ HOME: '/h' }), '/h/.cache/rancher-play/tasks');
  assert.is(compileCacheDir({ XDG_CACHE_HOME: 'relative', HOME: '/h' }), '/h/.cache/rancher-play/tasks');
  const home = join(work, 'home');
  const r = load(tasks, { XDG_CACHE_HOME: '', HOME: home });
  assert.is(r.compiled, 4, 'a new location starts empty');
  assert.is(readdirSync(join(home, '.cache', 'rancher-play', 'tasks')).length, 4);
});

test.run();
