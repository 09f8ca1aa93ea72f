// The authoring loop exactly as an outside user meets it, with no network (the npm registry is
// pointed at a closed loopback port, and --offline): `npm pack` of this repository, installed
// into an empty project; `npx rancher-play new-task ensure-motd`; then the test command it
// printed passes; a broken task makes that command exit 1 with the assertion's message.
// The same with only the one-file bundle (scripts/bundle.mjs, what `npm run bundle` runs) in an
// empty directory. Packs and bundles once. Needs a build (dist/), like every CLI test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'rp-pack-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

// No registry reachable (a closed loopback port), no cache or config of the machine's user.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  npm_config_registry: 'http://127.0.0.1:9/',
  npm_config_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_cache: join(work, 'npm-cache'),
  npm_config_userconfig: join(work, 'npmrc'),
  XDG_CACHE_HOME: join(work, 'xdg-cache'),
  NO_COLOR: '1',
};
for (const k of Object.keys(env)) if (/^npm_(lifecycle|package|command|config_(prefix|global|local))/.test(k)) delete env[k];

interface Out { code: number | null; out: string; stdout: string; last: string }
function sh(cmd: string, cwd: string): Out {
  const r = spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8', env, maxBuffer: 64 << 20 });
  return { code: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout, last: r.stdout.trimEnd().split('\n').pop() ?? '' };
}

const installed = join(work, 'npm-project');
const jump = join(work, 'jump-host');

test.before(() => {
  // The tarball a user gets (dist/ is already built; its `prepare` would only rebuild it).
  execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: repo, env, stdio: ['ignore', 'ignore', 'inherit'] });
  mkdirSync(installed);
  writeFileSync(join(installed, 'package.json'), '{ "name": "motd-project", "version": "1.0.0", "private": true }\n');
  const tgz = readdirSync(work).find((f) => /^rancher-play-.*\.tgz$/.test(f));
  assert.ok(tgz, 'npm pack wrote a tarball');
  const inst = sh(`npm install --offline ../${tgz}`, installed);
  assert.is(inst.code, 0, inst.out);
  mkdirSync(jump);
  execFileSync(process.execPath, [join(repo, 'scripts/bundle.mjs'), '--outfile', join(work, 'bundle', 'rancher-play.mjs')], { cwd: repo, env, stdio: ['ignore', 'ignore', 'inherit'] });
  copyFileSync(join(work, 'bundle', 'rancher-play.mjs'), join(jump, 'rancher-play.mjs'));
});

/** new-task, then the command it printed; returns that command. */
function scaffoldAndTest(cwd: string, newTask: string, printed: RegExp): string {
  const made = sh(`${newTask} new-task ensure-motd`, cwd);
  assert.is(made.code, 0, made.out);
  const cmd = /run its test: (.+)\n/.exec(made.stdout)?.[1];
  assert.ok(cmd, made.stdout);
  assert.match(cmd!, printed);
  const r = sh(cmd!, cwd);
  assert.is(r.code, 0, r.out);
  assert.is(r.last, '2 passed, 0 failed');
  return cmd!;
}

/** Break the task (apply writes the wrong content): the printed command fails with the assertion's message. */
function breakAndFail(cwd: string, cmd: string): void {
  const file = join(cwd, 'tasks', 'ensure-motd.ts');
  const src = readFileSync(file, 'utf8');
  const broken = src.replace('want.content,', 'want.content.toUpperCase(),');
  assert.is.not(broken, src, 'the task was changed');
  writeFileSync(file, broken);
  const r = sh(cmd, cwd);
  assert.is(r.code, 1, r.out);
  assert.match(r.stdout, /FAIL\s+"apply adds the line once, then reports ok"/);
  assert.match(r.stdout, /the line is appended after the existing content/);
  assert.is(r.last, '1 passed, 1 failed');
  writeFileSync(file, src);
}

test('the tarball installs offline with uvu inside and no tsx', () => {
  assert.ok(existsSync(join(installed, 'node_modules', 'rancher-play', 'dist', 'runner', 'cli', 'test-command.js')));
  const uvu = [join(installed, 'node_modules', 'uvu'), join(installed, 'node_modules', 'rancher-play', 'node_modules', 'uvu')];
  assert.ok(uvu.some(existsSync), 'uvu came with rancher-play');
  assert.not.ok(existsSync(join(installed, 'node_modules', 'tsx')), 'tsx is not needed');
  const help = sh('npx rancher-play --help', installed);
  assert.match(help.stdout, /\n\s+test \[options\] \[paths\.\.\.\]/);
});

test('npm install: new-task, then the printed `npx rancher-play test` passes; a broken task fails with the message', () => {
  const cmd = scaffoldAndTest(installed, 'npx rancher-play', /^npx rancher-play test tasks\/ensure-motd\.test\.ts$/);
  breakAndFail(installed, cmd);
  // The unchanged tasks directory again, the default PATH.
  assert.is(sh('npx rancher-play test', installed).last, '2 passed, 0 failed');
});

test('one-file bundle alone: new-task, then the printed `node rancher-play.mjs test` passes; broken fails', () => {
  assert.equal(readdirSync(jump), ['rancher-play.mjs']);
  const cmd = scaffoldAndTest(jump, 'node rancher-play.mjs', /^node rancher-play\.mjs test tasks\/ensure-motd\.test\.ts$/);
  breakAndFail(jump, cmd);
  assert.equal(readdirSync(jump).sort(), ['rancher-play.mjs', 'tasks'], 'nothing but the tasks was added');
});

test.run();
