// Resolves a connection the way OpenSSH makes it. When an `ssh` client is on the controller it is
// asked (`ssh -G`, which connects to nothing), so Match, Include, first-value-wins, patterns and
// defaults mean exactly what they mean to ssh; a small reader of the same rules stands in where
// there is no client. Explicit inventory values are passed as `-o`, like Ansible does, so they win
// over the config; the local user and port 22 apply only after it. Tokens, `~` and the jump chain
// (ProxyJump, and ProxyCommand `ssh -W %h:%p HOST`) are worked out from the answer.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir, hostname as osHostname, userInfo } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import pLimit from 'p-limit';
import SSHConfig from 'ssh-config';
import { InputError, type InputProblem } from '../errors.js';
import { expandHome } from '../paths.js';
import { globToRegExp } from '../glob.js';
import type { ConnectionSpec, SourcePos } from '../types.js';

/** What `ssh -G` answers for one destination (values as it prints them: tokens unexpanded). */
export interface SshAnswer {
  hostname: string;
  user: string;
  port: number;
  identityfile: string[];
  proxyjump?: string;
  proxycommand?: string;
}

/** One `ssh -G` question: the destination and the values given explicitly (as `-o`). */
export interface SshQuery {
  host: string;
  user?: string;
  port?: number;
  identity?: string[];
}

export interface ResolveOptions {
  /** Whose `~/.ssh` (tests); the user's home otherwise. */
  home?: string;
  /** The ssh client to ask; `false` uses the built-in reader. Default: `ssh` on PATH, if any. */
  ssh?: string | false;
}

/** The identities ssh tries when none is configured (those that exist). */
export const DEFAULT_IDENTITIES = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);

const MAX_DEPTH = 8; // jump chains that loop back on themselves stop here

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'root';
  }
}

let sshOnPath: string | false | undefined;
function findSsh(): string | false {
  if (sshOnPath === undefined) {
    sshOnPath = false;
    for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
      try {
        accessSync(join(dir, 'ssh'), constants.X_OK);
        sshOnPath = join(dir, 'ssh');
        break;
      } catch { /* not here */ }
    }
  }
  return sshOnPath;
}

const configPath = (home: string): string => join(home, '.ssh', 'config');

// ------------------------------------------------------------------ reading config files

type Line = ReturnType<typeof SSHConfig.parse>[number];

function values(line: Line): string[] {
  const v = (line as { value: unknown }).value;
  if (Array.isArray(v)) return v.map((x: { val: string }) => x.val);
  return [String(v)]; // one value (quotes already removed: it may contain spaces)
}

/** The rest of the line as ssh keeps it for ProxyCommand (quotes included). */
function rawValue(line: Line): string {
  const v = (line as { value: unknown }).value;
  if (!Array.isArray(v)) return String(v);
  return v.map((x: { val: string; quoted?: boolean }) => (x.quoted ? `"${x.val}"` : x.val)).join(' ');
}

function param(line: Line): string {
  return String((line as { param?: string }).param ?? '').toLowerCase();
}

function children(line: Line): Line[] | undefined {
  return (line as { config?: Line[] }).config;
}

const parsed = new Map<string, Line[]>();
function parseFile(file: string): Line[] {
  let p = parsed.get(file);
  if (!p) {
    p = [...SSHConfig.parse(readFileSync(file, 'utf8'))].filter((l) => l.type === SSHConfig.DIRECTIVE);
    parsed.set(file, p);
  }
  return p;
}

/** Files an Include argument names: `~` expanded, relative to ~/.ssh, globs expanded and sorted. */
function includeFiles(arg: string, home: string): string[] {
  let p = expandHome(arg, home);
  if (!isAbsolute(p)) p = join(home, '.ssh', p);
  const parts = p.split('/').filter(Boolean);
  let dirs = ['/'];
  parts.forEach((part) => {
    const next: string[] = [];
    for (const d of dirs) {
      if (!/[*?[]/.test(part)) {
        next.push(join(d, part));
        continue;
      }
      let names: string[] = [];
      try {
        names = readdirSync(d).filter((n) => !n.startsWith('.') || part.startsWith('.'));
      } catch { /* no such directory: nothing matches */ }
      const re = globToRegExp(part);
      for (const n of names.sort()) if (re.test(n)) next.push(join(d, n));
    }
    dirs = next;
  });
  return dirs.filter((f) => existsSync(f));
}

/** The config file and every file it includes (for Match exec detection and error positions). */
function configFiles(home: string): string[] {
  const main = configPath(home);
  if (!existsSync(main)) return [];
  const out: string[] = [];
  const visit = (file: string, depth: number): void => {
    if (depth > 16 || out.includes(file)) return;
    out.push(file);
    const walk = (lines: Line[]): void => {
      for (const l of lines) {
        if (param(l) === 'include') for (const a of values(l)) for (const f of includeFiles(a, home)) visit(f, depth + 1);
        const c = children(l);
        if (c) walk(c);
      }
    };
    walk(parseFile(file));
  };
  visit(main, 0);
  return out;
}

/** A `Match ... exec` anywhere: ssh would run it, and a config file must not run commands for us. */
const execSeen = new Map<string, boolean>();
function hasMatchExec(home: string): boolean {
  let r = execSeen.get(home);
  if (r === undefined) {
    r = configFiles(home).some((f) => /^\s*match\b[^\n#]*\bexec\b/im.test(readFileSync(f, 'utf8')));
    execSeen.set(home, r);
  }
  return r;
}

/** Where the `Match ... exec CMD` line is written. */
function matchExecPos(home: string, cmd: string): SourcePos | undefined {
  for (const file of configFiles(home)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i += 1) {
      const m = /^(\s*)match\b[^#]*\bexec\b/i.exec(lines[i]!);
      if (m && lines[i]!.includes(cmd)) return { file, line: i + 1, col: m[1]!.length + 1 };
    }
  }
  return undefined;
}

/** Where a directive with this value is written, for error messages. */
function findDirective(home: string, keyword: string, value: string): SourcePos | undefined {
  const want = value.replace(/\s+/g, ' ').trim();
  for (const file of configFiles(home)) {
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i += 1) {
      const m = new RegExp(`^(\\s*)${keyword}\\s*(?:=\\s*|\\s)(.*)$`, 'i').exec(lines[i]!);
      if (m && m[2]!.replace(/\s+/g, ' ').trim() === want) return { file, line: i + 1, col: m[1]!.length + 1 };
    }
  }
  return undefined;
}

// ------------------------------------------------------------------ the built-in reader

// As in ssh: Host patterns and user names match case-sensitively, Match host/originalhost not.
function patternMatch(s: string, pattern: string, ignoreCase = false): boolean {
  return ignoreCase ? globToRegExp(pattern.toLowerCase()).test(s.toLowerCase()) : globToRegExp(pattern).test(s);
}

/** ssh's match_pattern_list: comma-separated, `!` negates; a negated hit means no match. */
function patternList(s: string, list: string, ignoreCase = false): boolean {
  let hit = false;
  for (const p of list.split(',')) {
    const neg = p.startsWith('!');
    if (patternMatch(s, neg ? p.slice(1) : p, ignoreCase)) {
      if (neg) return false;
      hit = true;
    }
  }
  return hit;
}

/**
 * The same answer `ssh -G` gives, for the common subset: Host (wildcards, `?`, `!`), Match all /
 * host / originalhost / user / localuser (exec never matches), Include, first value wins,
 * IdentityFile accumulating, command-line values first.
 */
export function builtinAnswer(q: SshQuery, home: string): SshAnswer {
  const original = q.host;
  const set: Record<string, string> = {};
  const ids: string[] = [...(q.identity ?? [])];
  if (q.user !== undefined) set.user = q.user;
  if (q.port !== undefined) set.port = String(q.port);
  const me = localUser();
  const currentHost = (): string => (set.hostname ? expandHostName(set.hostname, original) : original);

  const hostBlock = (pats: string[]): boolean => {
    let hit = false;
    for (const p of pats) {
      const neg = p.startsWith('!');
      if (patternMatch(original, neg ? p.slice(1) : p)) {
        if (neg) return false;
        hit = true;
      }
    }
    return hit;
  };
  const matchBlock = (args: string[]): boolean => {
    let ok = true;
    let exec: string | undefined;
    for (let i = 0; i < args.length; i += 1) {
      let crit = args[i]!.toLowerCase();
      const neg = crit.startsWith('!');
      if (neg) crit = crit.slice(1);
      let r: boolean;
      if (crit === 'all') r = true;
      else if (['canonical', 'final', 'localnetwork', 'tagged'].includes(crit)) r = false;
      else {
        const arg = args[++i] ?? '';
        if (crit === 'host') r = patternList(currentHost(), arg, true);
        else if (crit === 'originalhost') r = patternList(original, arg, true);
        else if (crit === 'user') r = patternList(set.user ?? me, arg);
        else if (crit === 'localuser') r = patternList(me, arg);
        else {
          exec = arg; // never run: see below
          continue;
        }
      }
      if (neg) r = !r;
      if (!r) ok = false;
    }
    // Where only the command would decide, ssh's answer would differ from ours without a word:
    // refuse (rancher-play does not run commands from a config file).
    if (exec !== undefined && ok) {
      const problem: InputProblem = {
        key: 'ssh_config',
        message: `host "${original}": a \`Match exec\` decides this host's settings (${JSON.stringify(exec)}); rancher-play does not run commands from ~/.ssh/config. ` +
          'Use Match host/originalhost/user instead, or give the host its settings in the inventory',
      };
      const pos = matchExecPos(home, exec);
      if (pos) problem.pos = pos;
      throw new InputError([problem]);
    }
    return ok && exec === undefined;
  };

  const walk = (lines: Line[], active: boolean, depth: number): void => {
    for (const l of lines) {
      const k = param(l);
      if (k === 'host' || k === 'match') {
        const on = k === 'host' ? hostBlock(values(l)) : matchBlock(values(l));
        walk(children(l) ?? [], on, depth);
        continue;
      }
      if (!active) continue;
      if (k === 'include') {
        if (depth < 16) for (const a of values(l)) for (const f of includeFiles(a, home)) walk(parseFile(f), true, depth + 1);
      } else if (k === 'identityfile') {
        ids.push(...values(l).slice(0, 1));
      } else if (k === 'proxycommand' || k === 'proxyjump') {
        // The two share one slot: whichever comes first wins.
        if (set.proxycommand === undefined && set.proxyjump === undefined) set[k] = k === 'proxycommand' ? rawValue(l) : values(l)[0] ?? '';
      } else if (['hostname', 'user', 'port'].includes(k) && set[k] === undefined) {
        set[k] = values(l)[0] ?? '';
      }
    }
  };
  const file = configPath(home);
  if (existsSync(file)) walk(parseFile(file), true, 0);

  const a: SshAnswer = {
    hostname: currentHost().toLowerCase(),
    user: set.user ?? me,
    port: Number(set.port ?? 22),
    identityfile: ids.length ? ids : [...DEFAULT_IDENTITIES],
  };
  if (set.proxyjump !== undefined) a.proxyjump = set.proxyjump;
  if (set.proxycommand !== undefined) a.proxycommand = set.proxycommand;
  return a;
}

function expandHostName(v: string, original: string): string {
  return v.replace(/%([%h])/g, (_, t: string) => (t === '%' ? '%' : original));
}

// ------------------------------------------------------------------ asking ssh

/** Parses `ssh -G` output. */
export function parseSshG(out: string): SshAnswer {
  const a: SshAnswer = { hostname: '', user: '', port: 22, identityfile: [] };
  for (const line of out.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, k, v] = m as unknown as [string, string, string];
    if (k === 'hostname') a.hostname = v;
    else if (k === 'user') a.user = v;
    else if (k === 'port') a.port = Number(v);
    else if (k === 'identityfile') a.identityfile.push(v);
    else if (k === 'proxyjump') a.proxyjump = v;
    else if (k === 'proxycommand') a.proxycommand = v;
  }
  return a;
}

const spawnLimit = pLimit(16); // distinct hosts are asked concurrently (ssh -G mostly waits on process start)

function askSsh(ssh: string, q: SshQuery, home: string): Promise<SshAnswer> {
  const args = ['-G', '-F', configPath(home)];
  if (q.user !== undefined) args.push('-o', `User=${q.user}`);
  if (q.port !== undefined) args.push('-o', `Port=${q.port}`);
  for (const i of q.identity ?? []) args.push('-o', `IdentityFile="${i}"`);
  args.push('--', q.host);
  return spawnLimit(() => new Promise<SshAnswer>((resolve, reject) => {
    execFile(ssh, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(parseSshG(stdout));
      const msg = stderr.split('\n').map((s) => s.trim()).filter((s) => s && !/^Pseudo-terminal/.test(s)).pop() ?? err.message;
      const at = /^(.+?) line (\d+): (.*)$/.exec(msg);
      const problem: InputProblem = at
        ? { pos: { file: at[1]!, line: Number(at[2]), col: 1 }, key: 'ssh_config', message: at[3]! }
        : { key: 'ssh_config', message: `ssh -G ${q.host}: ${msg}` };
      reject(new InputError([problem]));
    });
  }));
}

const answers = new Map<string, Promise<SshAnswer>>();

/** `ssh -G`'s answer for a destination (the built-in reader's where there is no ssh client). */
export function sshAnswer(q: SshQuery, opts: ResolveOptions = {}): Promise<SshAnswer> {
  const home = opts.home ?? homedir();
  const ssh = opts.ssh ?? findSsh();
  const useSsh = ssh !== false && existsSync(configPath(home)) && !hasMatchExec(home);
  const key = JSON.stringify([home, useSsh ? ssh : '', q.host, q.user, q.port, q.identity]);
  let p = answers.get(key);
  if (!p) {
    p = useSsh ? askSsh(ssh as string, q, home) : Promise.resolve().then(() => builtinAnswer(q, home));
    answers.set(key, p);
  }
  return p;
}

/** Forget answers, parsed files and where ssh is (tests rewrite configs and PATH). */
export function clearSshConfigCache(): void {
  sshOnPath = undefined;
  answers.clear();
  parsed.clear();
  execSeen.clear();
}

// ------------------------------------------------------------------ from answer to connection

interface Tokens {
  [k: string]: string;
}

function expandTokens(s: string, t: Tokens): string {
  return s.replace(/%(.)/g, (m, c: string) => t[c] ?? m);
}

function tokensFor(a: SshAnswer, alias: string, home: string): Tokens {
  const l = osHostname();
  const t: Tokens = {
    '%': '%', h: a.hostname, r: a.user, p: String(a.port), n: alias, d: home, u: localUser(),
    l, L: l.split('.')[0] ?? l, i: String(process.getuid?.() ?? 0),
  };
  t.C = createHash('sha1').update(`${t.l}${t.h}${t.p}${t.r}`).digest('hex');
  return t;
}

/** Identity files in the order ssh tries them: `~` and tokens expanded; defaults only if they exist. */
export function identityFiles(a: SshAnswer, alias: string, home: string): string[] {
  const t = tokensFor(a, alias, home);
  const isDefault = a.identityfile.length === DEFAULT_IDENTITIES.length && a.identityfile.every((f, i) => f === DEFAULT_IDENTITIES[i]);
  const files = a.identityfile.filter((f) => f.toLowerCase() !== 'none').map((f) => expandTokens(expandHome(f, home), t));
  return isDefault ? files.filter((f) => existsSync(f)) : files;
}

/** Parse one ProxyJump element: `[user@]host[:port]` (or `[ipv6]:port`, `ssh://`). */
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

/** Words of a command line as sh would split them (quotes and backslashes). */
function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < s.length; i += 1) {
    const c = s[i]!;
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      cur += s.slice(i + 1, j < 0 ? s.length : j);
      i = j < 0 ? s.length : j;
      has = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < s.length && s[j] !== '"'; j += 1) cur += s[j] === '\\' && j + 1 < s.length ? s[++j] : s[j];
      i = j;
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

const SSH_FLAGS = new Set('46AaCfGgKkMNnqsTtVvXxYy'.split(''));
const SSH_WITH_ARG = new Set('BbcDEeFIiJLlmOoPpQRSWw'.split(''));

interface ProxyHop {
  host: string;
  user?: string;
  port?: number;
  identity: string[];
  jump?: string;
}

/** A ProxyCommand of the form `ssh [opts] -W %h:%p [user@]host` as a hop; undefined for any other. */
export function proxyCommandHop(cmd: string, t: Tokens, home: string): ProxyHop | undefined {
  const w = shellWords(cmd).map((x) => expandTokens(x, { ...t, h: '\u0000h', p: '\u0000p' }));
  if (w.length === 0 || basename(w[0]!) !== 'ssh') return undefined;
  const hop: ProxyHop = { host: '', identity: [] };
  let forward: string | undefined;
  const dest: string[] = [];
  for (let i = 1; i < w.length; i += 1) {
    const a = w[i]!;
    if (!a.startsWith('-') || a === '-') {
      dest.push(a);
      continue;
    }
    for (let j = 1; j < a.length; j += 1) {
      const f = a[j]!;
      if (SSH_FLAGS.has(f)) continue;
      if (!SSH_WITH_ARG.has(f)) return undefined;
      const v = j + 1 < a.length ? a.slice(j + 1) : w[++i];
      if (v === undefined) return undefined;
      if (f === 'W') forward = v;
      else if (f === 'l') hop.user = v;
      else if (f === 'p') hop.port = Number(v);
      else if (f === 'i') hop.identity.push(expandHome(v, home));
      else if (f === 'J') hop.jump = v;
      else if (f === 'F') { if (expandHome(v, home) !== configPath(home)) return undefined; }
      else if (f === 'o') {
        const m = /^(\w+)\s*[= ]\s*(.*)$/.exec(v);
        const k = m?.[1]?.toLowerCase();
        if (k === 'user') hop.user = m![2];
        else if (k === 'port') hop.port = Number(m![2]);
        else if (k === 'identityfile') hop.identity.push(expandHome(m![2]!.replace(/^"|"$/g, ''), home));
        else if (k === 'proxyjump') hop.jump = m![2];
        else if (['proxycommand', 'hostname', 'localcommand', 'permitlocalcommand', 'remotecommand'].includes(k ?? '')) return undefined;
      } else if (!['b', 'c', 'E', 'm', 'O', 'P', 'S', 'B'].includes(f)) return undefined; // forwarding or control options change what this would be
      break;
    }
  }
  const target = forward?.replace(/^\[(.*)\]/, '$1');
  if (target !== '\u0000h:\u0000p' || dest.length !== 1) return undefined;
  const d = parseJumpSpec(dest[0]!);
  if (!/^ssh:\/\//.test(dest[0]!) && d.port !== undefined) return undefined; // `host:port` is not an ssh destination
  hop.host = d.host;
  if (d.user !== undefined && hop.user === undefined) hop.user = d.user;
  if (d.port !== undefined && hop.port === undefined) hop.port = d.port;
  if (/\u0000/.test(JSON.stringify(hop))) return undefined;
  return hop;
}

/**
 * The connection as `ssh` would make it: address, user, port and identity files after the
 * config, and the jump chain with every hop resolved through the config too. An inventory jump
 * chain wins over ProxyJump/ProxyCommand. A ProxyCommand that is not `ssh -W %h:%p HOST` is
 * refused (InputError), never silently skipped. Idempotent: a resolved spec is returned as is.
 */
export async function resolveConnection(conn: ConnectionSpec, opts: ResolveOptions = {}): Promise<ConnectionSpec> {
  if (conn.connection !== 'ssh' || conn.resolved) return conn;
  return resolveHop(conn, opts, true, 0);
}

async function resolveHop(conn: ConnectionSpec, opts: ResolveOptions, ownJump: boolean, depth: number): Promise<ConnectionSpec> {
  const home = opts.home ?? homedir();
  // A value not marked explicit is a fallback: it applies only where the config sets nothing
  // (ssh would then answer the local user / port 22).
  const explicitUser = conn.explicit?.user ?? false;
  const explicitPort = conn.explicit?.port ?? false;
  const q: SshQuery = { host: conn.address };
  if (explicitUser && conn.user) q.user = conn.user;
  if (explicitPort) q.port = conn.port;
  const given = conn.identity_files ?? (conn.ssh_key_path ? [conn.ssh_key_path] : []);
  if (given.length) q.identity = given;
  const asked = await sshAnswer(q, opts);
  const a: SshAnswer = {
    ...asked,
    user: explicitUser || asked.user !== localUser() || !conn.user ? asked.user : conn.user,
    port: explicitPort || asked.port !== 22 ? asked.port : conn.port,
  };
  const ids = identityFiles(a, conn.address, home);
  const out: ConnectionSpec = {
    ...conn, address: a.hostname, user: a.user, port: a.port, identity_files: ids, jump: [], resolved: true,
  };
  // The transport uses the first identity that exists (else the first named, for a clear error).
  const key = ids.find((f) => existsSync(f)) ?? ids[0];
  if (key) out.ssh_key_path = key;
  else delete out.ssh_key_path;
  if (depth >= MAX_DEPTH) return out;

  const hopSpec = (h: { host: string; user?: string; port?: number; identity?: string[] }, name: string): ConnectionSpec => {
    const s: ConnectionSpec = {
      connection: 'ssh', address: h.host, port: h.port ?? 22, user: h.user ?? '', jump: [], become: false,
      known_hosts: conn.known_hosts, connect_timeout_ms: conn.connect_timeout_ms, name,
      explicit: { user: h.user !== undefined, port: h.port !== undefined },
    };
    if (h.identity?.length) s.identity_files = h.identity;
    return s;
  };
  // A list `a,b,c` as ssh runs it: c reached through `-J a,b`, so only the first hop may bring
  // its own ProxyJump/ProxyCommand from the config.
  const chainOf = async (list: string): Promise<ConnectionSpec[]> => {
    const chain: ConnectionSpec[] = [];
    const parts = list.split(',').map((p) => p.trim()).filter(Boolean);
    for (const [i, part] of parts.entries()) {
      const r = await resolveHop(hopSpec(parseJumpSpec(part), part), opts, i === 0, depth + 1);
      chain.push(...r.jump, { ...r, jump: [] });
    }
    return chain;
  };

  if (conn.jump.length) {
    for (const [i, h] of conn.jump.entries()) {
      const r = await resolveHop({ ...h, jump: [] }, opts, i === 0, depth + 1);
      out.jump.push(...r.jump, { ...r, jump: [] });
    }
  } else if (ownJump && a.proxyjump && a.proxyjump.toLowerCase() !== 'none') {
    out.jump = await chainOf(a.proxyjump);
  } else if (ownJump && a.proxycommand && a.proxycommand.toLowerCase() !== 'none') {
    const hop = proxyCommandHop(a.proxycommand, tokensFor(a, conn.address, home), home);
    if (!hop) {
      const problem: InputProblem = {
        key: 'ProxyCommand',
        message: `host "${conn.address}": ProxyCommand "${a.proxycommand}" is not supported; only "ssh -W %h:%p [user@]HOST" ` +
          '(mapped onto the jump chain) and ProxyJump are. Use ProxyJump, or give the host a jump chain in the inventory',
      };
      const pos = findDirective(home, 'ProxyCommand', a.proxycommand);
      if (pos) problem.pos = pos;
      throw new InputError([problem]);
    }
    const before = hop.jump ? await chainOf(hop.jump) : [];
    const r = await resolveHop(hopSpec(hop, hop.host), opts, !hop.jump, depth + 1);
    out.jump = [...before, ...r.jump, { ...r, jump: [] }];
  }
  return out;
}

/** Resolves many connections at once: each distinct destination is asked once, concurrently. */
export function resolveConnections(specs: ConnectionSpec[], opts: ResolveOptions = {}): Promise<ConnectionSpec[]> {
  return Promise.all(specs.map((s) => resolveConnection(s, opts)));
}
