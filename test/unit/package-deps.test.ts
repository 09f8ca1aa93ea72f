// package.json tells the truth: every runtime dependency is imported by shipped code (it also
// travels in the offline tarball), and `--version` is the version package.json declares, from
// the sources, dist/ and the one-file bundle alike.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { root } from './cli-helpers.js';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string; dependencies: Record<string, string>; bundleDependencies?: string[];
};

/** Source files of what ships (package.json `files`: bin, and dist/ compiled from runner, tasks, lab). */
function shippedSources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'fixtures' ? [] : shippedSources(rel);
    return /\.(ts|js|mjs)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [rel] : [];
  });
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`; relative and node: specifiers → undefined. */
function packageOf(spec: string): string | undefined {
  if (spec.startsWith('.') || spec.startsWith('node:') || spec.startsWith('/')) return undefined;
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

test('every package in dependencies is imported by shipped code, and bundled with it', () => {
  const imported = new Set<string>();
  for (const f of ['bin', 'runner', 'tasks', 'lab'].flatMap(shippedSources)) {
    for (const { fileName } of ts.preProcessFile(readFileSync(join(root, f), 'utf8'), true, true).importedFiles) {
      const p = packageOf(fileName);
      if (p) imported.add(p);
    }
  }
  assert.ok(imported.has('commander') && imported.has('ssh2'), 'the scan sees the CLI and the SSH transport');
  assert.equal(Object.keys(pkg.dependencies).filter((d) => !imported.has(d)), [], 'dependencies nothing imports');
  assert.equal([...(pkg.bundleDependencies ?? [])].sort(), Object.keys(pkg.dependencies).sort(), 'bundleDependencies = dependencies');
});

test('--version prints the version package.json declares, from the sources and from dist/', () => {
  const entry = `const { main } = await import(${JSON.stringify(join(root, 'runner', 'cli', 'index.ts'))}); process.exitCode = await main(process.argv.slice(1));`;
  const fromSource = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', entry, '--', '--version'], { cwd: root, encoding: 'utf8' });
  assert.is(fromSource.stdout.trim(), pkg.version, fromSource.stderr);
  const fromDist = spawnSync(process.execPath, [join(root, 'bin', 'rancher-play.js'), '--version'], { cwd: tmpdir(), encoding: 'utf8' });
  assert.is(fromDist.stdout.trim(), pkg.version, fromDist.stderr);
});

test('the one-file bundle prints the same version', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'rp-version-')), 'rancher-play.mjs');
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'bundle.mjs'), '--outfile', out], { cwd: root, encoding: 'utf8' });
  assert.is(b.status, 0, b.stderr);
  const r = spawnSync(process.execPath, [out, '--version'], { cwd: tmpdir(), encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), pkg.version);
});

test.run();
