// Ansible inventories (INI and YAML) accepted by `-i`: they must resolve to exactly the hosts,
// groups, vars and connection specs of the equivalent native inventory, and constructs we
// cannot honour must be refused with file:line:column.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  convertAnsibleInventory, expandHostPattern, isAnsibleInventory, jumpFromSshArgs, loadAnsibleInventory, parsePythonLiteral,
} from '../../runner/ansible-inventory.js';
import { loadInventory } from '../../runner/inventory.js';
import { InputError } from '../../runner/errors.js';
import type { Inventory } from '../../runner/types.js';

const FIX = 'test/fixtures/ansible';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InputError) return e.message.split('\n');
    throw e;
  }
  assert.unreachable('expected an InputError');
  return [];
}

/** Everything a run depends on, independent of which file format it came from. */
function resolved(inv: Inventory): unknown {
  const hosts = [...inv.hosts.values()].map((h) => ({ name: h.name, conn: h.conn, vars: h.vars, groups: h.groups }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const groups = [...inv.groups.values()].map((g) => ({ name: g.name, hosts: [...g.hosts].sort(), vars: g.vars }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { hosts, groups, vars: inv.vars };
}

test('format detection: native inventories stay native, Ansible INI/YAML are recognised', () => {
  assert.ok(isAnsibleInventory('[rancher]\nnode1\n'));
  assert.ok(isAnsibleInventory('[rancher]\nnode1:2222 ansible_user=ops\n[rancher:vars]\nx=1\n'));
  assert.ok(isAnsibleInventory('node1 ansible_host=10.0.0.1\nnode2\n'));
  assert.ok(isAnsibleInventory('all:\n  hosts:\n    node1:\n'));
  assert.ok(isAnsibleInventory('rancher:\n  hosts:\n    node1:\n  vars: { a: 1 }\n'));
  assert.ok(isAnsibleInventory('plugin: aws_ec2\n'));
  assert.not.ok(isAnsibleInventory('hosts:\n  node1: { address: 10.0.0.1 }\n'));
  assert.not.ok(isAnsibleInventory('defaults: { user: x }\nhosts:\n  n: {}\n'));
  assert.not.ok(isAnsibleInventory('hosts:\n  node1:\ngroups:\n  g: { hosts: [node1] }\n'));
});

test('INI and YAML fixtures convert to the same native document', () => {
  const ini = loadAnsibleInventory(join(FIX, 'hosts.ini'));
  const yml = loadAnsibleInventory(join(FIX, 'hosts.yml'));
  assert.is(ini.format, 'ini');
  assert.is(yml.format, 'yaml');
  const norm = (d: unknown) => JSON.parse(JSON.stringify(d, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
  assert.equal(norm(ini.doc), norm(yml.doc));
  // The ProxyJump target is an inventory host, so it becomes a named jump host with its own key.
  assert.equal(ini.doc.jump_hosts.bastion1, { address: '203.0.113.10', user: 'ops', ssh_key_path: '/keys/bastion' });
  assert.is(ini.doc.hosts.node2!.jump, 'bastion1');
  assert.equal(ini.doc.groups.cluster!.hosts, ['node1', 'node2', 'node3', 'lb1']);
});

test('Ansible INI and YAML resolve to the same hosts, groups and connection specs as the native inventory', () => {
  const native = resolved(loadInventory(join(FIX, 'native.yml')));
  assert.equal(resolved(loadInventory(join(FIX, 'hosts.ini'))), native);
  assert.equal(resolved(loadInventory(join(FIX, 'hosts.yml'))), native);
  const inv = loadInventory(join(FIX, 'hosts.ini'));
  const node1 = inv.hosts.get('node1')!.conn;
  assert.is(node1.jump.length, 1);
  assert.is(node1.jump[0]!.address, '203.0.113.10');
  assert.is(node1.jump[0]!.user, 'ops');
  assert.is(node1.jump[0]!.ssh_key_path, '/keys/bastion');
  assert.is(inv.hosts.get('lb1')!.conn.become, true);
});

test('host ranges, host:port, Python literals and connection aliases', () => {
  assert.equal(expandHostPattern('node[01:03].lab'), ['node01.lab', 'node02.lab', 'node03.lab']);
  assert.equal(expandHostPattern('db-[a:c]'), ['db-a', 'db-b', 'db-c']);
  assert.equal(expandHostPattern('w[1:9:4]'), ['w1', 'w5', 'w9']);
  assert.equal(parsePythonLiteral("['a', \"b\", 3, True, None]"), ['a', 'b', 3, true, null]);
  assert.equal(parsePythonLiteral("{'k': (1, 2)}"), { k: [1, 2] });
  assert.is(parsePythonLiteral('true'), 'true', 'Ansible keeps lower-case true as a string');
  assert.is(parsePythonLiteral('10.0.0.1'), '10.0.0.1');
  const { doc } = convertAnsibleInventory(
    'web1:2222 ansible_ssh_host=10.1.1.1 ansible_ssh_user=deploy ansible_sudo=yes count=3 label="a b"\n' +
    '[g]\nlocalhost\n', 'inv.ini');
  assert.equal(doc.hosts.web1, { address: '10.1.1.1', port: 2222, user: 'deploy', become: true, vars: { count: 3, label: 'a b' } });
  assert.equal(doc.hosts.localhost, { address: 'localhost', connection: 'local' });
});

test('group var precedence follows Ansible: deeper groups win, then alphabetical', () => {
  const text = [
    '[all:vars]', 'color=grey', '',
    '[a]', 'h1', '[b]', 'h1', '[parent:children]', 'a', '',
    '[a:vars]', 'color=red', '[b:vars]', 'color=blue', '[parent:vars]', 'color=green',
  ].join('\n');
  const { doc } = convertAnsibleInventory(text, 'prec.ini');
  // a is deeper (under parent) than b, so a wins although b sorts later.
  assert.equal(doc.hosts.h1!.vars, { color: 'red' });
  assert.equal(doc.vars, { color: 'grey' });
  // Same depth: the alphabetically later group wins.
  const same = convertAnsibleInventory(text.replace('[parent:children]\na', '[parent:children]\na\nb'), 'prec.ini');
  assert.equal(same.doc.hosts.h1!.vars, { color: 'blue' });
  // One group only: nothing to pin, the group var applies through the group.
  assert.is(convertAnsibleInventory('[a]\nh1\n[a:vars]\ncolor=red\n', 'x.ini').doc.hosts.h1!.vars, undefined);
});

test('jump hosts from ssh args: ProxyJump, -J, multi-hop and ProxyCommand ssh -W', () => {
  assert.equal(jumpFromSshArgs('-o ProxyJump=ops@b1:2222,b2').jump, ['ops@b1:2222', 'b2']);
  assert.equal(jumpFromSshArgs('-J ops@b1 -o StrictHostKeyChecking=no').jump, ['ops@b1']);
  assert.equal(jumpFromSshArgs("-o ProxyCommand='ssh -W %h:%p -q -p 2200 ops@bastion'").jump, ['ops@bastion:2200']);
  assert.match(jumpFromSshArgs('-o ProxyCommand="nc -x p:1080 %h %p"').unsupported ?? '', 'ProxyCommand');
  assert.match(jumpFromSshArgs('-L 8080:localhost:80').unsupported ?? '', '-L');
  // An ad-hoc jump that is not an inventory host stays a `user@host:port` spec.
  const { doc } = convertAnsibleInventory("n1 ansible_ssh_common_args='-J root@198.51.100.1:2222'\n", 'i.ini');
  assert.is(doc.hosts.n1!.jump, 'root@198.51.100.1:2222');
});

test('UserKnownHostsFile in ssh args becomes the inventory known_hosts; conflicting files are refused', () => {
  const one = convertAnsibleInventory("[all:vars]\nansible_ssh_common_args='-o UserKnownHostsFile=/ops/known_hosts -o ProxyJump=ops@b1'\n[g]\nn1\nn2\n", 'kh.ini');
  assert.equal(one.doc.defaults, { known_hosts: '/ops/known_hosts', jump: 'ops@b1' });
  const same = convertAnsibleInventory("n1 ansible_ssh_common_args='-o UserKnownHostsFile=/k'\nn2 ansible_ssh_common_args='-o UserKnownHostsFile=/k'\n", 'kh.ini');
  assert.is(same.doc.defaults?.known_hosts, '/k');
  const text = problems(() => convertAnsibleInventory("n1 ansible_ssh_common_args='-o UserKnownHostsFile=/a'\nn2 ansible_ssh_common_args='-o UserKnownHostsFile=/b'\n", 'kh.ini')).join('\n');
  assert.match(text, /kh\.ini:\d+:\d+ UserKnownHostsFile rancher-play uses one known_hosts file/);
});

test('unsupported INI constructs are refused with file:line:column and the key', () => {
  const out = problems(() => loadAnsibleInventory(join(FIX, 'bad.ini')));
  const text = out.join('\n');
  assert.match(text, /bad\.ini:2:\d+ ansible_connection ansible_connection=winrm is not supported/);
  assert.match(text, /bad\.ini:5:\d+ ansible_ssh_pass password authentication is not supported/);
  assert.match(text, /bad\.ini:6:1 node\[3:1\] range start after end/);
  assert.match(text, /bad\.ini:8:1 rancher:weird unsupported section type/);
  assert.not.match(text, /hunter2/, 'a password never appears in the message');
});

test('unsupported YAML constructs: ProxyCommand other than ssh -W, !vault, unknown group keys', () => {
  const text = problems(() => loadAnsibleInventory(join(FIX, 'bad.yml'))).join('\n');
  assert.match(text, /bad\.yml:7:11 ansible_ssh_common_args unsupported ProxyCommand/);
  assert.match(text, /bad\.yml:9:\d+ all\.children\.rancher\.hosts\.node2\.ansible_become_password vaulted values/);
  assert.match(text, /bad\.yml:12:7 all\.children\.rancher\.hots unknown group key/);
  assert.not.match(text, /6231/);
});

test('dynamic inventory scripts, inventory plugins and vaulted files get a clear message', () => {
  assert.match(problems(() => loadAnsibleInventory(join(FIX, 'dynamic.py'))).join(''), /dynamic\.py:1:1 dynamic inventory scripts are not supported/);
  assert.match(problems(() => convertAnsibleInventory('plugin: amazon.aws.aws_ec2\nregions: [x]\n', 'aws_ec2.yml')).join(''),
    /aws_ec2\.yml:1:1 plugin inventory plugins/);
  assert.match(problems(() => convertAnsibleInventory('$ANSIBLE_VAULT;1.1;AES256\n3135\n', 'v.yml')).join(''), /vault-encrypted/);
});

test('the CLI accepts an Ansible inventory and rejects a bad one with exit 5 before connecting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jump-ansible-'));
  try {
    writeFileSync(join(dir, 'hosts.ini'), '[rancher]\nnode1 ansible_host=10.9.9.9 ansible_connection=winrm\n');
    const bad = spawnSync(process.execPath, ['bin/rancher-play.js', 'inventory', '-i', join(dir, 'hosts.ini')], { encoding: 'utf8' });
    assert.is(bad.status, 5, bad.stderr);
    assert.match(bad.stderr + bad.stdout, /hosts\.ini:2:\d+ ansible_connection .*winrm/);
    const ok = spawnSync(process.execPath, ['bin/rancher-play.js', 'inventory', '-i', join(FIX, 'hosts.yml')], { encoding: 'utf8' });
    assert.is(ok.status, 0, ok.stderr);
    for (const h of ['node1', 'node2', 'node3', 'lb1']) assert.match(ok.stdout, h);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
