// Inventory loading: YAML → schema check → hosts with fully resolved ConnectionSpecs (defaults,
// ~ expansion, jump chains) and groups. Reference errors (unknown hosts, jump names) carry
// positions and did-you-mean hints. ~/.ssh/config is applied by resolveInventory (and by the SSH
// transport for a spec not resolved yet): one resolution for what is shown and what connects.
import { homedir, userInfo } from 'node:os';
import { dirname, resolve as resolvePath } from 'node:path';
import { InputError, type InputProblem } from '../errors.js';
import { loadYamlFile, type YamlSource } from './yamlsrc.js';
import { ansibleInventorySource } from './ansible/index.js';
import { inventorySchema, schemaProblems } from './schema.js';
import { suggestion } from './suggest.js';
import { resolveFrom } from '../paths.js';
import { hostProblem } from '../hostname.js';
import { limitPatterns, selectLimit, selectPattern } from './patterns.js';
import { resolveConnection, type ResolveOptions } from '../transport/ssh-config.js';
import type { ConnectionSpec, Group, Host, Inventory, SourcePos, Vars } from '../types.js';

interface RawConn {
  address?: string;
  port?: number;
  user?: string;
  ssh_key_path?: string;
  jump?: string | string[];
  become?: boolean;
  connection?: 'ssh' | 'local';
  vars?: Vars;
}
interface RawDefaults extends RawConn {
  known_hosts?: string;
  connect_timeout?: number;
}
interface RawInventory {
  defaults?: RawDefaults;
  jump_hosts?: Record<string, RawConn>;
  hosts?: Record<string, RawConn | null>;
  groups?: Record<string, { hosts?: string[]; vars?: Vars } | null>;
  vars?: Vars;
  secret?: string[];
}

const sources = new WeakMap<Inventory, YamlSource>();
const implicitHosts = new WeakMap<Inventory, Set<string>>();

/** The parsed source of an inventory (for positions of later errors). */
export function inventorySource(inv: Inventory): YamlSource | undefined {
  return sources.get(inv);
}

function currentUser(): string {
  if (process.env.USER) return process.env.USER;
  try {
    return userInfo().username || 'root';
  } catch {
    return 'root';
  }
}


/** Parse `user@host:port` (IPv6 in brackets). */
export function parseAdHoc(spec: string): { user?: string; address: string; port?: number } | undefined {
  const m = /^(?:([^@\s:]+)@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) return undefined;
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { user: m[1], address: m[2]!.replace(/^\[|\]$/g, ''), port };
}

export function loadInventory(file: string, opts: { home?: string } = {}): Inventory {
  // Ansible INI/YAML inventories are converted to the native document first (same checks after).
  const src = ansibleInventorySource(file) ?? loadYamlFile(file);
  const schemaErrs = schemaProblems(inventorySchema(), src, 'inventory');
  if (schemaErrs.length) throw new InputError(schemaErrs);

  const raw = src.value as RawInventory;
  const home = opts.home ?? homedir();
  const baseDir = dirname(resolvePath(file));
  const problems: InputProblem[] = [];
  const d: RawDefaults = raw.defaults ?? {};
  const defaultUser = d.user ?? currentUser();
  const knownHosts = resolveFrom(baseDir, d.known_hosts ?? '~/.ssh/known_hosts', home);
  const timeoutMs = Math.round((d.connect_timeout ?? 10) * 1000);
  const jumpRaw = raw.jump_hosts ?? {};
  const hostRaw = raw.hosts ?? {};

  const baseSpec = (name: string, c: RawConn, withDefaults: boolean): ConnectionSpec => {
    const key = c.ssh_key_path ?? d.ssh_key_path;
    const spec: ConnectionSpec = {
      connection: c.connection ?? (name === 'localhost' && c.address === undefined ? 'local' : 'ssh'),
      address: c.address ?? (name === 'localhost' ? '127.0.0.1' : name),
      port: c.port ?? d.port ?? 22,
      user: c.user ?? defaultUser,
      jump: [],
      become: c.become ?? (withDefaults ? d.become ?? false : false),
      known_hosts: knownHosts,
      connect_timeout_ms: timeoutMs,
      name,
      // Only values the inventory wrote win over ~/.ssh/config (the local user and 22 come after it).
      explicit: { user: c.user !== undefined || d.user !== undefined, port: c.port !== undefined || d.port !== undefined },
    };
    if (key !== undefined) spec.ssh_key_path = resolveFrom(baseDir, key, home);
    return spec;
  };

  // Jump chains are resolved lazily with memoisation and cycle detection.
  const resolvedJumps = new Map<string, ConnectionSpec>();
  const resolving = new Set<string>();
  const jumpTargets = [...Object.keys(jumpRaw), ...Object.keys(hostRaw)];

  const resolveChain = (jump: string | string[] | undefined, at: (string | number)[]): ConnectionSpec[] => {
    if (jump === undefined) return [];
    const list = Array.isArray(jump) ? jump : [jump];
    const chain: ConnectionSpec[] = [];
    list.forEach((j, i) => {
      const where = Array.isArray(jump) ? [...at, i] : at;
      const hop = resolveHop(j, where);
      if (hop) chain.push(...hop.jump, hop);
    });
    return chain;
  };

  const resolveHop = (name: string, at: (string | number)[]): ConnectionSpec | undefined => {
    const known = resolvedJumps.get(name);
    if (known) return known;
    const entry = jumpRaw[name] ?? (Object.prototype.hasOwnProperty.call(hostRaw, name) ? hostRaw[name] ?? {} : undefined);
    if (entry) {
      const isJumpHost = Object.prototype.hasOwnProperty.call(jumpRaw, name);
      if (resolving.has(name)) {
        problems.push({ pos: src.posOf(at), key: at.join('.'), message: `jump chain loops back to "${name}"` });
        return undefined;
      }
      resolving.add(name);
      const spec = baseSpec(name, entry, !isJumpHost);
      spec.connection = 'ssh';
      const own = isJumpHost ? entry.jump : entry.jump ?? d.jump;
      spec.jump = resolveChain(own, [isJumpHost ? 'jump_hosts' : 'hosts', name, 'jump']);
      resolving.delete(name);
      resolvedJumps.set(name, spec);
      return spec;
    }
    const adhoc = /[@:.]/.test(name) ? parseAdHoc(name) : undefined;
    if (adhoc) {
      const spec = baseSpec(name, { address: adhoc.address, user: adhoc.user, port: adhoc.port }, false);
      spec.connection = 'ssh';
      return spec;
    }
    problems.push({
      pos: src.valuePosOf(at),
      key: at.join('.'),
      message: `unknown jump host "${name}"${suggestion(name, jumpTargets)}; use a name from jump_hosts or "user@host:port"`,
    });
    return undefined;
  };

  // An address reaches ssh, ssh -G and task command lines: only names and IP addresses pass.
  for (const [section, entries] of [['jump_hosts', jumpRaw], ['hosts', hostRaw]] as const) {
    for (const [name, entry] of Object.entries(entries)) {
      if (typeof entry?.address === 'string') {
        const bad = hostProblem(entry.address);
        if (bad) problems.push({ pos: src.valuePosOf([section, name, 'address']), key: `${section}.${name}.address`, message: `address ${bad}` });
      } else if (entry?.connection !== 'local' && name !== 'localhost') {
        const bad = hostProblem(name, { underscore: true });
        if (bad) problems.push({ pos: src.posOf([section, name]), key: `${section}.${name}`, message: `host name used as the address ${bad}; set address:` });
      }
    }
  }
  for (const name of Object.keys(jumpRaw)) resolveHop(name, ['jump_hosts', name]);

  const hosts = new Map<string, Host>();
  for (const [name, entryOrNull] of Object.entries(hostRaw)) {
    const entry: RawConn = entryOrNull ?? {};
    const conn = baseSpec(name, entry, true);
    if (conn.connection === 'ssh') {
      const jump = entry.jump ?? d.jump;
      conn.jump = resolveChain(jump, entry.jump !== undefined ? ['hosts', name, 'jump'] : ['defaults', 'jump']);
    }
    hosts.set(name, {
      name,
      conn,
      vars: { ...(entry.vars ?? {}) },
      groups: [],
      entry: { ...entry },
      pos: src.posOf(['hosts', name]),
    });
  }
  const implicit = new Set<string>();
  if (!hosts.has('localhost')) {
    implicit.add('localhost');
    hosts.set('localhost', {
      name: 'localhost',
      conn: { ...baseSpec('localhost', {}, false), connection: 'local', user: currentUser() },
      vars: {},
      groups: [],
      entry: { connection: 'local' },
    });
  }

  const groups = new Map<string, Group>();
  const hostNames = [...hosts.keys()];
  for (const [gname, gOrNull] of Object.entries(raw.groups ?? {})) {
    const g = gOrNull ?? {};
    const gpos = src.posOf(['groups', gname]);
    if (gname === 'all') {
      problems.push({ pos: gpos, key: 'groups.all', message: '"all" is reserved (every host); put its vars under the top-level vars' });
      continue;
    }
    if (hosts.has(gname)) {
      problems.push({ pos: gpos, key: `groups.${gname}`, message: `group "${gname}" has the same name as a host` });
    }
    const members: string[] = [];
    (g.hosts ?? []).forEach((h, i) => {
      if (!hosts.has(h)) {
        problems.push({
          pos: src.posOf(['groups', gname, 'hosts', i]),
          key: `groups.${gname}.hosts`,
          message: `unknown host "${h}"${suggestion(h, hostNames)}`,
        });
        return;
      }
      if (!members.includes(h)) members.push(h);
      const host = hosts.get(h)!;
      if (!host.groups.includes(gname)) host.groups.push(gname);
    });
    groups.set(gname, { name: gname, hosts: members, vars: { ...(g.vars ?? {}) }, pos: gpos });
  }
  for (const h of hosts.values()) h.groups.sort();
  groups.set('all', { name: 'all', hosts: hostNames.filter((h) => !implicit.has(h)), vars: {} });

  const secrets = new Set<string>(raw.secret ?? []);
  for (const p of src.secretPaths) {
    const i = p.indexOf('vars');
    if (i >= 0 && p.length > i + 1) secrets.add(String(p[i + 1]));
    else problems.push({ pos: src.posOf(p), key: p.join('.'), message: '!secret is only meaningful on variables (under vars:)' });
  }

  if (problems.length) throw new InputError(problems);
  const inv: Inventory = { file, hosts, groups, vars: { ...(raw.vars ?? {}) }, secrets };
  sources.set(inv, src);
  implicitHosts.set(inv, implicit);
  return inv;
}

/**
 * The command line's -u / --private-key / -b for hosts whose inventory left them unset (as in
 * Ansible, the inventory's own values win). -u and the key then count as written, so they win
 * over ~/.ssh/config like ssh -o.
 */
export function applyConnectionFlags(inv: Inventory, f: { user?: string; privateKey?: string; become?: boolean }, home = homedir()): void {
  for (const h of inv.hosts.values()) {
    const c = h.conn;
    if (c.connection !== 'ssh') continue;
    if (f.user !== undefined && !(c.explicit?.user ?? true)) h.conn = { ...h.conn, user: f.user, explicit: { user: true, port: c.explicit?.port ?? true } };
    if (f.privateKey !== undefined && !c.ssh_key_path) h.conn = { ...h.conn, ssh_key_path: resolveFrom(process.cwd(), f.privateKey, home) };
    if (f.become && h.entry.become !== false) h.conn = { ...h.conn, become: true };
  }
}

/**
 * Applies ~/.ssh/config to the named hosts' connections (all by default) in place, as ssh would
 * make them; the transport then connects exactly what `inventory --json` shows. A config ssh
 * itself rejects, or a ProxyCommand that cannot be honoured, is an InputError (exit 5).
 */
export async function resolveInventory(inv: Inventory, names?: string[], opts: ResolveOptions = {}): Promise<void> {
  const hosts = (names ?? [...inv.hosts.keys()]).map((n) => inv.hosts.get(n)).filter((h): h is Host => h !== undefined);
  const problems = new Map<string, InputProblem>();
  await Promise.all(hosts.map(async (h) => {
    try {
      h.conn = await resolveConnection(h.conn, opts);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      for (const p of e.problems) problems.set(`${p.pos?.file}:${p.pos?.line}:${p.message}`, p);
    }
  }));
  if (problems.size) throw new InputError([...problems.values()]);
}

// ---------------------------------------------------------------- selection

/** The inventory's host and group names, for did-you-mean hints on patterns that match nothing. */
function patternHint(inv: Inventory, warning: string): string {
  const m = /ignoring: (.*)$/.exec(warning);
  const name = m?.[1]?.replace(/^[!&]/, '') ?? '';
  const implicit = implicitHosts.get(inv);
  return `${warning}${suggestion(name, [...[...inv.hosts.keys()].filter((h) => !implicit?.has(h)), ...inv.groups.keys()])}`;
}

/**
 * Resolve host patterns as Ansible does (see ./patterns.ts): names, groups, globs, `~regex`,
 * subscripts, `&`/`!`, separated by `,` or `:`. Names that match nothing are only reported
 * through `onWarning` (with a did-you-mean hint); a malformed pattern is an InputError at `where`.
 */
export function selectHosts(inv: Inventory, patterns: string[], where?: SourcePos, key = 'hosts', onWarning?: (w: string) => void): string[] {
  const sel = selectPattern(inv, patterns, where, key);
  for (const w of sel.warnings) onWarning?.(patternHint(inv, w));
  return sel.hosts;
}

/**
 * The --limit value: the last --limit given (as in ansible-playbook), split into patterns, with
 * `@file` read. The hosts it leaves over the whole inventory must not be empty ("no hosts to
 * target", an InputError), unless the inventory has no hosts at all.
 */
export function limitSelection(inv: Inventory, limit: string[] | undefined, onWarning?: (w: string) => void): string[] | undefined {
  if (!limit?.length) return undefined;
  const patterns = limitPatterns(limit[limit.length - 1]!);
  const sel = selectLimit(inv, patterns);
  const warnings = sel.warnings.map((w) => patternHint(inv, w));
  const declared = (inv.groups.get('all')?.hosts.length ?? 0) > 0;
  if (declared && !sel.hosts.some((h) => inv.groups.get('all')!.hosts.includes(h))) {
    throw new InputError([...warnings.map((message) => ({ key: '--limit', message })),
      { key: '--limit', message: 'Specified inventory, host pattern and/or --limit leaves us with no hosts to target.' }]);
  }
  for (const w of warnings) onWarning?.(w);
  return sel.hosts;
}

/** Narrow a play's hosts to those --limit selects (see limitSelection). */
export function applyLimit(inv: Inventory, hosts: string[], limit?: string[], onWarning?: (w: string) => void): string[] {
  const allowed = limitSelection(inv, limit, onWarning);
  if (!allowed) return hosts;
  const set = new Set(allowed);
  return hosts.filter((h) => set.has(h));
}
