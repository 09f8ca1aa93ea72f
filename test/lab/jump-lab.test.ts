// Running from a jump host, on the lab ("jp", its own so other tests' faults cannot disturb it):
// - Ansible YAML and INI inventories of the lab (ProxyJump through the bastion) give the same
//   playbook result as the native inventory;
// - only the one-file bundle, copied into an empty directory, runs `tasks`, `validate` and a lab
//   playbook including a custom TypeScript task (through the bastion, from an Ansible inventory);
// - the bundle copied onto the bastion (the jump host: only node, behind the lab proxy) makes its
//   controller-side URL checks through HTTP_PROXY/HTTPS_PROXY, which the proxy's log shows, and
//   NO_PROXY sends them direct (where the lab "internet" cannot be reached).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lab, useLab, type LabInfo } from './_lab.js';

const NAME = 'jp';
const root = resolve('.');
let info: LabInfo;
// Under the repo's .lab/ (git-ignored), not /tmp: lab hosts have a private /tmp but see the repo.
mkdirSync(join(root, '.lab'), { recursive: true });
const work = mkdtempSync(join(root, '.lab', 'jump-test-'));
const bundleDir = join(work, 'jump-host'); // holds the bundle and the operator's own files only
const bundle = join(bundleDir, 'rancher-play.mjs');

interface TaskEv { event: 'task'; id: string; host: string; status: string; changed: boolean; msg: string }
interface Recap { event: 'recap'; hosts: Record<string, Record<string, number>> }
interface Run { code: number; tasks: TaskEv[]; recap?: Recap; out: string; err: string }

function parse(code: number | null, out: string, err: string): Run {
  const ev = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv | Recap);
  return {
    code: code ?? -1, out, err,
    tasks: ev.filter((e): e is TaskEv => e.event === 'task'),
    recap: ev.find((e): e is Recap => e.event === 'recap'),
  };
}
/** The repo's CLI (bin/rancher-play.js). */
function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', ...args], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  return parse(r.status, r.stdout ?? '', r.stderr ?? '');
}
/** The bundle alone, from its own directory, with no NODE_PATH. */
function solo(args: string[]): Run {
  const r = spawnSync(process.execPath, [bundle, ...args], {
    cwd: bundleDir, encoding: 'utf8', maxBuffer: 64 << 20,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', NODE_PATH: '', CI: '1', NO_COLOR: '1' },
  });
  return parse(r.status, r.stdout ?? '', r.stderr ?? '');
}
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.err}`;
/** What must not depend on the inventory's format: every task's status per host, and the recap. */
const outcome = (r: Run) => ({
  code: r.code,
  tasks: r.tasks.map((t) => `${t.host} ${t.id} ${t.status}`).sort(),
  recap: r.recap?.hosts,
});

function ansibleYaml(i: LabInfo): string {
  const q = (v: string) => JSON.stringify(v);
  return `# The lab as an operator's existing Ansible inventory (YAML), the bastion listed as a host.
all:
  vars:
    ansible_user: rancher
    ansible_port: 22
    ansible_ssh_private_key_file: ${q(i.sshKey)}
    ansible_ssh_common_args: '-o UserKnownHostsFile=${i.knownHosts} -o ProxyJump=rancher@${i.bastion.address}:${i.bastion.port}'
    fqdn: ${i.fqdn}
    rancher_version: v2.0.6
    lb_address: ${i.lbPublic}
    dns_resolver: ${i.dnsServer}
    proxy: { http: ${q(i.proxy.url)}, https: ${q(i.proxy.url)} }
    probe_url: ${q(i.internet.url)}
  children:
    jump:
      hosts:
        bastion:
          ansible_host: ${i.bastion.address}
          # the bastion itself is reached directly
          ansible_ssh_common_args: '-o UserKnownHostsFile=${i.knownHosts} -o StrictHostKeyChecking=yes'
    rancher:
      hosts:
${i.nodes.map((n) => `        ${n.name}:\n          ansible_host: ${n.address}`).join('\n')}
      vars:
        rke_roles: [controlplane, etcd, worker]
    lb:
      hosts:
        ${i.lb.name}:
          ansible_host: ${i.lb.address}
          ansible_become: true
          public_address: ${i.lbPublic}
`;
}

function ansibleIni(i: LabInfo): string {
  return `# The lab as an Ansible INI inventory; the bastion only appears in ProxyJump.
[rancher]
${i.nodes.map((n) => `${n.name} ansible_host=${n.address}`).join('\n')}

[rancher:vars]
rke_roles=['controlplane', 'etcd', 'worker']

[lb]
${i.lb.name} ansible_host=${i.lb.address} ansible_become=yes public_address=${i.lbPublic}

[all:vars]
ansible_user=rancher
ansible_ssh_private_key_file=${i.sshKey}
ansible_ssh_common_args='-o UserKnownHostsFile=${i.knownHosts} -J rancher@${i.bastion.address}:${i.bastion.port}'
fqdn=${i.fqdn}
rancher_version=v2.0.6
lb_address=${i.lbPublic}
dns_resolver=${i.dnsServer}
proxy={'http': '${i.proxy.url}', 'https': '${i.proxy.url}'}
probe_url=${i.internet.url}
`;
}

const customTask = `// An operator's own task: a marker file on each node, written only when missing.
import { defineTask } from 'rancher-play';

export default defineTask({
  id: 'jump-marker',
  summary: 'A marker file with fixed content exists',
  schema: {
    type: 'object', additionalProperties: false, required: ['path', 'text'],
    properties: { path: { type: 'string' }, text: { type: 'string' } },
  },
  async probe(ctx, p) {
    const now = await ctx.readFile(p.path);
    return now === p.text + '\\n' ? { changed: false, msg: 'marker present' } : { changed: true, msg: 'marker to write' };
  },
  async apply(ctx, p) {
    await ctx.writeFile(p.path, p.text + '\\n', { mode: 0o644 });
    return { msg: \`wrote \${p.path} on \${ctx.host.name}\` };
  },
});
`;

test.before(async () => {
  info = await useLab(NAME);
  writeFileSync(join(work, 'lab.yml'), ansibleYaml(info));
  writeFileSync(join(work, 'hosts.ini'), ansibleIni(info));
  const b = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outfile', join(work, 'build', 'rancher-play.mjs')], { cwd: root, encoding: 'utf8' });
  assert.is(b.status, 0, b.stderr + b.stdout);
  mkdirSync(join(bundleDir, 'tasks'), { recursive: true });
  copyFileSync(join(work, 'build', 'rancher-play.mjs'), bundle);
  // The operator's files: their inventory, the read-only preflight plus their own task.
  copyFileSync(join(work, 'hosts.ini'), join(bundleDir, 'hosts.ini'));
  writeFileSync(join(bundleDir, 'tasks', 'jump-marker.ts'), customTask);
  const preflight = readFileSync(join(root, 'playbooks', 'preflight.yml'), 'utf8');
  writeFileSync(join(bundleDir, 'site.yml'), `${preflight}
  - name: Operator's own task on the nodes
    hosts: rancher
    tasks:
      - name: marker
        jump-marker: { path: /tmp/rp-jump-marker, text: "placed by the bundle from {{ host.name }}" }
`);
});

test.after(async () => {
  rmSync(work, { recursive: true, force: true });
  await lab.labDown(NAME);
});

test('Ansible YAML and INI inventories of the lab run preflight with the same result as the native inventory', () => {
  const native = cli(['run', 'playbooks/preflight.yml', '-i', info.inventory, '--json']);
  assert.is(native.code, 0, show(native));
  const yml = cli(['run', 'playbooks/preflight.yml', '-i', join(work, 'lab.yml'), '--json']);
  const ini = cli(['run', 'playbooks/preflight.yml', '-i', join(work, 'hosts.ini'), '--json']);
  assert.equal(outcome(yml), outcome(native), show(yml));
  assert.equal(outcome(ini), outcome(native), show(ini));
  // The nodes were really reached through the bastion (they have no other route).
  for (const n of info.nodes) assert.ok(native.recap!.hosts[n.name]!.ok > 0 && ini.recap!.hosts[n.name]!.ok > 0);
});

test('the bundle alone: tasks, validate, and a lab playbook with a custom TypeScript task (changed, then ok)', async () => {
  assert.equal(readdirSync(bundleDir).sort(), ['hosts.ini', 'rancher-play.mjs', 'site.yml', 'tasks']);
  const tasks = solo(['tasks']);
  assert.is(tasks.code, 0, tasks.err);
  assert.match(tasks.out, /^jump-marker\b/m);
  assert.match(tasks.out, /^check-docker\b/m);
  const v = solo(['validate', 'site.yml', '-i', 'hosts.ini']);
  assert.is(v.code, 0, v.err + v.out);

  for (const n of info.nodes) await lab.labExec(n.name, 'rm -f /tmp/rp-jump-marker', NAME);
  const first = solo(['run', 'site.yml', '-i', 'hosts.ini', '--json']);
  assert.is(first.code, 0, show(first));
  const marks = first.tasks.filter((t) => t.id === 'jump-marker');
  assert.equal(marks.map((t) => t.host).sort(), info.nodes.map((n) => n.name).sort());
  assert.ok(marks.every((t) => t.status === 'changed'), show(first));
  const onNode = await lab.labExec('node1', 'cat /tmp/rp-jump-marker', NAME);
  assert.is(onNode.stdout, 'placed by the bundle from node1\n');

  const second = solo(['run', 'site.yml', '-i', 'hosts.ini', '--json']);
  assert.is(second.code, 0, show(second));
  assert.is(second.tasks.filter((t) => t.changed).length, 0, show(second));
});

test('on the jump host, controller-side URL checks go through HTTP(S)_PROXY (proxy log) and NO_PROXY bypasses it', async () => {
  const net = info.internet.address;
  // An HTTPS origin in the lab "internet" (reachable only through the proxy), with its own CA.
  const tls = join(work, 'tls');
  mkdirSync(tls);
  const o = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${net}`,
    '-addext', `subjectAltName=IP:${net}`, '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem')], { stdio: 'ignore' });
  assert.is(o.status, 0);
  writeFileSync(join(tls, 'server.mjs'), `import https from 'node:https'; import { readFileSync, writeFileSync } from 'node:fs';
const s = https.createServer({ key: readFileSync('${join(tls, 'key.pem')}'), cert: readFileSync('${join(tls, 'cert.pem')}') },
  (req, res) => res.end('tls internet ' + req.url + '\\n'));
s.listen(443, '${net}', () => writeFileSync('${join(tls, 'pid')}', String(process.pid)));\n`);
  await lab.labExec('internet', `setsid -f ${process.execPath} ${join(tls, 'server.mjs')} </dev/null >${join(tls, 'log')} 2>&1`, NAME);
  for (let i = 0; i < 100 && !readdirSync(tls).includes('pid'); i++) await new Promise((r) => setTimeout(r, 100));
  const serverPid = readFileSync(join(tls, 'pid'), 'utf8').trim();

  try {
    const tag = `jump-${process.pid}`;
    writeFileSync(join(bundleDir, 'local.yml'), 'hosts:\n  localhost: { connection: local }\n');
    writeFileSync(join(bundleDir, 'probe.yml'), `name: controller-side probes
plays:
  - name: from the jump host
    hosts: localhost
    tasks:
      - name: the internet over http
        wait-for: { url: "http://${net}/${tag}-http", delegate: controller, timeout: 5 }
        ignore_errors: true
      - name: the internet over https
        wait-for: { url: "https://${net}/${tag}-https", delegate: controller, timeout: 5 }
`);
    const onBastion = (env: string) => lab.labExec('bastion',
      `cd ${bundleDir} && env -i PATH=/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=${join(tls, 'cert.pem')} ${env} ${process.execPath} rancher-play.mjs run probe.yml -i local.yml --json`, NAME);

    const logBefore = readFileSync(info.proxy.log, 'utf8').length;
    const via = await onBastion(`HTTP_PROXY=${info.proxy.url} HTTPS_PROXY=${info.proxy.url} NO_PROXY=localhost,127.0.0.1`);
    const r = parse(via.code, via.stdout, via.stderr);
    assert.is(r.code, 0, show(r));
    const log = readFileSync(info.proxy.log, 'utf8').slice(logBefore);
    assert.match(log, new RegExp(`GET http://${net.replace(/\./g, '\\.')}/${tag}-http`), 'plain HTTP went through the proxy');
    assert.match(log, new RegExp(`CONNECT ${net.replace(/\./g, '\\.')}:443`), 'HTTPS was tunnelled through the proxy');

    // NO_PROXY (CIDR) sends both direct: the jump host has no route to the lab internet.
    const logBefore2 = readFileSync(info.proxy.log, 'utf8').length;
    const direct = await onBastion(`http_proxy=${info.proxy.url} https_proxy=${info.proxy.url} no_proxy=198.19.0.0/16`);
    const d = parse(direct.code, direct.stdout, direct.stderr);
    assert.is(d.code, 2, show(d));
    assert.equal(d.tasks.map((t) => `${t.id} ${t.status}`), ['wait-for failed', 'wait-for failed'], show(d));
    assert.not.match(readFileSync(info.proxy.log, 'utf8').slice(logBefore2), new RegExp(tag));
  } finally {
    await lab.labExec('internet', `kill ${serverPid}`, NAME);
  }
});

test.run();
