// Applies ~/.ssh/config (HostName, User, Port, IdentityFile, ProxyJump) to a connection at
// connect time, like `ssh` does. Precedence: when the inventory names a host by an alias that a
// `Host` line spells out literally, the alias's settings win (the user chose that alias to get
// them); wildcard-only matches (`Host *`) only fill in what the inventory left empty.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import SSHConfig from 'ssh-config';
import type { ConnectionSpec } from '../types.js';
import { expandHome } from '../paths.js';

export interface SshConfigFile {
  /** Computed settings for a name (keys lower-cased), and whether a Host line names it literally. */
  lookup(name: string): { settings: Record<string, string | string[]>; literal: boolean };
}

const EMPTY: SshConfigFile = { lookup: () => ({ settings: {}, literal: false }) };

export function parseSshConfig(text: string): SshConfigFile {
  const cfg = SSHConfig.parse(text);
  const literals = new Set<string>();
  for (const line of cfg) {
    if (line.type === SSHConfig.DIRECTIVE && line.param.toLowerCase() === 'host') {
      const vals = Array.isArray(line.value) ? line.value.map((v) => v.val) : String(line.value).split(/\s+/);
      for (const v of vals) if (!/[*?!]/.test(v)) literals.add(v.toLowerCase());
    }
  }
  return {
    lookup(name) {
      // matchExec false: a config file must not run commands on our behalf.
      const settings = cfg.compute(name, { ignoreCase: true, matchExec: false });
      return { settings, literal: literals.has(name.toLowerCase()) };
    },
  };
}

const cache = new Map<string, SshConfigFile>();

/** The parsed `<home>/.ssh/config`, or an empty config when there is none. */
export function loadSshConfig(home?: string): SshConfigFile {
  const file = join(home ?? homedir(), '.ssh', 'config');
  let c = cache.get(file);
  if (!c) {
    try {
      c = parseSshConfig(readFileSync(file, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      c = EMPTY;
    }
    cache.set(file, c);
  }
  return c;
}

/** Forget parsed files (tests rewrite them). */
export function clearSshConfigCache(): void {
  cache.clear();
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Parse one ProxyJump element: `[user@]host[:port]` (or `[ipv6]:port`). */
export function parseJumpSpec(s: string): { user?: string; host: string; port?: number } {
  let rest = s.trim().replace(/^ssh:\/\//, '');
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let port: number | undefined;
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest);
  const host = m ? m[1]! : rest;
  if (m?.[2]) port = Number(m[2]);
  return { user, host, port };
}

const MAX_DEPTH = 8; // ProxyJump chains that loop back on themselves stop here

/**
 * The connection as `ssh` would make it: the address, user, port and key after the config, and
 * the jump chain with every hop resolved through the config too. ProxyJump applies only when the
 * inventory gave no jump chain (the inventory is the more specific source).
 */
export function applySshConfig(conn: ConnectionSpec, opts: { home?: string } = {}): ConnectionSpec {
  return resolve(conn, opts, true, 0);
}

function resolve(conn: ConnectionSpec, opts: { home?: string }, allowProxyJump: boolean, depth: number): ConnectionSpec {
  if (conn.connection !== 'ssh') return conn;
  const home = opts.home ?? homedir();
  const { settings, literal } = loadSshConfig(opts.home).lookup(conn.address);
  const out: ConnectionSpec = { ...conn };
  const hostName = first(settings.hostname);
  if (hostName) out.address = hostName.replace(/%h/g, conn.address);
  const user = first(settings.user);
  const port = first(settings.port);
  const id = first(settings.identityfile);
  if (literal) {
    if (user) out.user = user;
    if (port && /^\d+$/.test(port)) out.port = Number(port);
    if (id) out.ssh_key_path = expandHome(id, home);
  } else if (!out.ssh_key_path && id) {
    out.ssh_key_path = expandHome(id, home);
  }
  if (depth >= MAX_DEPTH) return { ...out, jump: [] };
  const proxyJump = first(settings.proxyjump);
  if (conn.jump.length === 0) {
    out.jump = [];
    if (allowProxyJump && proxyJump && proxyJump.toLowerCase() !== 'none') {
      for (const part of proxyJump.split(',')) {
        const j = parseJumpSpec(part);
        const hop: ConnectionSpec = {
          ...conn,
          address: j.host,
          port: j.port ?? 22,
          user: j.user ?? conn.user,
          ssh_key_path: undefined,
          jump: [],
          become: false,
          name: part.trim(),
        };
        // The hop's own Host block applies; an explicit user@ or :port in ProxyJump wins. Only
        // the first hop may bring its own ProxyJump chain (later hops are reached through it).
        const r = resolve(hop, opts, out.jump.length === 0, depth + 1);
        if (j.user) r.user = j.user;
        if (j.port) r.port = j.port;
        if (!r.ssh_key_path) r.ssh_key_path = conn.ssh_key_path;
        out.jump.push(...r.jump, { ...r, jump: [] });
      }
    }
  } else {
    out.jump = [];
    conn.jump.forEach((h, i) => {
      const r = resolve({ ...h, jump: [] }, opts, i === 0, depth + 1);
      out.jump.push(...r.jump, { ...r, jump: [] });
    });
  }
  return out;
}
