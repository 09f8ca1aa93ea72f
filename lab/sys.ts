// Process and namespace plumbing for the lab: run commands, enter a lab host's namespaces,
// start detached daemons inside them, find the lab's namespace holders by their marker.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ExecResult { code: number; stdout: string; stderr: string }

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + String(e.message) }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => { /* the command may exit before reading its input */ });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but a non-zero exit is an error naming the command and its stderr. */
export async function must(cmd: string, args: string[], opts: { input?: string; what?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    const what = opts.what ?? `${cmd} ${args.join(' ')}`.slice(0, 200);
    throw new Error(`lab: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  }
  return r.stdout;
}

/** Which namespaces of a holder to enter: every lab host has a netns; SSH hosts also mount+uts. */
export interface Holder { pid: number; mount: boolean }

export function nsArgs(h: Holder): string[] {
  return ['-t', String(h.pid), '-n', ...(h.mount ? ['-m', '-u'] : [])];
}

/** Run a bash script inside a holder's namespaces (the script comes on stdin). */
export function nsBash(h: Holder, script: string): Promise<ExecResult> {
  return run('nsenter', [...nsArgs(h), '--', 'bash', '-s'], { input: script });
}

export async function nsMust(h: Holder, script: string, what: string): Promise<string> {
  const r = await nsBash(h, script);
  if (r.code !== 0) throw new Error(`lab: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-2000)}`);
  return r.stdout;
}

/** Start a long-lived process inside a holder's namespaces, detached from us; returns its pid. */
export function nsDaemon(h: Holder, cmd: string, args: string[], logFile: string): number {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn('nsenter', [...nsArgs(h), '--', cmd, ...args], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new Error(`lab: could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Spawn a namespace holder: a process that owns fresh namespaces and sleeps with a marker name. */
export function spawnHolder(unshareFlags: string[], setup: string, marker: string, logFile: string): number {
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const script = `set -e\n${setup}\nexec -a ${marker} sleep infinity\n`;
    const child = spawn('unshare', [...unshareFlags, '--', 'bash', '-c', script], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (!child.pid) throw new Error('lab: could not start a namespace holder');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false; // gone between the check and the read
  }
}

export function nsId(pid: number, kind: 'net' | 'mnt'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${kind}`);
  } catch {
    return undefined;
  }
}

export function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
}

/** Holders of every lab on this machine, found by the `rpl:<name>:<index>:<role>` marker. */
export interface Marked { pid: number; name: string; index: number; role: string }

export function findHolders(): Marked[] {
  const out: Marked[] = [];
  for (const pid of allPids()) {
    const a0 = cmdline(pid)[0];
    const m = a0 ? /^rpl:([a-z][a-z0-9]*):(\d+):([a-z0-9-]+)$/.exec(a0) : null;
    if (m) out.push({ pid, name: m[1], index: Number(m[2]), role: m[3] });
  }
  return out;
}

/** Pids of every process living in one of the given network namespaces. */
export function pidsInNets(nets: Set<string>): number[] {
  return allPids().filter((p) => {
    const n = nsId(p, 'net');
    return n !== undefined && nets.has(n);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Single-quote for bash. */
export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
