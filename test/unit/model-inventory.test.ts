// Inventory: defaults, ~ expansion, jump chains, groups, selection patterns, --limit, secrets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join, resolve } from 'node:path';
import { loadInventory, selectHosts, applyLimit, parseAdHoc } from '../../runner/model/inventory.js';
import { InputError } from '../../runner/errors.js';

const fx = resolve('test/fixtures/model/good/inventory.yml');
const home = '/home/tester';
const inv = loadInventory(fx, { home });

test('defaults apply, ~ expands to the home, relative key paths resolve against the inventory dir', () => {
  const n1 = inv.hosts.get('node1')!.conn;
  assert.equal(n1.user, 'rancher');
  assert.equal(n1.port, 22);
  assert.equal(n1.address, '10.0.0.11');
  assert.equal(n1.ssh_key_path, '/home/tester/.ssh/id_rsa');
  assert.equal(n1.known_hosts, '/home/tester/.ssh/known_hosts');
  assert.equal(n1.connect_timeout_ms, 10_000);
  assert.equal(inv.hosts.get('node2')!.conn.port, 2222);
  const bastion = n1.jump[1]!;
  assert.equal(bastion.ssh_key_path, join(resolve('test/fixtures/model/good'), 'keys/bastion'));
});

test('jump chains: named jump with its own jump, ad-hoc user@host:port, explicit empty list', () => {
  const n1 = inv.hosts.get('node1')!.conn;
  assert.equal(n1.jump.map((j) => j.name), ['outer', 'bastion']);
  assert.equal(n1.jump.map((j) => `${j.user}@${j.address}:${j.port}`), ['gate@198.51.100.1:22', 'ops@203.0.113.10:22']);
  assert.equal(n1.jump[1]!.jump.map((j) => j.name), ['outer']);
  const n3 = inv.hosts.get('node3')!.conn;
  assert.equal(n3.jump.map((j) => j.name), ['outer', 'bastion', 'root@10.9.9.9:2200']);
  assert.equal(n3.jump[2]!.port, 2200);
  assert.equal(n3.jump[2]!.user, 'root');
  assert.equal(inv.hosts.get('lb1')!.conn.jump, []);
  assert.equal(inv.hosts.get('lb1')!.conn.become, true);
});

test('localhost always exists with connection local, but is not part of all', () => {
  assert.equal(inv.hosts.get('localhost')!.conn.connection, 'local');
  assert.not.ok(inv.groups.get('all')!.hosts.includes('localhost'));
  assert.equal(selectHosts(inv, ['localhost']), ['localhost']);
});

test('groups, host group lists, selection patterns', () => {
  assert.equal(inv.hosts.get('lb1')!.groups, ['lb', 'zz']);
  assert.equal(selectHosts(inv, ['rancher']), ['node1', 'node2', 'node3']);
  assert.equal(selectHosts(inv, ['all']), ['node1', 'node2', 'node3', 'lb1']);
  assert.equal(selectHosts(inv, ['all', '!rancher']), ['lb1']);
  assert.equal(selectHosts(inv, ['node*']), ['node1', 'node2', 'node3']);
  assert.equal(selectHosts(inv, ['rancher,lb']), ['node1', 'node2', 'node3', 'lb1']);
  assert.equal(selectHosts(inv, ['rancher', '&node?', '!node2']), ['node1', 'node3']);
  assert.equal(selectHosts(inv, ['lb', '!zz']), []);
});

test('a pattern that matches nothing warns (with a did-you-mean) and selects nothing', () => {
  const warnings: string[] = [];
  assert.equal(selectHosts(inv, ['ranchr'], { file: 'p.yml', line: 3, col: 5 }, 'hosts', (w) => warnings.push(w)), []);
  assert.equal(warnings, ['Could not match supplied host pattern, ignoring: ranchr (did you mean "rancher"?)']);
});

test('--limit: the last one wins, unknown names warn, an empty selection is an error', () => {
  const hosts = selectHosts(inv, ['all']);
  assert.equal(applyLimit(inv, hosts, ['node2,lb']), ['node2', 'lb1']);
  assert.equal(applyLimit(inv, hosts, ['rancher', 'node3']), ['node3']);
  assert.equal(applyLimit(inv, hosts, undefined), hosts);
  const warnings: string[] = [];
  assert.equal(applyLimit(inv, hosts, ['node1,nod9'], (w) => warnings.push(w)), ['node1']);
  assert.match(warnings.join('\n'), /ignoring: nod9/);
  assert.throws(() => applyLimit(inv, hosts, ['nod9']), (e: unknown) => e instanceof InputError && /--limit .*ignoring: nod9[^]*no hosts to target/.test(e.message));
});

test('secrets: the secret list and !secret tags', () => {
  assert.ok(inv.secrets.has('api_token'));
  assert.ok(inv.secrets.has('db_password'));
  assert.is(inv.vars.db_password, 'hunter22');
});

test('ad-hoc jump spec parsing', () => {
  assert.equal(parseAdHoc('ops@10.0.0.1:2222'), { user: 'ops', address: '10.0.0.1', port: 2222 });
  assert.equal(parseAdHoc('[fd00::1]:22'), { user: undefined, address: 'fd00::1', port: 22 });
  assert.is(parseAdHoc('a b'), undefined);
  assert.is(parseAdHoc('x:99999'), undefined);
});

test.run();
