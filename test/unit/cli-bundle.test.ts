// bin/rancher-play.js runs dist/cli.cjs (scripts/cli-bundle.mjs) with its build-time code cache:
// the same output and exit codes as dist/ itself, a cache V8 accepts (same Node), nothing written
// at run time, and dist/ used when the bundle is missing or older than dist/ (a `tsc` alone).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Script } from 'node:vm';
import { root } from './cli-helpers.js';

const bundle = join(root, 'dist', 'cli.cjs');
const cache = `${bundle}.cache`;
const run = (args: string[], cwd = root) => {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
// dist/ itself, as bin/ ran it before the bundle.
const distEntry = join(mkdtempSync(join(tmpdir(), 'rp-dist-entry-')), 'cli.mjs');
writeFileSync(distEntry, `const { main } = await import(${JSON.stringify(join(root, 'dist', 'runner', 'cli', 'index.js'))}); process.exitCode = await main(process.argv.slice(2));\n`);
const fromDist = (args: string[]) => run([distEntry, ...args]);

test('built: dist/cli.cjs and a code cache V8 accepts from it', () => {
  assert.ok(existsSync(bundle) && existsSync(cache), 'npm run build makes both');
  const source = readFileSync(bundle, 'latin1');
  const data = readFileSync(cache);
  assert.is(data.latin1Slice(0, 16), source.slice(16, 32), 'the cache carries the bundle\'s build id');
  const script = new Script(source, { filename: bundle, cachedData: data.subarray(16) });
  assert.is(script.cachedDataRejected, false);
});

test('same output and exit code as dist/, file:line:col included; the cache is not touched', () => {
  const before = statSync(cache).mtimeMs;
  for (const args of [
    ['--version'],
    ['validate', 'playbooks/local-demo.yml', '-i', 'inventory/local.yml'],
    ['validate', 'playbooks/ha-l7.yml', '-i', 'inventory/prod.yml'],
    ['validate', 'playbooks/nope.yml', '-i', 'inventory/local.yml'],
  ]) {
    const b = run([join(root, 'bin', 'rancher-play.js'), ...args]);
    assert.equal(b, fromDist(args), args.join(' '));
  }
  assert.match(run([join(root, 'bin', 'rancher-play.js'), 'validate', 'playbooks/ha-l7.yml', '-i', 'inventory/prod.yml']).stderr, /^playbooks\/ha-l7\.yml:\d+:\d+ /m);
  assert.is(statSync(cache).mtimeMs, before);
});

test('the launcher: the bundle when fresh, dist/ when it is missing or older', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rp-launcher-'));
  try {
    mkdirSync(join(dir, 'bin'));
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'rancher-play', version: '0.0.0-test', type: 'module' }));
    for (const f of ['rancher-play.js', 'run-bundle.js', 'package.json']) copyFileSync(join(root, 'bin', f), join(dir, 'bin', f));
    symlinkSync(join(root, 'dist', 'runner'), join(dir, 'dist', 'runner'));
    const fake = join(dir, 'dist', 'cli.cjs');
    writeFileSync(fake, "// rancher-play 0123456789abcdef test\n(function (exports, require, module, __filename, __dirname, __rpImport) {exports.runFromProcess = () => console.log('from the bundle');})");
    writeFileSync(`${fake}.cache`, 'fedcba9876543210 not a cache for this bundle');
    const cli = join(dir, 'bin', 'rancher-play.js');
    const now = Date.now() / 1000;
    utimesSync(fake, now + 60, now + 60);
    assert.is(run([cli, '--version']).stdout, 'from the bundle\n', 'fresh: run (a cache of another build is ignored)');
    utimesSync(fake, now - 3600 * 24 * 365, now - 3600 * 24 * 365);
    assert.is(run([cli, '--version']).stdout, `${JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version}\n`, 'older than dist/: dist/ runs');
    rmSync(fake);
    assert.is(run([cli, '--version']).code, 0, 'missing: dist/ runs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.after(() => rmSync(join(distEntry, '..'), { recursive: true, force: true }));
test.run();
