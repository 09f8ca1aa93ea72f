// `npm pack` yields a tarball that installs with no registry at all (jump hosts are offline):
// the runtime dependencies travel inside it (package.json bundleDependencies). The install
// points npm at an unreachable registry and an empty cache, so any download attempt fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'rp-pack-'));
const project = join(work, 'project');
test.after(() => rmSync(work, { recursive: true, force: true }));

// No registry reachable (port 9, discard, nothing listens on loopback) and a fresh npm cache.
const offline = ['--offline', '--registry', 'http://127.0.0.1:9/', '--cache', join(work, 'npm-cache'), '--no-audit', '--no-fund'];
const npmEnv = { ...process.env, npm_config_registry: 'http://127.0.0.1:9/', npm_config_update_notifier: 'false' };

let tarball = '';

test.before(() => {
  // dist/ is what the package ships; build it (type errors elsewhere still emit).
  spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], { cwd: root, stdio: 'ignore' });
  const r = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, ...offline], { cwd: root, encoding: 'utf8', env: npmEnv });
  assert.is(r.status, 0, r.stderr);
  tarball = join(work, readdirSync(work).find((f) => /^rancher-play-\d+\.\d+\.\d+\.tgz$/.test(f))!);
});

test('the tarball carries its runtime dependencies', () => {
  const r = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const dep of ['commander', 'ssh2', 'yaml', 'jiti', 'handlebars', 'listr2']) {
    assert.match(r.stdout, new RegExp(`^package/node_modules/${dep}/package\\.json$`, 'm'), `${dep} bundled`);
  }
  assert.match(r.stdout, /^package\/dist\/runner\/cli\/index\.js$/m);
  assert.match(r.stdout, /^package\/tasks\/templates\/nginx-l7\.conf\.hbs$/m);
});

test('npm installs the tarball offline into an empty project and `rancher-play --help` works', () => {
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ops-project', version: '1.0.0', private: true }));
  const inst = spawnSync('npm', ['install', ...offline, tarball], { cwd: project, encoding: 'utf8', env: npmEnv });
  assert.is(inst.status, 0, inst.stderr + inst.stdout);
  assert.ok(existsSync(join(project, 'node_modules', 'rancher-play', 'node_modules', 'ssh2')));

  const help = spawnSync('npx', ['--offline', 'rancher-play', '--help'], { cwd: project, encoding: 'utf8', env: npmEnv });
  assert.is(help.status, 0, help.stderr);
  assert.match(help.stdout, /Usage: rancher-play/);
  for (const cmd of ['run', 'check', 'validate', 'ping', 'inventory', 'tasks', 'new-task', 'schema']) assert.match(help.stdout, new RegExp(`\\n\\s+${cmd}\\b`));

  const tasks = spawnSync('npx', ['--offline', 'rancher-play', 'tasks'], { cwd: project, encoding: 'utf8', env: npmEnv });
  assert.is(tasks.status, 0, tasks.stderr);
  assert.match(tasks.stdout, /^configure-nginx-lb\b/m);
});

test('the installed package exports defineTask to custom task code', () => {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e',
    "import { defineTask } from 'rancher-play'; const t = defineTask({ id: 'x-y', summary: 's', schema: { type: 'object' }, async probe() { return { changed: false, msg: 'ok' }; } }); console.log(t.id);"],
  { cwd: project, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), 'x-y');
});

test.run();
