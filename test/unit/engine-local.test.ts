// The local transport and the core tasks, exercised on this machine: quoting, timeouts (124,
// process group killed), atomic writes with mode, validate-before-replace, delegate: controller.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalTransport } from '../../runner/transport/local.js';
import { shQuote } from '../../runner/quote.js';
import { cli, events, project } from './cli-helpers.js';

async function rejects(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return false;
  } catch {
    return true;
  }
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'rp-local-'));

test('shQuote survives quotes, newlines, $ and backticks through sh', async () => {
  const t = new LocalTransport();
  const nasty = `it's "a" $HOME \`id\` \n line2 \\ ; rm -rf /nonexistent`;
  const r = await t.exec(`printf %s ${shQuote(nasty)}`);
  assert.is(r.code, 0);
  assert.is(r.stdout, nasty);
});

test('exec: env and cwd are applied and quoted; exit codes come back; 127 for missing commands', async () => {
  const t = new LocalTransport();
  const d = tmp();
  const r = await t.exec('echo "$GREETING" && pwd', { env: { GREETING: "hi 'there'" }, cwd: d });
  assert.is(r.stdout, `hi 'there'\n${d}\n`);
  assert.is((await t.exec('exit 7')).code, 7);
  assert.is((await t.exec('no-such-command-xyz')).code, 127);
  assert.ok(await rejects(() => t.exec('true', { env: { 'BAD NAME': 'x' } })));
});

test('exec: timeout returns 124 and kills the whole process group', async () => {
  const t = new LocalTransport();
  const d = tmp();
  const r = await t.exec(`(sleep 2; touch ${shQuote(join(d, 'child-survived'))}) & sleep 5`, { timeoutMs: 200 });
  assert.is(r.code, 124);
  await new Promise((res) => setTimeout(res, 2500));
  assert.is(existsSync(join(d, 'child-survived')), false, 'background child was killed too');
});

test('exec: onLine streams complete lines in order', async () => {
  const lines: string[] = [];
  await new LocalTransport().exec('echo one; echo two >&2; printf three', { onLine: (l) => lines.push(l) });
  assert.equal(lines.sort(), ['one', 'three', 'two']);
});

test('writeFile is atomic with the requested mode; readFile gives null for missing files', async () => {
  const t = new LocalTransport();
  const d = tmp();
  const f = join(d, 'conf');
  assert.is(await t.readFile(f), null);
  await t.writeFile(f, 'v1\n', { mode: 0o600 });
  assert.is(readFileSync(f, 'utf8'), 'v1\n');
  assert.is(statSync(f).mode & 0o777, 0o600);
  await t.writeFile(f, 'v2\n', { mode: 0o640 });
  assert.is(statSync(f).mode & 0o777, 0o640);
  assert.equal(readdirSync(d), ['conf'], 'no temp files left behind');
  assert.ok(await rejects(() => t.writeFile(join(d, 'missing-dir', 'x'), 'x')));
  assert.equal(readdirSync(d), ['conf']);
});

test('render-template: validate failure leaves the old file in place; success replaces it', () => {
  const p = project(1);
  p.write('t.hbs', '{{value}}\n');
  const dest = join(p.work, 'app.conf');
  writeFileSync(dest, 'good\n');
  const pb = (value: string): string => p.write('pb.yml', `name: v
vars: { value: "${value}" }
plays:
  - name: p
    hosts: web
    tasks:
      - render-template: { src: t.hbs, dest: "{{work}}/app.conf", validate: "grep -q ^fine %s" }
`);
  const bad = cli(['run', pb('nope'), '-i', p.inventory, '--json']);
  assert.is(bad.code, 2);
  assert.match(events(bad.stdout).tasks[0]!.msg, /validate failed/);
  assert.is(readFileSync(dest, 'utf8'), 'good\n');
  assert.equal(readdirSync(p.work), ['app.conf'], 'temp file removed');
  const good = cli(['run', pb('fine now'), '-i', p.inventory, '--json']);
  assert.is(good.code, 0, good.stdout);
  assert.is(readFileSync(dest, 'utf8'), 'fine now\n');
});

test('copy from src (relative to the playbook), delegate: controller and wait-for', () => {
  const p = project(2);
  p.write('files/motd', 'welcome\n');
  const pb = p.write('pb.yml', `name: c
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { src: files/motd, dest: "{{work}}/motd-{{host.name}}", mode: "0644" }
      - render-template: { src: files/motd, dest: "{{work}}/on-controller", delegate: controller }
      - wait-for: { url: "file://{{work}}/motd-{{host.name}}", timeout: 5 }
        when: "false"
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(readFileSync(join(p.work, 'motd-h2'), 'utf8'), 'welcome\n');
  assert.is(readFileSync(join(p.work, 'on-controller'), 'utf8'), 'welcome\n');
  const missing = p.write('pb2.yml', `name: c
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { src: files/nope, dest: "{{work}}/x" }
`);
  const m = cli(['run', missing, '-i', p.inventory, '--json']);
  assert.is(m.code, 2);
  assert.match(events(m.stdout).tasks[0]!.msg, /files\/nope not found on the controller/);
});

test('wait-for: fails after its timeout when nothing listens; check mode tries once and passes', async () => {
  const net = await import('node:net');
  const server = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await new Promise((res) => server.once('listening', res));
  const port = (server.address() as { port: number }).port;
  const p = project(1);
  const pb = p.write('pb.yml', `name: w
plays:
  - name: p
    hosts: web
    tasks:
      - wait-for: { port: ${port}, timeout: 5 }
      - wait-for: { host: 127.0.0.1, port: 1, timeout: 1, interval: 0.2 }
`);
  // spawnSync would block this process' event loop (and the server): run the CLI asynchronously.
  const { cliAsync } = await import('./cli-helpers.js');
  const child = cliAsync(['run', pb, '-i', p.inventory, '--json']);
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
  server.close();
  assert.is(code, 2, out);
  const ev = events(out).tasks;
  assert.is(ev[0]!.status, 'ok');
  assert.is(ev[1]!.status, 'failed');
  assert.match(ev[1]!.msg, /not up after 1s/);
});

test('SIGINT: no new task starts, the run ends with a recap and exit 130', async () => {
  const p = project(1);
  const pb = p.write('pb.yml', `name: s
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "touch {{work}}/started; sleep 1.5; touch {{work}}/first-done" }
      - command: { cmd: "touch {{work}}/second" }
`);
  const { cliAsync } = await import('./cli-helpers.js');
  const child = cliAsync(['run', pb, '-i', p.inventory, '--json']);
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  while (!existsSync(join(p.work, 'started'))) await new Promise((res) => setTimeout(res, 50));
  child.kill('SIGINT');
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
  assert.is(code, 130);
  assert.is(existsSync(join(p.work, 'first-done')), true, 'the running task finished');
  assert.is(existsSync(join(p.work, 'second')), false, 'no new task started');
  assert.ok(out.trim().split('\n').pop()!.includes('"event":"recap"'));
});

test.run();
