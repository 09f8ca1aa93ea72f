// Ansible inventories (INI and YAML) accepted by `-i`: they must resolve to exactly the hosts,
// groups, vars and connection specs of the equivalent native inventory, and constructs we
// cannot honour must be refused with file:line:column. (test/compat/ compares many more
// inventories with ansible-inventory itself.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import {
  convertAnsibleInventory, expandHostPattern, iniValue, isAnsibleInventory, jumpFromSshArgs, loadAnsibleInventory, sshArgsMeaning,
} from '../../runner/model/ansible/index.js';
import { shlexSplit } from '../../runner/model/ansible/shlex.js';
import { loadInventory } from '../../runner/model/inventory.js';
import { mergedVars } from '../../runner/model/vars.js';
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
  const hosts = [...inv.hosts.values()].map((h) => ({ name: h.name, conn: h.conn, vars: mergedVars(inv, h.name, {}, {}, {}), groups: h.groups }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const groups = [...inv.groups.values()].map((g) => ({ name: g.name, hosts: [...g.hosts].sort() }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return { hosts, groups };
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
  // `-J bastion1` connects to the name bastion1, as ssh would (not to the inventory host's address).
  assert.equal(ini.doc.jump_hosts.bastion1, { address: 'bastion1' });
  assert.is(ini.doc.hosts.lb1!.jump, 'bastion1');
  assert.is(ini.doc.hosts.node2!.jump, 'ops@203.0.113.10:22');
  assert.equal(ini.doc.groups.cluster!.hosts, ['node1', 'node2', 'node3', 'lb1']);
});

test('Ansible INI and YAML resolve to the same hosts, groups and connection specs as the native inventory', () => {
  const native = resolved(loadInventory(join(FIX, 'native.yml')));
  assert.equal(resolved(loadInventory(join(FIX, 'hosts.ini'))), native);
  assert.equal(resolved(loadInventory(join(FIX, 'hosts.yml'))), native);
  const inv = loadInventory(join(FIX, 'hosts.ini'));
  const node1 = inv.hosts.get('node1')!.conn;
  assert.is(node1.user, 'rancher');
  assert.is(node1.jump.length, 1);
  assert.is(node1.jump[0]!.address, '203.0.113.10');
  assert.is(node1.jump[0]!.user, 'ops');
  // The key set for all hosts is offered to the jump host too.
  assert.is(node1.jump[0]!.ssh_key_path, '/keys/id_ed25519');
  assert.is(inv.hosts.get('lb1')!.conn.become, true);
});

test('a ProxyJump hop gets neither the inventory-wide user nor its port', () => {
  const { doc } = convertAnsibleInventory("[all:vars]\nansible_user=rancher\nansible_port=2222\nansible_ssh_common_args='-J bastion.example.com'\n[g]\nn1\n", 'j.ini');
  assert.equal(doc.hosts.n1, { address: 'n1', port: 2222, user: 'rancher', connection: 'ssh', jump: 'bastion.example.com' });
  assert.is(doc.defaults?.user, undefined);
  assert.is(doc.defaults?.port, undefined);
});

test('host patterns, ranges and Python literals as Ansible reads them', () => {
  assert.equal(expandHostPattern('node[01:03].lab'), { names: ['node01.lab', 'node02.lab', 'node03.lab'], port: undefined });
  assert.equal(expandHostPattern('db-[a:c]'), { names: ['db-a', 'db-b', 'db-c'], port: undefined });
  assert.equal(expandHostPattern('w[1:9:4]:2222'), { names: ['w1', 'w5', 'w9'], port: 2222 });
  assert.equal(expandHostPattern('[2001:db8::1]:2200'), { names: ['2001:db8::1'], port: 2200 });
  assert.equal(expandHostPattern('fe80::1'), { names: ['fe80::1'], port: undefined });
  assert.throws(() => expandHostPattern('node[01:3]'), /equal-length/);
  assert.equal(iniValue("['a', \"b\", 3, True, None]"), ['a', 'b', 3, true, null]);
  assert.equal(iniValue("{'k': (1, 2)}"), { k: [1, 2] });
  assert.equal(iniValue('1, 2'), [1, 2], 'a bare tuple is a list');
  assert.is(iniValue('8080  # port'), 8080, 'a comment after a literal is dropped');
  assert.is(iniValue('hello # note'), 'hello # note', 'a comment after a non-literal is kept');
  assert.is(iniValue('true'), 'true', 'Ansible keeps lower-case true as a string');
  assert.is(iniValue('0644'), '0644', 'leading zeros are a syntax error in Python 3');
  assert.is(iniValue('0o644'), 420);
  assert.is(iniValue("'a' 'b'"), 'ab', 'adjacent strings concatenate');
  assert.is(iniValue('10.0.0.1'), '10.0.0.1');
  assert.is(iniValue('-5'), -5);
  assert.is(iniValue('--5'), '--5');
  assert.throws(() => iniValue('{1, 2}'), /a set/);
  assert.equal(shlexSplit('web1 a=b#c d=e', true).map((t) => t.text), ['web1', 'a=b'], '# ends a word in shlex');
  assert.equal(shlexSplit(`x="a \\"b\\" \\c" y='\\n'`, false).map((t) => t.text), ['x=a "b" \\c', 'y=\\n']);
  const { doc } = convertAnsibleInventory('web1:2222 ansible_host=10.1.1.1 ansible_ssh_host=10.2.2.2 ansible_user=deploy ansible_become=yes count=3 label="a b"\n[g]\nlocalhost\n', 'inv.ini');
  assert.equal(doc.hosts.web1, { address: '10.2.2.2', port: 2222, user: 'deploy', connection: 'ssh', become: true, vars: { count: 3, label: 'a b' } });
  // An inventory localhost is reached over ssh unless it says ansible_connection=local.
  assert.equal(doc.hosts.localhost, { address: 'localhost', connection: 'ssh' });
});

test('group var precedence follows Ansible: depth, then ansible_group_priority, then code-point name order', () => {
  const text = [
    '[all:vars]', 'color=grey', '',
    '[a]', 'h1', '[B]', 'h1', '[parent:children]', 'a', '',
    '[a:vars]', 'color=red', '[B:vars]', 'color=blue', '[parent:vars]', 'color=green',
  ].join('\n');
  const vars = (t: string) => {
    const file = join(dir, 'prec.ini');
    writeFileSync(file, t);
    const inv = loadInventory(file);
    return mergedVars(inv, 'h1', {}, {}, {});
  };
  const dir = mkdtempSync(join(tmpdir(), 'jump-ansible-'));
  try {
    // a is deeper (under parent) than B, so a wins.
    assert.equal(vars(text), { color: 'red' });
    // Same depth: "B" sorts before "a" by code point, so a wins (localeCompare would pick B).
    assert.equal(vars(text.replace('[parent:children]\na', '[parent:children]\na\nB')), { color: 'red' });
    // A higher priority at the same depth wins, and the priority is not a variable.
    const pri = vars('[a]\nh1\n[b]\nh1\n[a:vars]\ncolor=red\nansible_group_priority=5\n[b:vars]\ncolor=blue\n');
    assert.equal(pri, { color: 'red' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('jump hosts from ssh args: ProxyJump, -J, multi-hop, ProxyCommand ssh -W; the first setting wins', () => {
  assert.equal(jumpFromSshArgs('-o ProxyJump=ops@b1:2222,b2').jump, ['ops@b1:2222', 'b2']);
  assert.equal(jumpFromSshArgs('-J ops@b1 -o StrictHostKeyChecking=no').jump, ['ops@b1']);
  assert.equal(jumpFromSshArgs("-o ProxyCommand='ssh -W %h:%p -q -p 2200 ops@bastion'").jump, ['ops@bastion:2200']);
  assert.match(jumpFromSshArgs('-o ProxyCommand="nc -x p:1080 %h %p"').unsupported ?? '', 'ProxyCommand');
  assert.match(jumpFromSshArgs('-L 8080:localhost:80').unsupported ?? '', '-L');
  assert.equal(sshArgsMeaning(['-o ProxyJump=first', '-o ProxyJump=second']).jump, ['first']);
  assert.equal(sshArgsMeaning(['-o ProxyJump=none', '-o ProxyJump=other']).jump, []);
  assert.match(sshArgsMeaning(['-o ProxyJump=a', '-J b']).unsupported ?? '', 'ssh refuses it');
  assert.is(sshArgsMeaning(['-o StrictHostKeyChecking=yes']).jump, undefined);
  // A host's common args and a group's extra args are different variables: both apply.
  const { doc } = convertAnsibleInventory("[g]\nn1 ansible_ssh_common_args='-o ServerAliveInterval=5'\n[g:vars]\nansible_ssh_extra_args='-J ops@b1'\n", 'i.ini');
  assert.is(doc.hosts.n1!.jump, 'ops@b1');
});

test('UserKnownHostsFile in ssh args becomes the inventory known_hosts; conflicting files are refused', () => {
  const one = convertAnsibleInventory("[all:vars]\nansible_ssh_common_args='-o UserKnownHostsFile=/ops/known_hosts -o ProxyJump=ops@b1'\n[g]\nn1\nn2\n", 'kh.ini');
  assert.equal(one.doc.defaults, { known_hosts: '/ops/known_hosts' });
  assert.is(one.doc.hosts.n1!.jump, 'ops@b1');
  const same = convertAnsibleInventory("n1 ansible_ssh_common_args='-o UserKnownHostsFile=/k'\nn2 ansible_ssh_common_args='-o UserKnownHostsFile=/k'\n", 'kh.ini');
  assert.is(same.doc.defaults?.known_hosts, '/k');
  const text = problems(() => convertAnsibleInventory("n1 ansible_ssh_common_args='-o UserKnownHostsFile=/a'\nn2 ansible_ssh_common_args='-o UserKnownHostsFile=/b'\n", 'kh.ini')).join('\n');
  assert.match(text, /kh\.ini:\d+:\d+ UserKnownHostsFile rancher-play uses one known_hosts file/);
});

test('unsupported INI constructs are refused with file:line:column and the key', () => {
  const text = problems(() => loadAnsibleInventory(join(FIX, 'bad.ini'))).join('\n');
  assert.match(text, /bad\.ini:2:28 ansible_connection ansible_connection=winrm is not supported/);
  assert.match(text, /bad\.ini:5:30 ansible_ssh_pass password authentication is not supported/);
  assert.match(text, /bad\.ini:6:\d+ ansible_become_user become_user "postgres" is not supported/);
  assert.not.match(text, /hunter2/, 'a password never appears in the message');
  // Errors Ansible itself raises stop the reading there, as in Ansible.
  assert.equal(problems(() => convertAnsibleInventory('[web]\nw1\n[web:weird]\nx\n', 'w.ini')), ['w.ini:3:1 Section [web:weird] has unknown type: weird']);
  assert.equal(problems(() => convertAnsibleInventory('[c:children]\nmissing\n', 'c.ini')), ['c.ini:2:1 missing Section [c:children] includes undefined group: missing']);
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
    writeFileSync(join(dir, 'undef.ini'), '[rancher:children]\nnodes\n');
    const undef = spawnSync(process.execPath, ['bin/rancher-play.js', 'inventory', '-i', join(dir, 'undef.ini')], { encoding: 'utf8' });
    assert.is(undef.status, 5, undef.stderr);
    assert.match(undef.stderr + undef.stdout, /undef\.ini:2:1 .*includes undefined group: nodes/);
    // Ansible would also read group_vars/ beside the inventory: refused, not silently missed.
    mkdirSync(join(dir, 'group_vars'));
    writeFileSync(join(dir, 'ok.ini'), '[rancher]\nnode1\n');
    const gv = spawnSync(process.execPath, ['bin/rancher-play.js', 'inventory', '-i', join(dir, 'ok.ini')], { encoding: 'utf8' });
    assert.is(gv.status, 5, gv.stderr);
    assert.match(gv.stderr + gv.stdout, /ok\.ini:1:1 group_vars group_vars\/ beside the inventory is not read/);
    const ok = spawnSync(process.execPath, ['bin/rancher-play.js', 'inventory', '-i', join(FIX, 'hosts.yml')], { encoding: 'utf8' });
    assert.is(ok.status, 0, ok.stderr);
    for (const h of ['node1', 'node2', 'node3', 'lb1']) assert.match(ok.stdout, h);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
