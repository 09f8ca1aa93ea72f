// The ssh options Ansible passes on the command line (ansible_ssh_args, _common_args,
// _extra_args, in that order), read for what changes where we connect: ProxyJump / -J /
// ProxyCommand "ssh -W", and UserKnownHostsFile. OpenSSH keeps the first value it obtains for
// each option, so the first jump setting wins. Anything else that would change the connection
// is reported, not ignored.
import { shlexSplit } from './shlex.js';

export interface SshArgsMeaning {
  /** undefined: no jump setting at all; []: explicitly direct (ProxyJump=none). */
  jump?: string[];
  knownHosts?: string;
  unsupported?: string;
  /** The identity (`-i`) a ProxyCommand's ssh uses for its hop, by the hop's jump spec. */
  hopKeys?: Record<string, string>;
}

// Options that only tune OpenSSH itself; rancher-play keeps its own (stricter) behaviour.
const IGNORABLE = /^(StrictHostKeyChecking|UpdateHostKeys|HashKnownHosts|CheckHostIP|ServerAliveInterval|ServerAliveCountMax|ConnectTimeout|ConnectionAttempts|ControlMaster|ControlPersist|ControlPath|ForwardAgent|Compression|TCPKeepAlive|LogLevel|IdentitiesOnly|PreferredAuthentications|PubkeyAuthentication|PasswordAuthentication|KbdInteractiveAuthentication|GSSAPIAuthentication|AddKeysToAgent|BatchMode)$/i;
const FLAGS = new Set(['-C', '-q', '-A', '-a', '-T', '-x', '-v', '-vv', '-vvv']);

/** Reads several ssh argument strings, in command-line order. */
export function sshArgsMeaning(argStrings: string[]): SshArgsMeaning {
  const toks: string[] = [];
  for (const s of argStrings) {
    try {
      // _split_ssh_args: shlex.split without comments
      toks.push(...shlexSplit(s.trim(), false).map((t) => t.text));
    } catch {
      return { unsupported: 'unbalanced quotes' };
    }
  }
  let jump: string[] | undefined;
  let knownHosts: string | undefined;
  const hopKeys: Record<string, string> = {};
  const setJump = (list: string[]): void => {
    if (jump === undefined) jump = list;
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t === '-J' || (t.startsWith('-J') && t.length > 2)) {
      const v = t === '-J' ? toks[++i] : t.slice(2);
      if (v === undefined) return { unsupported: 'ssh option -J without a value' };
      // ssh itself stops at a -J after another jump setting ("Only a single -J option is permitted").
      if (jump !== undefined) return { unsupported: '-J after another ProxyJump/-J (ssh refuses it)' };
      setJump(jumpList(v));
      continue;
    }
    if (FLAGS.has(t)) continue;
    let opt: string | undefined;
    if (t === '-o') opt = toks[++i];
    else if (t.startsWith('-o')) opt = t.slice(2);
    else return { unsupported: `ssh argument "${t}"` };
    if (opt === undefined) return { unsupported: 'ssh option -o without a value' };
    const m = /^\s*(\w+)(?:\s*=\s*|\s+)(.*)$/.exec(opt);
    if (!m) return { unsupported: `ssh option "${opt}"` };
    const name = m[1]!;
    const value = m[2]!.trim();
    if (/^ProxyJump$/i.test(name)) setJump(jumpList(value));
    else if (/^ProxyCommand$/i.test(name)) {
      if (value.toLowerCase() === 'none') setJump([]);
      else {
        const target = proxyCommandTarget(value);
        if (!target) return { unsupported: `ProxyCommand "${value}" (only "ssh -W %h:%p [-q] [-i KEY] [-p PORT] [-l USER] [user@]host" is understood; prefer ProxyJump)` };
        if (jump === undefined && target.identity) hopKeys[target.spec] = target.identity;
        setJump([target.spec]);
      }
    } else if (/^UserKnownHostsFile$/i.test(name)) {
      // OpenSSH allows several files; rancher-play checks one. First value wins.
      knownHosts ??= value.split(/\s+/)[0];
    } else if (!IGNORABLE.test(name)) return { unsupported: `ssh option ${name}` };
  }
  return { jump, knownHosts, ...(Object.keys(hopKeys).length ? { hopKeys } : {}) };
}

/** Kept for callers that read one string. */
export function jumpFromSshArgs(args: string): { jump: string[]; knownHosts?: string; unsupported?: string } {
  const r = sshArgsMeaning([args]);
  return { ...r, jump: r.jump ?? [] };
}

function jumpList(v: string): string[] {
  if (v.toLowerCase() === 'none') return [];
  return v.split(',').map((s) => s.trim().replace(/^ssh:\/\//, '')).filter(Boolean);
}

function proxyCommandTarget(cmd: string): { spec: string; identity?: string } | undefined {
  let t: string[];
  try {
    t = shlexSplit(cmd, false).map((x) => x.text);
  } catch {
    return undefined;
  }
  if (t[0] !== 'ssh' && !t[0]?.endsWith('/ssh')) return undefined;
  let user: string | undefined;
  let port: string | undefined;
  let host: string | undefined;
  let identity: string | undefined;
  let sawW = false;
  for (let i = 1; i < t.length; i++) {
    const a = t[i]!;
    if (a === '-W') sawW = /^(%h|\[%h\]):%p$/.test(t[++i] ?? '');
    else if (a === '-p') port = t[++i];
    else if (a === '-l') user = t[++i];
    // The first -i is the key ssh offers first; several are not mapped.
    else if (a === '-i') {
      if (identity !== undefined || t[i + 1] === undefined) return undefined;
      identity = t[++i];
    } else if (a === '-o') {
      // Only the tuning options that change nothing about where or as whom the hop connects.
      const m = /^\s*(\w+)(?:\s*=\s*|\s+)/.exec(t[++i] ?? '');
      if (!m || !IGNORABLE.test(m[1]!)) return undefined;
    } else if (FLAGS.has(a)) continue;
    else if (a.startsWith('-')) return undefined;
    else if (host) return undefined;
    else host = a;
  }
  if (!sawW || !host) return undefined;
  if (user && !host.includes('@')) host = `${user}@${host}`;
  const spec = port ? `${host}:${port}` : host;
  return identity !== undefined ? { spec, identity } : { spec };
}
