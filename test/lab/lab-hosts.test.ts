// The default lab as its users meet it: SSH through the bastion with the system client, hosts
// with private files, the rancher user with the real Docker Engine and sudo, the proxy as the only way out, the
// lab DNS, and the fault hooks other tests rely on. It breaks things on purpose, so it uses a lab
// of its own (other test files share the default one) and takes it down at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { promises as dns } from 'node:dns';
import { useLab, sshConfig, sshVia, lab, type LabInfo } from './_lab.js';

const NAME = 'lh';
let info: LabInfo;
const node = (n: number) => info.nodes[n - 1].address;

function tcp(host: string, port: number): Promise<string> {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.on('connect', () => { s.destroy(); res('open'); });
    s.on('error', (e: NodeJS.ErrnoException) => res(e.code ?? 'error'));
  });
}

test.before(async () => { info = await useLab(NAME); });
test.after(async () => { await lab.labDown(NAME); });

test('ssh -J through the bastion with the lab known_hosts reaches each node as rancher and root', () => {
  const cfg = sshConfig(info);
  for (const [i, n] of info.nodes.entries()) {
    const r = sshVia(info, 'rancher', n.address, 'hostname; id -un', cfg);
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stdout, `node${i + 1}\nrancher\n`);
  }
  const root = sshVia(info, 'root', info.lb.address, 'id -u; hostname', cfg);
  assert.is(root.stdout, '0\nlb1\n', root.stderr);
});

test('without the lab known_hosts the host key is unknown and strict checking refuses', () => {
  const r = sshVia(info, 'rancher', node(1), 'true', sshConfig(info, { knownHosts: false }));
  assert.is.not(r.code, 0);
  assert.match(r.stderr, /Host key verification failed/);
});

test('from the controller only bastion:22, LB:80/443 and DNS:53 answer; nodes are unreachable', async () => {
  assert.is(await tcp(info.bastion.address, 22), 'open');
  assert.is(await tcp(info.lbPublic, 80), 'open');
  assert.is(await tcp(info.dnsServer, 53), 'open');
  assert.is(await tcp(info.lbPublic, 22), 'ECONNREFUSED');
  assert.is(await tcp(info.internet.address, 80), "EHOSTUNREACH", "the lab internet is not reachable from the controller");
  assert.ok(['ENETUNREACH', 'EHOSTUNREACH'].includes(await tcp(node(1), 22)), 'no route to the cluster net');
});

test('a file written on node1 exists only on node1, in its own upper dir', async () => {
  const mark = `lab-test-${process.pid}`;
  const w = await lab.labExec('node1', `echo ${mark} > /etc/lab-private && echo ${mark} > /tmp/lab-private`, NAME);
  assert.is(w.code, 0, w.stderr);
  assert.is((await lab.labExec('node1', 'cat /etc/lab-private /tmp/lab-private', NAME)).stdout, `${mark}\n${mark}\n`);
  const other = await lab.labExec('node2', 'cat /etc/lab-private /tmp/lab-private', NAME);
  assert.is.not(other.code, 0);
  assert.not.ok(existsSync('/etc/lab-private'), 'not on the controller');
  assert.is(readFileSync(join(lab.upperDir('node1', NAME), 'etc', 'lab-private'), 'utf8'), `${mark}\n`);
  // Over SSH too (what a playbook run would see).
  assert.is(sshVia(info, 'rancher', node(1), 'cat /etc/lab-private').stdout, `${mark}\n`);
  assert.is.not(sshVia(info, 'rancher', node(2), 'cat /etc/lab-private').code, 0);
  await lab.labExec('node1', 'rm -f /etc/lab-private /tmp/lab-private', NAME);
});

test('each node has its own /etc/os-release (a rewrite stays on that node)', async () => {
  const orig = readFileSync('/etc/os-release', 'utf8');
  await lab.labExec('node3', 'printf \'ID="centos"\\nNAME="CentOS Linux"\\n\' > /etc/os-release', NAME);
  assert.match((await lab.labExec('node3', 'cat /etc/os-release', NAME)).stdout, /centos/);
  assert.is(readFileSync('/etc/os-release', 'utf8'), orig, 'controller unchanged');
  assert.not.match((await lab.labExec('node2', 'cat /etc/os-release', NAME)).stdout, /centos/);
  await lab.labExec('node3', 'cp /usr/lib/os-release /etc/os-release', NAME);
});

test('rancher on a node: docker without sudo, passwordless sudo, docker daemon state', async () => {
  const cfg = sshConfig(info);
  const r = sshVia(info, 'rancher', node(2), "docker version --format '{{.Server.Version}}' && docker ps && sudo -n id -u", cfg);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^20\.10\.24(\+dfsg\d+)?\nCONTAINER ID\s+IMAGE/); // Debian's docker.io: the real daemon
  assert.match(r.stdout, /\n0\n$/);
  await lab.stopService('docker', 'node2', NAME);
  try {
    const down = sshVia(info, 'rancher', node(2), 'docker ps', cfg);
    assert.is(down.code, 1);
    assert.match(down.stderr, /Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker.sock. Is the docker daemon running\?/);
    assert.is(sshVia(info, 'rancher', node(1), 'docker ps', cfg).code, 0, 'node1 unaffected');
    const restart = sshVia(info, 'rancher', node(2), 'sudo -n systemctl restart docker && systemctl is-active docker && docker ps', cfg);
    assert.is(restart.code, 0, restart.stderr);
  } finally {
    await lab.startService('docker', 'node2', NAME);
  }
  // Not in the docker group → permission denied, as with the real CLI.
  await lab.labExec('node2', 'gpasswd -d rancher docker', NAME);
  try {
    const denied = sshVia(info, 'rancher', node(2), 'docker ps', cfg);
    assert.is(denied.code, 1);
    assert.match(denied.stderr, /permission denied while trying to connect to the Docker daemon socket/);
  } finally {
    await lab.labExec('node2', 'usermod -aG docker rancher', NAME);
  }
});

test('the lab internet is reachable from a node only through the proxy, which logs it', async () => {
  const url = `${info.internet.url}probe-${process.pid}`;
  const direct = await lab.labExec('node1', `curl -sS --max-time 3 ${url}`, NAME);
  assert.is.not(direct.code, 0, 'no direct route');
  const via = await lab.labExec('node1', `curl -sS -x ${info.proxy.url} ${url}`, NAME);
  assert.is(via.code, 0, via.stderr);
  assert.match(via.stdout, new RegExp(`lab internet: GET /probe-${process.pid}`));
  assert.match(readFileSync(info.proxy.log, 'utf8'), new RegExp(`probe-${process.pid}`));
  await lab.stopService('proxy', undefined, NAME);
  try {
    const stopped = await lab.labExec('node1', `curl -sS --max-time 3 -x ${info.proxy.url} ${url}`, NAME);
    assert.is.not(stopped.code, 0);
  } finally {
    await lab.startService('proxy', undefined, NAME);
  }
  assert.is((await lab.labExec('node1', `curl -sS -x ${info.proxy.url} ${url}`, NAME)).code, 0);
});

test('lab DNS answers the FQDN with the LB public address, and records can be changed', async () => {
  const r = new dns.Resolver();
  r.setServers([info.dnsServer]);
  assert.equal(await r.resolve4(info.fqdn), [info.lbPublic]);
  const other = await r.resolve4('other.lab.test');
  assert.is.not(other[0], info.lbPublic);
  await lab.setDnsRecord(info.fqdn, `${info.lbPublic.split('.').slice(0, 3).join('.')}.77`, NAME);
  try {
    assert.equal(await r.resolve4(info.fqdn), [`${info.lbPublic.split('.').slice(0, 3).join('.')}.77`]);
  } finally {
    await lab.setDnsRecord(info.fqdn, info.lbPublic, NAME);
  }
  assert.equal(await r.resolve4(info.fqdn), [info.lbPublic]);
  // Nodes resolve through the lab DNS as well.
  assert.match((await lab.labExec('node1', `getent hosts ${info.fqdn}`, NAME)).stdout, new RegExp(info.lbPublic.replace(/\./g, '\\.')));
});

test('nodes answer like ingress-nginx without Rancher: /healthz 200, default backend 404, TLS with the lab chain on 443', async () => {
  const h = await lab.labExec('lb1', `curl -sS -w ' %{http_code}' http://${node(1)}/healthz`, NAME);
  assert.is(h.stdout, ' 200');
  const e = await lab.labExec('lb1', `curl -sS -w ' %{http_code}' -H 'Host: ${info.fqdn}' http://${node(2)}/some/path`, NAME);
  assert.is(e.stdout, 'default backend - 404 404');
  const tls = await lab.labExec('lb1', `curl -sS -w ' %{http_code}' --cacert ${info.caCert} --resolve ${info.fqdn}:443:${node(3)} https://${info.fqdn}/x`, NAME);
  assert.is(tls.code, 0, tls.stderr);
  assert.is(tls.stdout, 'default backend - 404 404');
});

test('lb1 runs the Debian nginx with its own config; nginx -t and reload work', async () => {
  const t = await lab.labExec('lb1', 'nginx -t', NAME);
  assert.is(t.code, 0, t.stderr);
  assert.match(t.stderr, /test is successful/);
  assert.is((await lab.labExec('lb1', 'nginx -s reload', NAME)).code, 0);
  assert.is((await lab.labExec('lb1', 'systemctl is-active nginx', NAME)).stdout, 'active\n');
  assert.not.ok(existsSync(join(lab.upperDir('node1', NAME), 'etc', 'nginx', 'conf.d', 'x')));
});

test('hooks: sshd stop/start, link down/up, host key regeneration', async () => {
  const cfg = sshConfig(info);
  // An open session drops when sshd is stopped (a crash, not a polite restart).
  const open = spawn('ssh', ['-F', cfg, '-J', `rancher@${info.bastion.address}`, `rancher@${node(2)}`, 'echo started; sleep 600']);
  const ended = new Promise<number | null>((res) => open.on('exit', (code) => res(code)));
  await new Promise<void>((res) => open.stdout.on('data', (d: Buffer) => { if (d.toString().includes('started')) res(); }));
  await lab.stopSshd('node2', NAME);
  assert.is.not(await ended, 0, 'the open session was cut');
  try {
    const r = sshVia(info, 'rancher', node(2), 'true', cfg);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /refused|closed|failed/i);
    assert.is(sshVia(info, 'rancher', node(1), 'true', cfg).code, 0);
  } finally {
    await lab.startSshd('node2', NAME);
  }
  assert.is(sshVia(info, 'rancher', node(2), 'echo back', cfg).stdout, 'back\n');

  await lab.setLink('node3', false, NAME);
  try {
    assert.is.not((await lab.labExec('bastion', `curl -sS --max-time 2 http://${node(3)}/healthz`, NAME)).code, 0);
  } finally {
    await lab.setLink('node3', true, NAME);
  }
  const healthz = `curl -sS -o /dev/null -w '%{http_code}' http://${node(3)}/healthz`;
  assert.is((await lab.labExec('bastion', healthz, NAME)).stdout, '200');

  await lab.setDelay('node3', 150, NAME);
  try {
    assert.match((await lab.labExec('node3', 'tc qdisc show dev cl', NAME)).stdout, /qdisc (netem|tbf) /, 'the link is slowed');
    assert.is((await lab.labExec('bastion', healthz, NAME)).stdout, '200', 'a slow link still works');
  } finally {
    await lab.setDelay('node3', 0, NAME);
  }
  assert.not.match((await lab.labExec('node3', 'tc qdisc show dev cl', NAME)).stdout, /netem|tbf/);

  // Keep node3's key to put it back, so the lab's known_hosts stays right for other tests.
  await lab.labExec('node3', 'mkdir -p /root/.keep && cp -p /etc/ssh/ssh_host_ed25519_key* /root/.keep/', NAME);
  try {
    await lab.regenHostKey('node3', NAME);
    const r = sshVia(info, 'rancher', node(3), 'true', cfg);
    assert.is.not(r.code, 0);
    assert.match(r.stderr, /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  } finally {
    await lab.labExec('node3', 'cp -p /root/.keep/* /etc/ssh/ && rm -rf /root/.keep', NAME);
    await lab.stopSshd('node3', NAME);
    await lab.startSshd('node3', NAME);
  }
  assert.is(sshVia(info, 'rancher', node(3), 'echo same', cfg).stdout, 'same\n');
  assert.ok((await lab.labStatus(NAME)).up);
});

test.run();
