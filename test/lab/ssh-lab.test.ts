// The SSH transport through the CLI against the lab: real sshd in network + mount namespaces,
// nodes reachable only through the bastion.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, sshConfig, sshVia, useLab, type LabInfo } from './_lab.js';
import { fingerprint } from '../../runner/transport/known-hosts.js';

const NAME = 'sx';
const root = join(import.meta.dirname, '..', '..');
let info: LabInfo;
let dir: string;
let cfg: string;

interface Ev {
  event: string;
  host?: string;
  status?: string;
  changed?: boolean;
  msg?: string;
  task?: string;
  hosts?: Record<string, { ok: number; changed: number; failed: number; skipped: number; unreachable: number }>;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [join(root, 'bin', 'rancher-play.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', CI: '1', ...env },
    timeout: 180_000,
  });
  const events: Ev[] = (r.stdout ?? '')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Ev);
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', events };
}

const recap = (evs: Ev[]) => evs.find((e) => e.event === 'recap')!.hosts!;
const node = (i: number) => info.nodes[i - 1]!.address;
const asRoot = (i: number, cmd: string) => sshVia(info, 'root', node(i), cmd, cfg);

/** An inventory like the lab's own, with overrides (YAML text appended under hosts etc.). */
function inventory(file: string, text: string): string {
  const p = join(dir, file);
  writeFileSync(p, text);
  return p;
}

function labInventory(knownHosts = info.knownHosts): string {
  return [
    'defaults:',
    '  user: rancher',
    `  ssh_key_path: ${info.sshKey}`,
    `  known_hosts: ${knownHosts}`,
    '  connect_timeout: 5',
    '  jump: bastion',
    'jump_hosts:',
    `  bastion: { address: ${info.bastion.address}, port: ${info.bastion.port}, user: rancher }`,
    'hosts:',
    ...info.nodes.map((n) => `  ${n.name}: { address: ${n.address} }`),
    'groups:',
    `  rancher: { hosts: [${info.nodes.map((n) => n.name).join(', ')}] }`,
    'vars:',
    '  fqdn: rancher.lab.test',
    '',
  ].join('\n');
}

function playbook(file: string, tasks: string, hosts = 'rancher'): string {
  const p = join(dir, file);
  writeFileSync(p, `name: ssh acceptance\nplays:\n  - name: p\n    hosts: ${hosts}\n    tasks:\n${tasks}`);
  return p;
}

test.before(async () => {
  info = await useLab(NAME);
  dir = mkdtempSync(join(tmpdir(), 'rp-sshlab-'));
  cfg = sshConfig(info);
});

test.after(async () => {
  await lab.labDown(NAME);
  rmSync(dir, { recursive: true, force: true });
});

test('1. through the bastion: command/copy/render-template with become as rancher; second run changes nothing', () => {
  writeFileSync(join(dir, 'app.conf.hbs'), 'fqdn={{ fqdn }}\nhost={{ host.name }}\n');
  const pb = playbook(
    'p1.yml',
    [
      '      - name: config dir',
      '        command: { cmd: "mkdir -p /etc/rp-ssh", creates: /etc/rp-ssh }',
      '        become: true',
      '      - name: owner file',
      '        copy: { content: "node {{ host.name }}\\n", dest: /etc/rp-ssh/owner.txt, mode: "0600", owner: "root:root" }',
      '        become: true',
      '      - name: rendered',
      '        render-template: { src: app.conf.hbs, dest: /etc/rp-ssh/app.conf, mode: "0644" }',
      '        become: true',
      '      - name: who',
      '        command: { cmd: "id -un", changed_when: false }',
      '        become: true',
      '',
    ].join('\n'),
  );
  const inv = inventory('lab.yml', labInventory());
  const first = cli(['run', pb, '-i', inv, '--json']);
  assert.is(first.code, 0, first.stdout + first.stderr);
  for (const n of info.nodes) {
    assert.is(recap(first.events)[n.name]!.changed, 3, `${n.name} changed 3`);
  }
  for (let i = 1; i <= 3; i++) {
    assert.is(asRoot(i, 'cat /etc/rp-ssh/owner.txt').stdout, `node node${i}\n`);
    assert.is(asRoot(i, 'stat -c "%a %U" /etc/rp-ssh/owner.txt /etc/rp-ssh/app.conf').stdout, '600 root\n644 root\n');
    assert.is(asRoot(i, 'cat /etc/rp-ssh/app.conf').stdout, `fqdn=rancher.lab.test\nhost=node${i}\n`);
    assert.is(asRoot(i, 'ls -a /etc/rp-ssh').stdout, '.\n..\napp.conf\nowner.txt\n', 'no temp files left');
  }
  const second = cli(['run', pb, '-i', inv, '--json']);
  assert.is(second.code, 0, second.stdout + second.stderr);
  for (const n of info.nodes) assert.is(recap(second.events)[n.name]!.changed, 0, `${n.name} unchanged`);
  assert.ok(second.events.filter((e) => e.event === 'task').every((e) => e.status === 'ok'));
});

test('2. a two-hop chain (bastion, then node1) reaches node2; the file exists only in node2', () => {
  const inv = inventory(
    'twohop.yml',
    [
      'defaults:',
      '  user: rancher',
      `  ssh_key_path: ${info.sshKey}`,
      `  known_hosts: ${info.knownHosts}`,
      'jump_hosts:',
      `  bastion: { address: ${info.bastion.address}, user: rancher }`,
      `  hop2: { address: ${node(1)}, user: rancher }`,
      'hosts:',
      `  far: { address: ${node(2)}, jump: [bastion, hop2] }`,
      '',
    ].join('\n'),
  );
  const pb = playbook(
    'p2.yml',
    [
      '      - copy: { content: "two hops\\n", dest: /tmp/rp-two-hop.txt }',
      '      - command: { cmd: "echo $SSH_CONNECTION > /tmp/rp-two-hop.conn" }',
      '',
    ].join('\n'),
    'far',
  );
  const r = cli(['run', pb, '-i', inv, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(asRoot(2, 'cat /tmp/rp-two-hop.txt').stdout, 'two hops\n');
  // node2 saw the connection coming from node1 (the second hop), not from the bastion.
  assert.is(asRoot(2, 'cut -d" " -f1 /tmp/rp-two-hop.conn').stdout.trim(), node(1));
  for (const i of [1, 3]) assert.is.not(asRoot(i, 'test -e /tmp/rp-two-hop.txt').code, 0, `not on node${i}`);
  assert.is.not(spawnSync('test', ['-e', '/tmp/rp-two-hop.txt']).status, 0, 'not on the controller');
});

test('ping: every node through the bastion; --json; unknown --limit name is exit 5', () => {
  const inv = inventory('lab.yml', labInventory());
  const r = cli(['ping', '-i', inv]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  for (const n of info.nodes) assert.match(r.stdout, new RegExp(`^${n.name}\\s+ok\\s+\\d+ ms$`, 'm'));
  const j = cli(['ping', '-i', inv, '--json', '--limit', 'node2']);
  assert.is(j.code, 0);
  assert.equal(
    j.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { host: string; status: string }).host),
    ['node2'],
  );
  const bad = cli(['ping', '-i', inv, '--limit', 'nodeX']);
  assert.is(bad.code, 5);
  assert.match(bad.stderr + bad.stdout, /nodeX/);
});

test('4. one node\'s sshd stopped: it is unreachable (refused), the others complete, exit 4', async () => {
  const inv = inventory('lab.yml', labInventory());
  const pb = playbook('p4.yml', '      - command: { cmd: "touch /tmp/rp-ran-4" }\n');
  await lab.stopSshd('node2', NAME);
  try {
    const r = cli(['run', pb, '-i', inv, '--json']);
    assert.is(r.code, 4, r.stdout + r.stderr);
    const ev = r.events.find((e) => e.event === 'task' && e.host === 'node2')!;
    assert.is(ev.status, 'unreachable');
    assert.match(ev.msg!, /refused/);
    assert.is(recap(r.events).node2!.unreachable, 1);
    for (const n of ['node1', 'node3']) assert.is(recap(r.events)[n]!.changed, 1);
    const p = cli(['ping', '-i', inv]);
    assert.is(p.code, 4);
    assert.match(p.stdout, /^node2\s+unreachable \(refused\)/m);
    assert.match(p.stdout, /^node1\s+ok/m);
  } finally {
    await lab.startSshd('node2', NAME);
  }
  assert.is(asRoot(1, 'test -e /tmp/rp-ran-4').code, 0);
  assert.is.not(asRoot(2, 'test -e /tmp/rp-ran-4').code, 0);
});

test('5. a host known only by a ~/.ssh/config alias with ProxyJump (temp HOME)', () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(
    join(home, '.ssh', 'config'),
    [
      'Host lab-node3',
      `  HostName ${node(3)}`,
      '  User rancher',
      `  IdentityFile ${info.sshKey}`,
      '  ProxyJump lab-bastion',
      'Host lab-bastion',
      `  HostName ${info.bastion.address}`,
      '  User rancher',
      `  IdentityFile ${info.sshKey}`,
      '',
    ].join('\n'),
  );
  const inv = inventory('alias.yml', `defaults:\n  known_hosts: ${info.knownHosts}\nhosts:\n  aliased: { address: lab-node3 }\n`);
  const pb = playbook('p5.yml', '      - command: { cmd: "hostname > /tmp/rp-alias.txt; id -un >> /tmp/rp-alias.txt" }\n', 'aliased');
  const r = cli(['run', pb, '-i', inv, '--json'], { HOME: home });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(asRoot(3, 'cat /tmp/rp-alias.txt').stdout, /\nrancher\n$/);
});

test('3. host keys: unknown refused, accepted and recorded; a changed key refused with both fingerprints', async () => {
  // A known_hosts without node3's line.
  const labKh = readFileSync(info.knownHosts, 'utf8');
  const node3Line = labKh.split('\n').find((l) => l.startsWith(`${node(3)} `))!;
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, labKh.replace(`${node3Line}\n`, ''));
  const inv = inventory('kh.yml', labInventory(kh));
  const pb = playbook('p3.yml', '      - command: { cmd: "touch /tmp/rp-ran-3" }\n');

  const r1 = cli(['run', pb, '-i', inv, '--json']);
  assert.is(r1.code, 4, r1.stdout + r1.stderr);
  const ev = r1.events.find((e) => e.event === 'task' && e.host === 'node3')!;
  assert.is(ev.status, 'unreachable');
  assert.ok(ev.msg!.includes(`host key for node3 (${node(3)}:22) is not known; rerun with --accept-new-host-keys`), ev.msg);
  assert.is.not(asRoot(3, 'test -e /tmp/rp-ran-3').code, 0, 'nothing ran on node3');
  assert.is(asRoot(1, 'test -e /tmp/rp-ran-3').code, 0, 'node1 went on');

  const r2 = cli(['run', pb, '-i', inv, '--json', '--accept-new-host-keys']);
  assert.is(r2.code, 0, r2.stdout + r2.stderr);
  assert.ok(readFileSync(kh, 'utf8').split('\n').includes(node3Line.split(' ').slice(0, 3).join(' ')), 'recorded as the lab knows it');
  assert.is(cli(['run', pb, '-i', inv, '--json']).code, 0, 'a later run needs no flag');

  const oldFp = fingerprint(Buffer.from(node3Line.split(' ')[2]!, 'base64'));
  await lab.regenHostKey('node3', NAME);
  const newPub = (await lab.labExec('node3', 'cat /etc/ssh/ssh_host_ed25519_key.pub', NAME)).stdout;
  const newFp = fingerprint(Buffer.from(newPub.split(' ')[1]!, 'base64'));
  assert.is.not(newFp, oldFp);
  const before = readFileSync(kh, 'utf8');
  for (const flags of [[], ['--accept-new-host-keys']]) {
    const r = cli(['run', playbook('p3b.yml', '      - command: { cmd: "touch /tmp/rp-ran-3b" }\n'), '-i', inv, '--json', ...flags]);
    assert.is(r.code, 4, r.stdout + r.stderr);
    const e = r.events.find((x) => x.event === 'task' && x.host === 'node3')!;
    assert.is(e.status, 'unreachable');
    assert.ok(e.msg!.includes(`expected ${oldFp} got ${newFp}`), e.msg);
  }
  assert.is(readFileSync(kh, 'utf8'), before, 'known_hosts untouched');
  assert.is((await lab.labExec('node3', 'test -e /tmp/rp-ran-3b', NAME)).code === 0, false, 'nothing ran on node3');
  assert.is(asRoot(1, 'test -e /tmp/rp-ran-3b').code, 0);
});

test.run();
