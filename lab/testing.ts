// Test hooks for fault and end-to-end tests: run commands inside a lab host, cut or slow its
// links, stop and start its daemons, change its DNS. Never used by the product, so left out of
// the build (tsconfig.json excludes this file; the bundle has no lab at all).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Resolver } from 'node:dns/promises';
import {
  type LabState, type Svc, type SvcName, holderOf, hostsRoot, infoFile, labDir, labInfo, labName, readFileSyncSafe,
  requireState, services, startSvc, stopPid, stopSvc, svcPid, writeDnsHosts, writeJson,
} from './lab.js';
import { type ExecResult, must, nsId, nsMust, pidsInNets, run, sleep } from './sys.js';


export async function labExec(host: string, cmd: string, name?: string): Promise<ExecResult> {
  name = labName(name);
  const st = requireState(name);
  const h = holderOf(st, host);
  return run('nsenter', ['-t', String(h.pid), '-n', ...(h.mount ? ['-m', '-u'] : []), '--', 'bash', '-c', cmd]);
}

export function upperDir(host: string, name?: string): string {
  name = labName(name);
  return join(hostsRoot(name), host, 'upper');
}

function svcOf(st: LabState, host: string, svc: SvcName): Svc {
  const s = services(st, st.name).find((x) => x.host === host && x.svc === svc);
  if (!s) throw new Error(`lab "${st.name}": ${host} has no ${svc}`);
  return s;
}

/** Kill the host's sshd and every SSH session it serves (open connections drop, as in a crash). */
export async function stopSshd(host: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  await stopSvc(st, svcOf(st, host, 'sshd'));
  const net = nsId(st.holders[host], 'net');
  const sessions = net ? pidsInNets(new Set([net])).filter((p) => /^sshd/.test(readFileSyncSafe(`/proc/${p}/comm`))) : [];
  await Promise.all(sessions.map((p) => { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } return stopPid(p); }));
}

export async function startSshd(host: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  await startSvc(st, svcOf(st, host, 'sshd'));
}

export async function regenHostKey(host: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  const spec = st.hosts.find((h) => h.name === host);
  if (spec?.kind === 'plain') {
    const key = join(hostsRoot(name), host, 'ssh_host_ed25519_key');
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', host, '-f', key]);
  } else {
    await nsMust(holderOf(st, host), "rm -f /etc/ssh/ssh_host_ed25519_key*; ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key", `new host key on ${host}`);
  }
  await stopSshd(host, name);
  await startSshd(host, name);
}

export async function setLink(host: string, up: boolean, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  const spec = st.hosts.find((h) => h.name === host);
  if (!spec) throw new Error(`lab "${name}": no host named "${host}"`);
  await must('nsenter', ['-t', String(st.holders[host]), '-n', 'ip', '-batch', '-'],
    { input: spec.legs.map((l) => `link set ${l.net} ${up ? 'up' : 'down'}`).join('\n') + '\n' });
}

/**
 * Slow down a host's links by `ms` (0 removes it). netem delays every packet by `ms`; kernels
 * without netem (sch_netem) get a token bucket instead, where a full 1500-byte packet takes about
 * `ms` to pass: still a slow link, with the delay growing with the traffic.
 */
export async function setDelay(host: string, ms: number, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  const spec = st.hosts.find((h) => h.name === host);
  if (!spec) throw new Error(`lab "${name}": no host named "${host}"`);
  const tc = (lines: string[]) => run('nsenter', ['-t', String(st.holders[host]), '-n', 'tc', '-force', '-batch', '-'], { input: lines.join('\n') + '\n' });
  if (ms <= 0) {
    await tc(spec.legs.map((l) => `qdisc del dev ${l.net} root`));
    return;
  }
  let r = await tc(spec.legs.map((l) => `qdisc replace dev ${l.net} root netem delay ${ms}ms`));
  if (r.code !== 0 && /unknown/i.test(r.stderr)) {
    const bits = Math.max(8000, Math.floor((1500 * 8 * 1000) / ms));
    r = await tc(spec.legs.map((l) => `qdisc replace dev ${l.net} root tbf rate ${bits}bit burst 1600 latency 60s`));
  }
  if (r.code !== 0) throw new Error(`lab: cannot slow down ${host}: ${r.stderr.trim()}`);
}

type HookSvc = 'proxy' | 'dns' | 'nginx' | 'docker' | 'registry' | 'ingress';
const defaultHost: Record<HookSvc, string> = { proxy: 'proxy', dns: 'dns', nginx: 'lb1', docker: 'node1', registry: 'internet', ingress: 'node1' };

/** Stop a lab service (docker: the node's dockerd, as `systemctl stop docker` would). */
export async function stopService(svc: HookSvc, host?: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  await stopSvc(st, svcOf(st, host ?? defaultHost[svc], svc));
}

export async function startService(svc: HookSvc, host?: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  await startSvc(st, svcOf(st, host ?? defaultHost[svc], svc));
}

/** Point a lab DNS name somewhere else (A record); dnsmasq rereads its hosts file on SIGHUP. */
export async function setDnsRecord(fqdn: string, address: string, name?: string): Promise<void> {
  name = labName(name);
  const st = requireState(name);
  const info = labInfo(name);
  info.dnsRecords = { ...info.dnsRecords, [fqdn]: address };
  writeDnsHosts(labDir(name), info.dnsRecords);
  writeJson(infoFile(name), info);
  const pid = svcPid(st, svcOf(st, 'dns', 'dns'));
  if (!pid) return;
  process.kill(pid, 'SIGHUP');
  // dnsmasq rereads on its next loop turn: return once it answers with the new address.
  const r = new Resolver();
  r.setServers([info.dnsServer]);
  for (let i = 0; i < 200; i++) {
    const got = await r.resolve4(fqdn).catch(() => [] as string[]);
    if (got.includes(address)) return;
    await sleep(25);
  }
  throw new Error(`lab: the lab DNS still does not answer ${fqdn} → ${address}`);
}

