// The local rehearsal lab: network namespaces joined by bridges, real sshd, Docker Engine, nginx,
// dnsmasq, tinyproxy and a Docker registry inside them; fixtures only for what cannot run here
// (rke, helm, kubectl, the Kubernetes cluster and the Rancher server).
// Every namespace is owned by a "holder" process marked `rpl:<name>:<index>:<role>`; killing the
// processes in those namespaces releases every mount and link the lab made, so `lab down` is
// complete even when the state files are gone.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync, writeFileSync, renameSync, chmodSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from 'node:net';
import { makePki, makeSshKey, signServer } from './pki.js';
import { registryConfig, writeRegistryImages } from './registry.js';
import { writeHelmVars, writeInventory } from './inventory.js';
import { DOWNLOAD_HOSTS, downloadsAddress, nodeSetupLines, writeDownloads } from './rke2.js';
import type { LabInfo } from './types.js';
import { wrapperScript } from './wrappers.js';
import {
  type Holder, alive, findHolders, must, nsBash, nsDaemon, nsId, nsMust, pidsInNets, q, run, sleep,
  spawnHolder,
} from './sys.js';

export type { LabInfo } from './types.js';
export { inventoryText, writeInventory } from './inventory.js';

const DEFAULT = 'rp';
/**
 * RANCHER_PLAY_LAB_TAG (a few letters) prefixes every lab name, so that checkouts side by side on
 * one machine bring up labs of their own instead of sharing (and tearing down) each other's.
 */
function labName(name: string = DEFAULT): string {
  const tag = process.env.RANCHER_PLAY_LAB_TAG ?? '';
  return name.startsWith(tag) ? name : tag + name;
}
const isDefault = (name: string) => name === labName(DEFAULT);
const FQDN = 'rancher.lab.test';
const OTHER = 'other.lab.test';
const REGISTRY = 'registry.lab.test';
const PULL_PROBE = `${REGISTRY}/rancher/rancher:v2.0.6`;

// ---------------------------------------------------------------------------------------------
// Where things are

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(d, 'package.json');
    if (existsSync(pj) && /"name":\s*"rancher-play"/.test(readFileSync(pj, 'utf8'))) return d;
    const up = dirname(d);
    if (up === d) throw new Error('lab: cannot find the rancher-play repository root');
    d = up;
  }
}
const ROOT = findRoot();
const FIXTURES = join(ROOT, 'lab', 'fixtures');
const labDir = (name: string) => join(ROOT, '.lab', name);

// Dirs each SSH host gets privately (overlay over the controller's, upper under hosts/<host>/).
const OVERLAID = ['etc', 'var', 'root', 'home', 'run', 'usr/local', 'opt'];

/** Host trees live under .lab/<name>/hosts unless the repo itself sits inside an overlaid dir. */
function hostsRoot(name: string): string {
  const inside = ['/tmp', ...OVERLAID.map((d) => `/${d}`)].some((d) => ROOT === d || ROOT.startsWith(`${d}/`));
  return inside ? join('/srv/rancher-play-lab', name) : join(labDir(name), 'hosts');
}

function checkName(name: string): void {
  if (!/^[a-z][a-z0-9]{0,10}$/.test(name)) {
    throw new Error(`lab: name "${name}" must be 1-11 lower-case letters/digits starting with a letter (it prefixes Linux interface names)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Topology

type Net = 'pub' | 'cl' | 'inet';
interface HostSpec {
  name: string;
  kind: 'ssh' | 'plain' | 'svc';
  legs: { net: Net; ip: string }[];
}

function nets(index: number) {
  return { pub: `198.18.${index}`, cl: `10.213.${index}`, inet: `198.19.${index}` };
}

function rancherHosts(index: number): HostSpec[] {
  const n = nets(index);
  return [
    { name: 'bastion', kind: 'ssh', legs: [{ net: 'pub', ip: `${n.pub}.10` }, { net: 'cl', ip: `${n.cl}.10` }] },
    { name: 'node1', kind: 'ssh', legs: [{ net: 'cl', ip: `${n.cl}.11` }] },
    { name: 'node2', kind: 'ssh', legs: [{ net: 'cl', ip: `${n.cl}.12` }] },
    { name: 'node3', kind: 'ssh', legs: [{ net: 'cl', ip: `${n.cl}.13` }] },
    { name: 'lb1', kind: 'ssh', legs: [{ net: 'pub', ip: `${n.pub}.20` }, { net: 'cl', ip: `${n.cl}.5` }] },
    { name: 'dns', kind: 'svc', legs: [{ net: 'pub', ip: `${n.pub}.53` }, { net: 'cl', ip: `${n.cl}.53` }] },
    { name: 'proxy', kind: 'svc', legs: [{ net: 'cl', ip: `${n.cl}.3` }, { net: 'inet', ip: `${n.inet}.3` }] },
    { name: 'internet', kind: 'svc', legs: [{ net: 'inet', ip: `${n.inet}.80` }] },
  ];
}

function plainHostSpecs(index: number, count: number): HostSpec[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => ({
    name: `h${String(i + 1).padStart(width, '0')}`, kind: 'plain' as const,
    legs: [{ net: 'pub' as const, ip: `${nets(index).pub}.${11 + i}` }],
  }));
}

const ctlLink = (name: string) => `rpl-${name}`;
const marker = (name: string, index: number, role: string) => `rpl:${name}:${index}:${role}`;
const ipOf = (h: HostSpec, net: Net) => h.legs.find((l) => l.net === net)?.ip ?? '';
/** Where a host's sshd listens: the LB's public side serves only HTTP(S), SSH is via the bastion. */
const sshAddrs = (h: HostSpec) => h.legs.filter((l) => !(h.name.startsWith('lb') && l.net === 'pub')).map((l) => l.ip);

function pickIndex(name: string): number {
  const holders = findHolders();
  const mine = holders.find((h) => h.name === name);
  if (mine) return mine.index;
  const used = new Set(holders.map((h) => h.index));
  let idx = name === 'rp' ? 1 : 2 + (parseInt(createHash('sha256').update(name).digest('hex').slice(0, 8), 16) % 200);
  while (used.has(idx)) idx = idx >= 250 ? 2 : idx + 1;
  return idx;
}

// ---------------------------------------------------------------------------------------------
// Saved state

interface LabState {
  name: string; index: number; mode: 'rancher' | 'plain';
  hosts: HostSpec[];
  holders: Record<string, number>;     // role → holder pid ('sw' is the switch)
  nets: string[];                      // net namespace ids, to find every process of the lab
}

const stateFile = (name: string) => join(labDir(name), 'state.json');
const infoFile = (name: string) => join(labDir(name), 'lab.json');

function writeJson(path: string, v: unknown): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(v, null, 2) + '\n', { mode: 0o644 });
  renameSync(tmp, path);
}

function readState(name: string): LabState | undefined {
  try { return JSON.parse(readFileSync(stateFile(name), 'utf8')) as LabState; } catch { return undefined; }
}

function holderOf(st: LabState, host: string): Holder {
  const pid = st.holders[host];
  if (!pid) throw new Error(`lab "${st.name}": no host named "${host}" (hosts: ${Object.keys(st.holders).filter((h) => h !== 'sw').join(', ')})`);
  const spec = st.hosts.find((h) => h.name === host);
  return { pid, mount: spec?.kind === 'ssh' || spec?.kind === 'plain' || spec?.name === 'proxy' };
}

function requireState(name: string): LabState {
  const st = readState(name);
  if (!st) throw new Error(`lab "${name}" is not up (run: rancher-play lab up${isDefault(name) ? '' : ` --name ${name}`})`);
  return st;
}

// ---------------------------------------------------------------------------------------------
// Locking: one lab operation at a time on this machine (apt, subnets, namespaces).

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(join(ROOT, '.lab'), { recursive: true });
  const lock = join(ROOT, '.lab', '.lock');
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch {
      const holder = Number(readFileSyncSafe(lock));
      if (!holder || !alive(holder)) { try { unlinkSync(lock); } catch { /* raced */ } continue; }
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    try { unlinkSync(lock); } catch { /* already gone */ }
  }
}

function readFileSyncSafe(p: string): string {
  try { return readFileSync(p, 'utf8').trim(); } catch { return ''; }
}

// ---------------------------------------------------------------------------------------------
// Debian packages

const NEEDED: [string, string][] = [
  ['/usr/sbin/sshd', 'openssh-server'], ['/usr/bin/ssh-keygen', 'openssh-client'], ['/usr/bin/sudo', 'sudo'],
  ['/usr/sbin/nginx', 'nginx'], ['/usr/lib/nginx/modules/ngx_stream_module.so', 'libnginx-mod-stream'], ['/usr/sbin/dnsmasq', 'dnsmasq'], ['/usr/bin/tinyproxy', 'tinyproxy'],
  ['/usr/sbin/ip', 'iproute2'], ['/usr/bin/openssl', 'openssl'], ['/usr/bin/ps', 'procps'],
  ['/usr/bin/killall', 'psmisc'], ['/usr/bin/curl', 'curl'], ['/usr/bin/nsenter', 'util-linux'],
  ['/usr/sbin/dockerd', 'docker.io'], ['/usr/bin/docker-registry', 'docker-registry'], ['/usr/bin/busybox', 'busybox-static'],
  ['/usr/bin/tar', 'tar'],
];

async function ensurePackages(log: (m: string) => void): Promise<void> {
  const missing = [...new Set(NEEDED.filter(([bin]) => !existsSync(bin)).map(([, pkg]) => pkg))];
  if (!missing.length) return;
  log(`installing Debian packages: ${missing.join(' ')}`);
  // Keep Debian's postinst from starting daemons in the root namespace.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# rancher-play lab: no daemon starts during package installs\nexit 101\n', { mode: 0o755 });
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', ...missing], { env });
    let r = await install();
    if (r.code !== 0) {
      await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env });
      r = await install();
    }
    if (r.code !== 0) throw new Error(`lab: apt-get install ${missing.join(' ')} failed:\n${(r.stderr || r.stdout).trim().slice(-2000)}`);
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Building

function bashLines(lines: (string | false | undefined)[]): string {
  return lines.filter((l): l is string => typeof l === 'string').join('\n') + '\n';
}

function holderSetup(spec: HostSpec, hostDir: string, dnsIp: string): { flags: string[]; setup: string } {
  if (spec.name === 'proxy') {
    // The proxy resolves the names clients CONNECT to (registry.lab.test) with the lab DNS.
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, 'resolv.conf'), `nameserver ${dnsIp}\n`);
    return { flags: ['-n', '-m', '--propagation', 'private'], setup: `mount --bind ${q(join(hostDir, 'resolv.conf'))} /etc/resolv.conf\nip link set lo up` };
  }
  if (spec.kind === 'svc') return { flags: ['-n'], setup: 'ip link set lo up' };
  const dirs = spec.kind === 'ssh' ? OVERLAID : ['root'];
  const lines: string[] = [];
  for (const d of dirs) {
    const key = d.replace('/', '');
    mkdirSync(join(hostDir, 'upper', key), { recursive: true });
    mkdirSync(join(hostDir, 'work', key), { recursive: true });
    lines.push(`mount -t overlay overlay -o ${q(`lowerdir=/${d},upperdir=${hostDir}/upper/${key},workdir=${hostDir}/work/${key}`)} /${d}`);
  }
  mkdirSync(join(hostDir, 'upper', 'tmp'), { recursive: true });
  chmodSync(join(hostDir, 'upper', 'tmp'), 0o1777);
  // A checkout under /tmp (CI's clean clone, say) would vanish behind the host's private /tmp,
  // and with it the fixtures and sshd configs: hold it aside and bind it back in place.
  const repoInTmp = ROOT.startsWith('/tmp/');
  if (repoInTmp) lines.push(`mkdir -p ${q(`${hostDir}/repo`)}`, `mount --bind ${q(ROOT)} ${q(`${hostDir}/repo`)}`);
  lines.push(`mount --bind ${q(`${hostDir}/upper/tmp`)} /tmp`);
  if (repoInTmp) lines.push(`mkdir -p ${q(ROOT)}`, `mount --bind ${q(`${hostDir}/repo`)} ${q(ROOT)}`, `umount ${q(`${hostDir}/repo`)}`);
  if (spec.kind === 'plain') lines.push('mount -t tmpfs -o mode=755 lab-run /run', 'mkdir -p /run/sshd');
  lines.push(`hostname ${spec.name}`, 'ip link set lo up');
  return { flags: ['-n', '-m', '-u', '--propagation', 'private'], setup: lines.join('\n') };
}

async function waitHolders(pids: Record<string, number>, logs: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const pending = Object.entries(pids).filter(([, pid]) => !/^rpl:/.test(readFileSyncSafe(`/proc/${pid}/cmdline`)));
    if (!pending.length) return;
    const dead = pending.find(([, pid]) => !alive(pid));
    if (dead) throw new Error(`lab: namespace holder of ${dead[0]} died; see ${join(logs, `${dead[0]}.holder.log`)}: ${readFileSyncSafe(join(logs, `${dead[0]}.holder.log`)).slice(-1000)}`);
    await sleep(25);
  }
  throw new Error('lab: namespace holders did not start in time');
}

async function wireNetwork(name: string, index: number, hosts: HostSpec[], holders: Record<string, number>, ctlAddr: string): Promise<void> {
  const sw = holders.sw;
  const used = new Set(hosts.flatMap((h) => h.legs.map((l) => l.net)));
  const swBatch: string[] = [];
  for (const n of used) swBatch.push(`link add br-${n} type bridge`, `link set br-${n} up`);
  // Host side of each leg is created inside the host (no name clash with the root namespace).
  await Promise.all(hosts.map(async (h) => {
    const batch = h.legs.flatMap((l) => [`link add ${l.net} type veth peer name ${h.name}-${l.net} netns ${sw}`]);
    batch.push(...h.legs.flatMap((l) => [`addr add ${l.ip}/24 dev ${l.net}`, `link set ${l.net} up`]));
    await must('nsenter', ['-t', String(holders[h.name]), '-n', 'ip', '-batch', '-'], { input: batch.join('\n') + '\n', what: `network of ${h.name}` });
  }));
  for (const h of hosts) for (const l of h.legs) swBatch.push(`link set ${h.name}-${l.net} master br-${l.net}`, `link set ${h.name}-${l.net} up`);
  // The controller's one leg: a veth from the root namespace into the public bridge.
  await must('ip', ['link', 'add', ctlLink(name), 'type', 'veth', 'peer', 'name', 'ctl', 'netns', String(sw)]);
  swBatch.push('link set ctl master br-pub', 'link set ctl up');
  await must('nsenter', ['-t', String(sw), '-n', 'ip', '-batch', '-'], { input: swBatch.join('\n') + '\n', what: 'lab switch' });
  await run('sysctl', ['-q', '-w', `net.ipv6.conf.${ctlLink(name)}.disable_ipv6=1`]);
  await must('ip', ['addr', 'add', `${ctlAddr}/24`, 'dev', ctlLink(name)]);
  await must('ip', ['link', 'set', ctlLink(name), 'up']);
  // The lab's inner nets must never follow the controller's default route out of the machine.
  for (const net of innerNets(index)) await must('ip', ['route', 'replace', 'unreachable', net, 'proto', LAB_PROTO]);
}

const LAB_PROTO = '213'; // marks the lab's routes in the root namespace
const innerNets = (index: number) => [`${nets(index).cl}.0/24`, `${nets(index).inet}.0/24`];

interface Ctx {
  name: string; index: number; dir: string; hostsDir: string; logs: string;
  hosts: HostSpec[]; holders: Record<string, number>;
  pub: string; // user public key
  caCert: string; // lab root CA (nodes' Docker trusts it for the lab registry)
}

function etcHosts(c: Ctx, self: string): string {
  const lines = ['127.0.0.1\tlocalhost', `127.0.1.1\t${self}`, '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const h of c.hosts) for (const l of h.legs) if (l.net === 'cl' || h.kind === 'plain') lines.push(`${l.ip}\t${h.name}`);
  return lines.join('\n') + '\n';
}

/** One SSH host's own configuration, made inside its namespaces (so it lands in its upper dirs). */
async function setupSshHost(c: Ctx, h: HostSpec): Promise<string> {
  const node = /^node\d+$/.test(h.name);
  const isLb = h.name.startsWith('lb');
  const listen = sshAddrs(h).map((ip) => `ListenAddress ${ip}`).join('\n');
  const dnsIp = `${nets(c.index).cl}.53`;
  const sshd = `# rancher-play lab: sshd of ${h.name}
Port 22
${listen}
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PidFile /run/sshd.pid
AllowTcpForwarding yes
MaxSessions 100
MaxStartups 100:30:200
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
`;
  const script = bashLines([
    'set -e',
    // Own copies, so a test (or a task) writing them never writes through a symlink to the controller.
    'for f in /etc/os-release /etc/resolv.conf /etc/hostname /etc/hosts; do if [ -L "$f" ]; then t=$(readlink -f "$f"); rm -f "$f"; [ -f "$t" ] && cp "$t" "$f" || true; fi; done',
    `printf '%s\\n' ${h.name} > /etc/hostname`,
    `printf '%s' ${q(etcHosts(c, h.name))} > /etc/hosts`,
    `printf 'nameserver %s\\nsearch lab.test\\n' ${dnsIp} > /etc/resolv.conf`,
    'getent group docker >/dev/null || groupadd -r docker',
    'if ! id -u rancher >/dev/null 2>&1; then useradd -m -u 1001 -U -s /bin/bash rancher 2>/dev/null || useradd -m -U -s /bin/bash rancher; fi',
    // Unlocked accounts without a password: key login only (sshd refuses locked "!" accounts).
    "usermod -p '*' rancher; usermod -p '*' root",
    node && 'usermod -aG docker rancher',
    'install -d -m 700 /root/.ssh && install -d -m 700 -o rancher -g rancher /home/rancher/.ssh',
    `printf '%s\\n' ${q(c.pub)} > /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys`,
    `printf '%s\\n' ${q(c.pub)} > /home/rancher/.ssh/authorized_keys && chown rancher:rancher /home/rancher/.ssh/authorized_keys && chmod 600 /home/rancher/.ssh/authorized_keys`,
    h.name !== 'bastion' && "printf 'rancher ALL=(ALL:ALL) NOPASSWD: ALL\\n' > /etc/sudoers.d/rancher-lab && chmod 440 /etc/sudoers.d/rancher-lab",
    'rm -f /etc/ssh/ssh_host_*',
    "ssh-keygen -q -t ed25519 -N '' -C " + h.name + ' -f /etc/ssh/ssh_host_ed25519_key',
    `printf '%s' ${q(sshd)} > /etc/ssh/sshd_config`,
    'install -d -m 755 /run/sshd',
    // The systemctl stand-in (no systemd in the lab) drives the real dockerd / nginx of the host.
    (node || isLb) && `rm -f /usr/local/bin/systemctl && : > /usr/local/bin/systemctl && mount --bind ${q(join(FIXTURES, 'systemctl-fixture'))} /usr/local/bin/systemctl`,
    !node && 'rm -f /usr/local/bin/docker', // only nodes have Docker
    // Nodes: a real Docker Engine (started by `systemctl start docker`), state in the node's own
    // /var and /run; it trusts the lab CA for the lab registry, as an operator would set it up.
    node && 'rm -rf /var/lib/docker /var/run/docker /run/containerd /etc/systemd/system/docker.service.d /run/systemd-fixture',
    node && `install -d -m 755 /etc/docker/certs.d/${REGISTRY} && cp ${q(c.caCert)} /etc/docker/certs.d/${REGISTRY}/ca.crt`,
    // RKE2/K3s: download hosts trusted, the LB's public address reachable (lab/rke2.ts).
    ...(node ? nodeSetupLines({ caCert: c.caCert, lbPublic: ipOf(c.hosts.find((x) => x.name === 'lb1')!, 'pub'), lbCluster: ipOf(c.hosts.find((x) => x.name === 'lb1')!, 'cl'), fixtures: FIXTURES }) : []),
    isLb && 'nginx -t -q',
    'cat /etc/ssh/ssh_host_ed25519_key.pub',
  ]);
  const out = await nsMust({ pid: c.holders[h.name], mount: true }, script, `setting up ${h.name}`);
  return out.trim().split('\n').pop() ?? '';
}

async function setupPlainHost(c: Ctx, h: HostSpec): Promise<string> {
  const dir = join(c.hostsDir, h.name);
  const key = join(dir, 'ssh_host_ed25519_key');
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', h.name, '-f', key]);
  return readFileSync(`${key}.pub`, 'utf8').trim();
}

// ---------------------------------------------------------------------------------------------
// Services: each known by a pid file on the controller's side, started inside its host.

type SvcName = 'sshd' | 'nginx' | 'dns' | 'proxy' | 'internet' | 'ingress' | 'docker' | 'registry' | 'downloads';
interface Svc { host: string; svc: SvcName; pidFile: string; ports: { port: number; udp?: boolean }[] }

function services(st: LabState, name: string): Svc[] {
  const hr = hostsRoot(name);
  const run = join(labDir(name), 'run');
  const out: Svc[] = [];
  for (const h of st.hosts) {
    if (h.kind === 'ssh') out.push({ host: h.name, svc: 'sshd', pidFile: join(hr, h.name, 'upper', 'run', 'sshd.pid'), ports: [{ port: 22 }] });
    if (h.kind === 'plain') out.push({ host: h.name, svc: 'sshd', pidFile: join(run, `${h.name}.sshd.pid`), ports: [{ port: 22 }] });
    if (/^node\d+$/.test(h.name)) {
      // dockerd writes /var/run/docker.pid itself (in the node's /run); the ingress nginx its pid
      // file beside its configuration (lab/fixtures/cluster.mjs).
      out.push({ host: h.name, svc: 'docker', pidFile: join(hr, h.name, 'upper', 'run', 'docker.pid'), ports: [] });
      out.push({ host: h.name, svc: 'ingress', pidFile: join(labDir(name), 'cluster', h.name, 'nginx.pid'), ports: [{ port: 80 }, { port: 443 }] });
    }
    if (h.name.startsWith('lb')) out.push({ host: h.name, svc: 'nginx', pidFile: join(hr, h.name, 'upper', 'run', 'nginx.pid'), ports: [{ port: 80 }] });
    if (h.name === 'dns') out.push({ host: h.name, svc: 'dns', pidFile: join(run, 'dns.pid'), ports: [{ port: 53, udp: true }] });
    if (h.name === 'proxy') out.push({ host: h.name, svc: 'proxy', pidFile: join(run, 'proxy.pid'), ports: [{ port: 3128 }] });
    if (h.name === 'internet') {
      out.push({ host: h.name, svc: 'internet', pidFile: join(run, 'internet.pid'), ports: [{ port: 80 }] });
      out.push({ host: h.name, svc: 'registry', pidFile: join(run, 'registry.pid'), ports: [{ port: 443 }] });
      out.push({ host: h.name, svc: 'downloads', pidFile: join(run, 'downloads.pid'), ports: [{ port: 443 }] });
    }
  }
  return out;
}

const svcLabel: Partial<Record<SvcName, string>> = {
  docker: 'dockerd (Docker Engine)', ingress: 'ingress nginx (80/443)', registry: 'registry (docker-registry, 443)', nginx: 'nginx (LB)',
};

function svcPid(st: LabState, s: Svc): number | undefined {
  const pid = Number(readFileSyncSafe(s.pidFile));
  if (!pid || !alive(pid)) return undefined;
  // A pid file can outlive its process: the pid must live in that host's network namespace.
  return nsId(pid, 'net') === nsId(st.holders[s.host], 'net') ? pid : undefined;
}

async function startSvc(st: LabState, s: Svc): Promise<void> {
  if (svcPid(st, s)) return;
  const name = st.name;
  const dir = labDir(name);
  const info = JSON.parse(readFileSync(infoFile(name), 'utf8')) as LabInfo;
  const h = holderOf(st, s.host);
  const spec = st.hosts.find((x) => x.name === s.host) as HostSpec;
  const log = join(dir, 'logs', `${s.host}.${s.svc}.log`);
  const savePid = (pid: number) => writeFileSync(s.pidFile, `${pid}\n`);
  switch (s.svc) {
    case 'sshd':
      if (spec.kind === 'plain') {
        savePid(nsDaemon(h, '/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'plain-sshd_config'),
          '-o', `ListenAddress=${spec.legs[0].ip}`, '-o', `HostKey=${join(hostsRoot(name), s.host, 'ssh_host_ed25519_key')}`,
          '-o', `PidFile=none`], log));
      } else {
        rmSync(s.pidFile, { force: true });
        nsDaemon(h, '/usr/sbin/sshd', ['-D', '-e'], log); // writes its own /run/sshd.pid
      }
      break;
    case 'nginx':
      await nsMust(h, 'nginx -t -q && nginx', `starting nginx on ${s.host}`); // daemonizes, /run/nginx.pid
      break;
    case 'ingress':
      // The node's ingress-nginx as the cluster's current spec configures it (none at first: 404).
      await must(process.execPath, [join(FIXTURES, 'cluster.mjs'), 'node-up', s.host], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: dir }, what: `ingress nginx on ${s.host}` });
      // The API server stand-in, on the nodes where the last `rke up` started it (none before).
      await must(process.execPath, [join(FIXTURES, 'kube-api.mjs'), 'node-up', s.host], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: dir }, what: `API server on ${s.host}` });
      break;
    case 'docker':
      await nsMust(h, 'systemctl start docker', `starting dockerd on ${s.host}`);
      break;
    case 'registry':
      // An address of its own on the internet host, so :443 of the internet server stays free.
      await nsMust(h, `ip addr replace ${info.registry.address}/24 dev inet`, `registry address on ${s.host}`);
      savePid(nsDaemon(h, '/usr/bin/docker-registry', ['serve', join(dir, 'registry', 'config.yml')], log));
      break;
    case 'downloads':
      // get.rke2.io, github.com, … on an address of their own (lab/rke2.ts, downloads-server.mjs).
      await nsMust(h, `ip addr replace ${downloadsAddress(nets(st.index).inet)}/24 dev inet`, `downloads address on ${s.host}`);
      savePid(nsDaemon(h, process.execPath, [join(FIXTURES, 'downloads-server.mjs'), downloadsAddress(nets(st.index).inet), join(dir, 'downloads'),
        join(dir, 'pki', 'downloads-chain.pem'), join(dir, 'pki', 'downloads.key')], log));
      break;
    case 'internet':
      savePid(nsDaemon(h, process.execPath, [join(FIXTURES, 'internet-server.mjs'), info.internet.address, '80'], log));
      break;
    case 'dns':
      savePid(nsDaemon(h, '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
        '--no-poll', `--addn-hosts=${join(dir, 'dns', 'hosts')}`, '--local=/lab.test/', '--domain-needed', '--bogus-priv',
        `--listen-address=${spec.legs.map((l) => l.ip).join(',')}`, '--bind-interfaces', '--user=root', '--group=root',
        '--log-queries', `--log-facility=${join(dir, 'logs', 'dns.queries.log')}`, '--pid-file'], log));
      break;
    case 'proxy':
      savePid(nsDaemon(h, '/usr/bin/tinyproxy', ['-d', '-c', join(dir, 'proxy', 'tinyproxy.conf')], log));
      break;
  }
  await waitListening(st, s);
}

async function waitListening(st: LabState, s: Svc): Promise<void> {
  if (!s.ports.length) return;
  const h = holderOf(st, s.host);
  const checks = s.ports.map((p) => `ss -Hl${p.udp ? 'u' : 't'}n 'sport = :${p.port}' | grep -q .`).join(' && ');
  const r = await nsBash({ pid: h.pid, mount: false }, `for i in $(seq 1 400); do if ${checks}; then exit 0; fi; sleep 0.025; done; exit 1`);
  if (r.code !== 0) {
    const log = join(labDir(st.name), 'logs', `${s.host}.${s.svc}.log`);
    throw new Error(`lab: ${s.svc} on ${s.host} did not start listening; log ${log}: ${readFileSyncSafe(log).slice(-1500)}`);
  }
}

async function stopPid(pid: number): Promise<void> {
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(25);
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  for (let i = 0; i < 200 && alive(pid); i++) await sleep(10);
}

async function stopSvc(st: LabState, s: Svc): Promise<void> {
  const pid = svcPid(st, s);
  if (!pid) return;
  if (s.svc === 'docker') {
    await nsBash(holderOf(st, s.host), 'systemctl stop docker');
    return;
  }
  if (s.svc === 'nginx') {
    // nginx's master may not be the process we started (tasks restart it): stop through it.
    await nsBash(holderOf(st, s.host), 'nginx -s stop 2>/dev/null || true');
    for (let i = 0; i < 200 && alive(pid); i++) await sleep(25);
  }
  await stopPid(pid);
}

function writeServiceConfigs(c: Ctx, info: LabInfo): void {
  mkdirSync(join(c.dir, 'dns'), { recursive: true });
  mkdirSync(join(c.dir, 'proxy'), { recursive: true });
  writeDnsHosts(c.dir, info.dnsRecords);
  const n = nets(c.index);
  writeFileSync(join(c.dir, 'proxy', 'tinyproxy.conf'), [
    '# rancher-play lab: the HTTP proxy between the cluster net and the lab "internet"',
    'User tinyproxy', 'Group tinyproxy',
    'Port 3128', `Listen ${n.cl}.3`, 'Timeout 60', 'MaxClients 200',
    `LogFile "${info.proxy.log}"`, 'LogLevel Info',
    `Allow ${n.cl}.0/24`, 'ConnectPort 443', 'ConnectPort 80', 'ViaProxyName "lab-proxy"', '',
  ].join('\n'));
  writeFileSync(info.proxy.log, '');
  chmodSync(join(c.dir, 'proxy'), 0o777); // tinyproxy drops to its own user and writes its log here
  chmodSync(info.proxy.log, 0o666);
}

/** Registry config, its TLS certificate from the lab CA, and the lab's images in its storage. */
async function setupRegistry(c: Ctx, info: LabInfo): Promise<LabInfo['registry']['images']> {
  const dir = join(c.dir, 'registry');
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const cert = await signServer(join(c.dir, 'pki'), 'registry', REGISTRY, [info.registry.address]);
  writeFileSync(join(dir, 'config.yml'), registryConfig({ address: info.registry.address, storage: join(dir, 'storage'), cert: cert.chain, key: cert.key }));
  const built = await writeRegistryImages(join(dir, 'storage'));
  return built.map((b) => ({ ref: `${REGISTRY}/${b.name}:${b.tag}`, digest: b.digest }));
}

/** `.lab/<name>/bin/{rke,helm,kubectl}`: the fixtures, told which lab they deploy into. */
function writeWrappers(info: LabInfo): void {
  mkdirSync(join(info.dir, 'bin'), { recursive: true });
  for (const [tool, path] of Object.entries(info.bin)) {
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, wrapperScript(tool, { fixturesDir: FIXTURES, node: process.execPath, labName: info.name, labDir: info.dir }), { mode: 0o755 });
    renameSync(tmp, path);
  }
}

function writeDnsHosts(dir: string, records: Record<string, string>): void {
  const p = join(dir, 'dns', 'hosts');
  const tmp = `${p}.tmp`;
  writeFileSync(tmp, Object.entries(records).map(([n, a]) => `${a}\t${n}`).join('\n') + '\n', { mode: 0o644 });
  renameSync(tmp, p);
}

function plainSshdConfig(dir: string): void {
  writeFileSync(join(dir, 'plain-sshd_config'), [
    '# rancher-play lab: sshd of the plain benchmark hosts (keys from the lab dir)',
    'PermitRootLogin prohibit-password', `AuthorizedKeysFile ${join(dir, 'ssh', 'authorized_keys')}`,
    'StrictModes no', 'UsePAM no', 'UseDNS no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'PrintMotd no', 'MaxSessions 100', 'MaxStartups 200:30:400', 'AllowTcpForwarding yes',
    'Subsystem sftp /usr/lib/openssh/sftp-server', '',
  ].join('\n'));
}

async function build(name: string, plainHosts: number | undefined, log: (m: string) => void): Promise<LabInfo> {
  const t0 = Date.now();
  const phases: string[] = [];
  let tp = t0;
  const phase = (what: string) => { const now = Date.now(); phases.push(`${what} ${((now - tp) / 1000).toFixed(1)}s`); tp = now; };
  await ensurePackages(log);
  phase('packages');
  const index = pickIndex(name);
  const dir = labDir(name);
  const hostsDir = hostsRoot(name);
  rmSync(dir, { recursive: true, force: true });
  rmSync(hostsDir, { recursive: true, force: true });
  for (const d of ['logs', 'run', 'work', 'ssh']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'ssh'), 0o700);
  mkdirSync(hostsDir, { recursive: true, mode: 0o755 });
  const mode = plainHosts ? 'plain' : 'rancher';
  const hosts = plainHosts ? plainHostSpecs(index, plainHosts) : rancherHosts(index);
  const n = nets(index);
  const logs = join(dir, 'logs');

  // Keys and certificates are made while the namespaces come up.
  const keysP = makeSshKey(join(dir, 'ssh'));
  const pkiP = mode === 'rancher' ? makePki(join(dir, 'pki'), FQDN, [`${n.pub}.20`]) : undefined;

  const holders: Record<string, number> = {};
  holders.sw = spawnHolder(['-n'], 'ip link set lo up', marker(name, index, 'sw'), join(logs, 'sw.holder.log'));
  for (const h of hosts) {
    const { flags, setup } = holderSetup(h, join(hostsDir, h.name), `${n.cl}.53`);
    holders[h.name] = spawnHolder(flags, setup, marker(name, index, h.name), join(logs, `${h.name}.holder.log`));
  }
  // Record the holders at once, so a failure from here on is still cleaned up by `lab down`.
  const st: LabState = { name, index, mode, hosts, holders, nets: [] };
  writeJson(stateFile(name), st);
  await waitHolders(holders, logs);
  st.nets = Object.values(holders).map((p) => nsId(p, 'net')).filter((x): x is string => !!x);
  writeJson(stateFile(name), st);
  await wireNetwork(name, index, hosts, holders, `${n.pub}.1`);
  phase('namespaces');

  const { key, pub } = await keysP;
  const pki = await pkiP;
  const c: Ctx = { name, index, dir, hostsDir, logs, hosts, holders, pub, caCert: pki?.caCert ?? '' };
  const hostKeys = await Promise.all(hosts.map(async (h) => {
    if (h.kind === 'ssh') return [h, await setupSshHost(c, h)] as const;
    if (h.kind === 'plain') return [h, await setupPlainHost(c, h)] as const;
    return [h, ''] as const;
  }));
  phase('hosts');
  const knownHosts = join(dir, 'ssh', 'known_hosts');
  writeFileSync(knownHosts, hostKeys.filter(([, k]) => k).flatMap(([h, k]) => sshAddrs(h).map((ip) => {
    const [type, data] = k.split(/\s+/);
    return `${ip} ${type} ${data}`;
  })).join('\n') + '\n', { mode: 0o644 });
  writeFileSync(join(dir, 'ssh', 'authorized_keys'), `${pub}\n`, { mode: 0o600 });
  if (mode === 'plain') plainSshdConfig(dir);

  const find = (nm: string) => hosts.find((h) => h.name === nm);
  const nodes = hosts.filter((h) => /^node\d+$/.test(h.name) || h.kind === 'plain').map((h) => ({ name: h.name, address: h.legs[0].ip }));
  const lb = find('lb1');
  const inventory = join(dir, 'inventory.yml');
  const info: LabInfo = {
    name, dir, mode, index, inventory, fqdn: FQDN,
    dnsServer: mode === 'rancher' ? `${n.pub}.53` : '',
    lbPublic: lb ? ipOf(lb, 'pub') : '',
    bastion: mode === 'rancher' ? { address: `${n.pub}.10`, port: 22, clusterAddress: `${n.cl}.10` } : { address: '', port: 22, clusterAddress: '' },
    nodes,
    lb: { name: 'lb1', address: lb ? ipOf(lb, 'cl') : '' },
    proxy: { url: mode === 'rancher' ? `http://${n.cl}.3:3128` : '', address: `${n.cl}.3`, port: 3128, log: join(dir, 'proxy', 'tinyproxy.log') },
    internet: { url: mode === 'rancher' ? `http://${n.inet}.80/` : '', address: `${n.inet}.80` },
    caCert: pki?.caCert ?? '', serverCert: pki?.serverChain ?? '', serverLeaf: pki?.serverLeaf ?? '',
    intermediateCert: pki?.intermediateCert ?? '', serverKey: pki?.serverKey ?? '',
    sshKey: key, knownHosts, users: { root: 'root', rancher: 'rancher' },
    rkeFixture: join(FIXTURES, 'rke-fixture'),
    bin: { rke: join(dir, 'bin', 'rke'), rkeV1: join(dir, 'bin', 'rke-v1.4.11'), helm: join(dir, 'bin', 'helm'), kubectl: join(dir, 'bin', 'kubectl') },
    helmVars: join(dir, 'rancher-v2.7.yml'),
    registry: mode === 'rancher'
      ? { host: REGISTRY, address: `${n.inet}.5`, log: join(logs, 'internet.registry.log'), images: [], pullProbe: PULL_PROBE }
      : { host: '', address: '', log: '', images: [], pullProbe: '' },
    dnsRecords: mode === 'rancher' ? {
      [FQDN]: `${n.pub}.20`, [OTHER]: `${n.pub}.99`, 'internet.lab.test': `${n.inet}.80`, [REGISTRY]: `${n.inet}.5`,
      ...Object.fromEntries(DOWNLOAD_HOSTS.map((d) => [d, downloadsAddress(n.inet)])),
    } : {},
  };
  if (mode === 'rancher') {
    writeServiceConfigs(c, info);
    info.registry.images = await setupRegistry(c, info);
    await writeDownloads(dir, join(dir, 'pki'), dir, FIXTURES, info.caCert);
    writeWrappers(info);
  }
  writeJson(infoFile(name), info);
  phase('registry');
  await Promise.all(services(st, name).map((s) => startSvc(st, s)));
  phase('services');
  writeInventory(info, inventory);
  if (mode === 'rancher' && info.helmVars) writeHelmVars(info, info.helmVars);
  if (name === 'rp' && mode === 'rancher') {
    writeInventory(info, join(ROOT, 'inventory', 'lab.yml'));
    writeHelmVars(info, join(ROOT, 'inventory', 'vars', 'lab-rancher-v2.7.yml'));
  }
  log(`lab "${name}" up in ${((Date.now() - t0) / 1000).toFixed(1)}s (${phases.join(', ')}): ${hosts.length} hosts, inventory ${inventory}`);
  return info;
}

// ---------------------------------------------------------------------------------------------
// Public API

function assertRoot(): void {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error('lab: the lab needs Linux and root (it creates network namespaces and mounts); run it as root, e.g. `sudo npx rancher-play lab up`');
  }
}

export interface LabUpOptions { name?: string; plainHosts?: number; log?: (m: string) => void }

export async function labUp(opts: LabUpOptions = {}): Promise<LabInfo> {
  assertRoot();
  const name = labName(opts.name);
  checkName(name);
  const plain = opts.plainHosts && opts.plainHosts > 0 ? opts.plainHosts : undefined;
  if (plain && plain > 200) throw new Error('lab: plainHosts must be at most 200');
  const log = opts.log ?? (() => {});
  return withLock(async () => {
    const st = readState(name);
    const wantMode = plain ? 'plain' : 'rancher';
    const sameShape = st && st.mode === wantMode && (!plain || st.hosts.length === plain) && existsSync(infoFile(name));
    if (st && sameShape && Object.values(st.holders).every(alive)) {
      // Namespaces intact: (re)start whatever service is down, nothing else changes.
      await Promise.all(services(st, name).map((s) => startSvc(st, s)));
      return labInfo(name);
    }
    if (st || findHolders().some((h) => h.name === name)) await downUnlocked(name);
    try {
      return await build(name, plain, log);
    } catch (e) {
      await downUnlocked(name).catch(() => {});
      throw e;
    }
  });
}

async function downUnlocked(name: string): Promise<void> {
  const st = readState(name);
  const index = st?.index ?? findHolders().find((h) => h.name === name)?.index;
  const holderPids = new Set([...findHolders().filter((h) => h.name === name).map((h) => h.pid), ...Object.values(st?.holders ?? {})]);
  const netIds = new Set(st?.nets ?? []);
  for (const pid of holderPids) {
    const id = nsId(pid, 'net');
    if (id && alive(pid)) netIds.add(id);
  }
  // Everything living in the lab's network namespaces goes; holders last so mounts stay valid meanwhile.
  const others = pidsInNets(netIds).filter((p) => !holderPids.has(p));
  await Promise.all(others.map(stopPid));
  await Promise.all([...pidsInNets(netIds)].map(stopPid));
  await Promise.all([...holderPids].filter(alive).map(stopPid));
  // The root-namespace leg disappears with its peer; make sure anyway.
  if ((await run('ip', ['link', 'show', ctlLink(name)])).code === 0) await run('ip', ['link', 'del', ctlLink(name)]);
  if (index !== undefined) {
    for (const net of innerNets(index)) await run('ip', ['route', 'del', 'unreachable', net, 'proto', LAB_PROTO]);
  }
  rmSync(hostsRoot(name), { recursive: true, force: true });
  rmSync(labDir(name), { recursive: true, force: true });
  // The shared parent of host trees kept outside the repo (a checkout under /tmp) goes with the last lab.
  try { rmdirSync(dirname(hostsRoot(name))); } catch { /* not empty, or inside .lab/<name> already gone */ }
  // inventory/lab.yml stays (it is committed); only its contents describe a lab that is gone.
}

export async function labDown(name: string = DEFAULT): Promise<void> {
  name = labName(name);
  assertRoot();
  checkName(name);
  await withLock(() => downUnlocked(name));
}

async function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => { s.destroy(); res(ok); };
    s.setTimeout(2000, () => done(false));
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

export async function labStatus(name: string = DEFAULT): Promise<{ up: boolean; details: string[] }> {
  name = labName(name);
  checkName(name);
  const st = readState(name);
  if (!st) return { up: false, details: [`lab "${name}": down (not built)`] };
  const details: string[] = [];
  let up = true;
  const line = (ok: boolean, what: string) => { if (!ok) up = false; details.push(`${ok ? 'up  ' : 'down'}  ${what}`); };
  line(alive(st.holders.sw), 'switch (bridges)');
  const link = (await run('ip', ['-br', 'link', 'show', ctlLink(name)])).stdout;
  line(/\bUP\b/.test(link), `controller link ${ctlLink(name)}`);
  const svcs = services(st, name);
  for (const h of st.hosts) {
    const hs = svcs.filter((s) => s.host === h.name);
    const holder = alive(st.holders[h.name] ?? 0);
    line(holder, `${h.name.padEnd(9)} ${h.legs.map((l) => l.ip).join(' ')}${hs.length ? '' : ' (namespace)'}`);
    for (const s of hs) line(holder && svcPid(st, s) !== undefined, `${h.name.padEnd(9)} ${svcLabel[s.svc] ?? s.svc}`);
    // The Rancher stand-in runs only once the rke / helm fixture has "deployed" it.
    const rancherPid = Number(readFileSyncSafe(join(labDir(name), 'cluster', h.name, 'rancher.pid')));
    if (/^node\d+$/.test(h.name) && st.mode === 'rancher') {
      details.push(`${rancherPid && alive(rancherPid) ? 'up  ' : '-   '}  ${h.name.padEnd(9)} rancher stand-in${rancherPid && alive(rancherPid) ? '' : ' (not deployed)'}`);
    }
  }
  if (st.mode === 'rancher' && up) {
    const info = labInfo(name);
    line(await tcpOpen(info.bastion.address, 22), `controller → bastion ${info.bastion.address}:22`);
    line(await tcpOpen(info.lbPublic, 80), `controller → lb1 ${info.lbPublic}:80`);
  }
  return { up, details };
}

export function labInfo(name: string = DEFAULT): LabInfo {
  name = labName(name);
  try {
    return JSON.parse(readFileSync(infoFile(name), 'utf8')) as LabInfo;
  } catch {
    throw new Error(`lab "${name}" is not up (run: rancher-play lab up${isDefault(name) ? '' : ` --name ${name}`})`);
  }
}

export async function labCommand(action: 'up' | 'down' | 'status', opts: Record<string, string | boolean>): Promise<number> {
  const name = labName(typeof opts.name === 'string' ? opts.name : undefined);
  const plainRaw = opts.plainHosts ?? opts['plain-hosts'];
  const plainHosts = typeof plainRaw === 'string' ? Number(plainRaw) : undefined;
  try {
    if (action === 'up') {
      if (plainHosts !== undefined && (!Number.isInteger(plainHosts) || plainHosts < 1)) {
        console.error(`lab: --plain-hosts must be a positive integer, got "${String(plainRaw)}"`);
        return 5;
      }
      const info = await labUp({ name, plainHosts, log: (m) => console.log(m) });
      const st = await labStatus(name);
      for (const d of st.details) console.log(`  ${d}`);
      console.log(`inventory: ${info.inventory}${name === 'rp' && info.mode === 'rancher' ? ' (and inventory/lab.yml)' : ''}`);
      return st.up ? 0 : 1;
    }
    if (action === 'down') {
      await labDown(name);
      console.log(`lab "${name}" is down: namespaces, links, processes, mounts and .lab/${name} removed`);
      return 0;
    }
    if (action === 'status') {
      const st = await labStatus(name);
      console.log(`lab "${name}": ${st.up ? 'up' : 'down'}`);
      for (const d of st.details) console.log(`  ${d}`);
      return st.up ? 0 : 1;
    }
    console.error(`lab: unknown action "${String(action)}" (up, down, status)`);
    return 5;
  } catch (e) {
    console.error((e as Error).message);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------
// What the test hooks (lab/testing.ts: cut links, kill daemons, run commands on hosts) work with.
// They live outside this module so that the product's build does not carry them.

export { labName, requireState, holderOf, hostsRoot, services, svcPid, startSvc, stopSvc, stopPid, readFileSyncSafe, writeDnsHosts, labDir, writeJson, infoFile };
export type { LabState, Svc, SvcName };

export const labRoot = ROOT;
