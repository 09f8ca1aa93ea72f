// `ping` against real sshd on loopback: one line per host in inventory order, reasons for the
// unreachable ones, exit 0/4, and input errors before any connection.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ping } from '../../runner/engine/ping.js';
import { loadInventory } from '../../runner/model/inventory.js';
import { InputError } from '../../runner/errors.js';
import { freePort, keygen, knownHostsFor, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const dir = scratch();
let a: Sshd;
let b: Sshd;
let inv: string;
let dead: number;

test.before(async () => {
  const key = { path: join(dir, 'id'), pub: keygen(join(dir, 'id')) };
  a = await startSshd([key]);
  b = await startSshd([key]);
  dead = await freePort();
  writeFileSync(join(dir, 'known_hosts'), knownHostsFor(a)); // b's key is not known
  inv = join(dir, 'inv.yml');
  writeFileSync(
    inv,
    [
      'defaults:',
      '  user: root',
      `  ssh_key_path: ${key.path}`,
      `  known_hosts: ${join(dir, 'known_hosts')}`,
      'jump_hosts:',
      `  bastion: { address: 127.0.0.1, port: ${a.port}, user: root }`,
      'hosts:',
      `  zeta: { address: 127.0.0.1, port: ${a.port} }`,
      `  alpha: { address: 127.0.0.1, port: ${dead} }`,
      `  behind: { address: 127.0.0.1, port: ${a.port}, jump: bastion }`,
      `  newkey: { address: 127.0.0.1, port: ${b.port} }`,
      'groups:',
      '  good: { hosts: [zeta, behind] }',
      '',
    ].join('\n'),
  );
});

test.after(async () => {
  await a.stop();
  await b.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('text: one line per host in inventory order with ok+ms or unreachable+reason; exit 4', async () => {
  const lines: string[] = [];
  const code = await ping(loadInventory(inv), { acceptNewHostKeys: false, json: false, forks: 4, out: (l) => lines.push(l) });
  assert.is(code, 4);
  assert.is(lines.length, 4, 'implicit localhost is not pinged');
  assert.match(lines[0]!, /^zeta\s+ok\s+\d+ ms$/);
  assert.match(lines[1]!, new RegExp(`^alpha\\s+unreachable \\(refused\\): connect to 127.0.0.1:${dead}: connection refused$`));
  assert.match(lines[2]!, /^behind\s+ok\s+\d+ ms$/);
  assert.match(lines[3]!, /^newkey\s+unreachable \(host-key\): host key for newkey .* is not known; rerun with --accept-new-host-keys$/);
});

test('--json, --limit by group: exit 0 when every selected host answers', async () => {
  const lines: string[] = [];
  const code = await ping(loadInventory(inv), { acceptNewHostKeys: false, json: true, limit: ['good'], out: (l) => lines.push(l) });
  assert.is(code, 0);
  const rows = lines.map((l) => JSON.parse(l) as { host: string; status: string; ms: number });
  assert.equal(rows.map((r) => [r.host, r.status]), [['zeta', 'ok'], ['behind', 'ok']]);
  assert.ok(rows.every((r) => Number.isInteger(r.ms)));
});

test('--accept-new-host-keys lets the new host in and records its key', async () => {
  const lines: string[] = [];
  const code = await ping(loadInventory(inv), { acceptNewHostKeys: true, json: false, limit: ['newkey'], out: (l) => lines.push(l) });
  assert.is(code, 0, lines.join('\n'));
  const again: string[] = [];
  assert.is(await ping(loadInventory(inv), { acceptNewHostKeys: false, json: false, limit: ['newkey'], out: (l) => again.push(l) }), 0);
});

test('an unknown --limit name is an input error before anything connects', async () => {
  const lines: string[] = [];
  const loaded = loadInventory(inv);
  try {
    await ping(loaded, { acceptNewHostKeys: false, json: false, limit: ['nosuch'], out: (l) => lines.push(l) });
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, InputError);
    assert.match((e as Error).message, /nosuch/);
  }
  assert.equal(lines, []);
});

test.run();
