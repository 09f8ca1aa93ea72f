// The custom-task loader must work from a single-file esbuild bundle (jump hosts get only that
// file): bundle a small entry using the loader, copy just the bundle into an empty directory,
// and load + run a TypeScript task and report a syntax error from there.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { build } from 'esbuild';

const fixtures = resolve('test/fixtures/custom');
const work = mkdtempSync(join(tmpdir(), 'rp-bundle-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const bundle = join(work, 'rancher-play-test.mjs');
const run = (...args: string[]): { error?: string; input?: boolean; ids?: string[]; statuses?: string[] } => {
  const r = spawnSync(process.execPath, [bundle, ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as never;
};

test.before(async () => {
  await build({
    entryPoints: [join(fixtures, 'bundle-entry.ts')],
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: bundle, logLevel: 'silent',
    // As scripts/bundle.mjs: ssh2 (reached through runTask's inventory mode) falls back to pure JS.
    external: ['cpu-features', '*.node'],
    // CJS dependencies (jiti among them) call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __rpCreateRequire } from 'node:module'; const require = __rpCreateRequire(import.meta.url);" },
  });
  cpSync(join(fixtures, 'tasks-good'), join(work, 'tasks'), { recursive: true });
  cpSync(join(fixtures, 'tasks-syntax'), join(work, 'broken'), { recursive: true });
});

test('the bundle sits alone, with no node_modules', () => {
  assert.equal(readdirSync(work).sort(), ['broken', 'rancher-play-test.mjs', 'tasks']);
});

test('a TypeScript custom task loads and runs from the bundle (changed, then ok)', () => {
  const out = join(work, 'out.txt');
  const r = run(join(work, 'tasks'), 'stamp-file', out);
  assert.is(r.error, undefined);
  assert.equal(r.ids, ['extra-one', 'extra-two', 'stamp-file', 'tla-task']);
  assert.equal(r.statuses, ['changed', 'ok']);
  assert.is(readFileSync(out, 'utf8'), 'stamped\n');
});

test('a syntax error is still reported with file:line:column from the bundle', () => {
  const r = run(join(work, 'broken'), 'broken', join(work, 'x'));
  assert.is(r.input, true);
  assert.match(r.error ?? '', /broken\/broken\.ts:9:\d+ syntax error/);
});

test.run();
