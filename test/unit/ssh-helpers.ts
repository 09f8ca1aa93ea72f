// Real sshd instances on 127.0.0.1 high ports for the SSH transport tests (no lab needed):
// temp host keys, one client key authorised for every user, test users for become.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionSpec } from '../../runner/types.js';

// Per-process names: test runs of several people may overlap, and one run's clean-up must not
// remove the users (or the sudoers rule) another run is using.
export const BECOME_USER = `rp-sudo-${process.pid}`;
export const NOSUDO_USER = `rp-nosudo-${process.pid}`;

/** useradd/userdel lock /etc/passwd; a concurrent run may hold it for a moment. */
function retry(cmd: string, args: string[]): void {
  for (let i = 0; ; i++) {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' });
      return;
    } catch (e) {
      if (i >= 20) throw e;
      execFileSync('sleep', ['0.2']);
    }
  }
}

/** Installs openssh-server and sudo when missing (daemons kept from auto-starting). */
export function ensureTools(): void {
  if (existsSync('/usr/sbin/sshd') && existsSync('/usr/bin/sudo')) return;
  if (!existsSync('/usr/sbin/policy-rc.d')) {
    writeFileSync('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  }
  const apt = (args: string[]) => execFileSync('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, stdio: 'ignore' });
  const install = ['install', '-y', '--no-install-recommends', 'openssh-server', 'sudo'];
  try {
    apt(install);
  } catch {
    apt(['update']); // a fresh machine has no package lists yet
    apt(install);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A scratch directory (world-readable: sshd reads authorized_keys as the logging-in user). */
export function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'rp-ssh-'));
  chmodSync(d, 0o755);
  scratches.push(d);
  return d;
}

const scratches: string[] = [];
// Scratch directories hold private keys: removed when the test file's process ends.
process.once('exit', () => {
  for (const d of scratches) rmSync(d, { recursive: true, force: true });
});

export function keygen(file: string, type = 'ed25519', passphrase = ''): string {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', 'rp-test', '-f', file]);
  return readFileSync(`${file}.pub`, 'utf8').trim();
}

export interface Sshd {
  port: number;
  dir: string;
  /** `ssh-ed25519 AAAA...` of the current host key. */
  hostPub: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** Kill every session process of this sshd (open connections drop, as in a crash). */
  killSessions(): void;
  /** Restart with a freshly generated host key. */
  regenerateHostKey(): Promise<void>;
}

export interface ClientKey {
  path: string;
  pub: string;
}

async function waitListening(port: number, proc: ChildProcess): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd exited with ${proc.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startSshd(authorized: ClientKey[], extra = ''): Promise<Sshd> {
  ensureTools();
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation directory
  const dir = scratch();
  const port = await freePort();
  const hostKey = join(dir, 'host_ed25519');
  writeFileSync(join(dir, 'authorized_keys'), authorized.map((k) => k.pub).join('\n') + '\n', { mode: 0o644 });
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin yes',
    'UsePAM no',
    'AllowTcpForwarding yes',
    'MaxStartups 100',
    'LogLevel ERROR',
    extra,
  ].join('\n');
  writeFileSync(join(dir, 'sshd_config'), config + '\n');
  const s: Sshd = {
    port,
    dir,
    hostPub: keygen(hostKey),
    proc: undefined as unknown as ChildProcess,
    async stop() {
      if (s.proc.exitCode !== null || s.proc.signalCode) return;
      const done = new Promise((r) => s.proc.once('exit', r));
      s.proc.kill('SIGTERM');
      await done;
    },
    killSessions() {
      for (const pid of descendants(s.proc.pid!)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
    },
    async regenerateHostKey() {
      await s.stop();
      rmSync(hostKey);
      rmSync(`${hostKey}.pub`);
      s.hostPub = keygen(hostKey);
      await launch();
    },
  };
  const launch = async () => {
    s.proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    s.proc.stderr!.on('data', () => undefined);
    await waitListening(port, s.proc);
  };
  await launch();
  return s;
}

/** Every process below `pid` (from /proc), so tests end only what they started. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** known_hosts text recording the given sshd instances' current keys. */
export function knownHostsFor(...servers: Sshd[]): string {
  return servers.map((s) => `[127.0.0.1]:${s.port} ${s.hostPub.split(' ').slice(0, 2).join(' ')}`).join('\n') + '\n';
}

export function conn(over: Partial<ConnectionSpec> & { port: number; known_hosts: string }): ConnectionSpec {
  return {
    connection: 'ssh',
    address: '127.0.0.1',
    user: 'root',
    jump: [],
    become: false,
    connect_timeout_ms: 5000,
    name: `node-${over.port}`,
    ...over,
  };
}

/** Creates the test users: one with NOPASSWD sudo, one without any sudo rights. */
export function ensureUsers(): void {
  ensureTools(); // /etc/sudoers.d comes with sudo: a fresh machine may not have it yet
  for (const u of [BECOME_USER, NOSUDO_USER]) {
    try {
      execFileSync('id', [u], { stdio: 'ignore' });
    } catch {
      retry('useradd', ['-m', '-s', '/bin/sh', u]);
    }
    // sshd refuses accounts whose password field is locked ("!") when UsePAM is off.
    retry('usermod', ['-p', '*', u]);
  }
  writeFileSync(`/etc/sudoers.d/${BECOME_USER}`, `${BECOME_USER} ALL=(ALL) NOPASSWD: ALL\n`, { mode: 0o440 });
}

export function removeUsers(): void {
  rmSync(`/etc/sudoers.d/${BECOME_USER}`, { force: true });
  for (const u of [BECOME_USER, NOSUDO_USER]) {
    try {
      execFileSync('id', [u], { stdio: 'ignore' });
    } catch {
      continue; // already gone
    }
    retry('userdel', ['-f', '-r', u]); // -f: a session may still be closing
  }
}

/** `SHA256:...` of a public key line, as ssh-keygen computes it (an independent oracle). */
export function sshKeygenFingerprint(pubLine: string, dir: string): string {
  const f = join(dir, `fp-${Math.random().toString(36).slice(2)}.pub`);
  writeFileSync(f, pubLine + '\n');
  const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', f], { encoding: 'utf8' });
  rmSync(f);
  return out.split(' ')[1]!;
}
