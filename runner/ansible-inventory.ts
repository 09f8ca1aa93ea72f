// Reads an Ansible inventory (INI or YAML) and maps it onto rancher-play's native inventory
// document (the same shape as a native `-i` YAML file: defaults/jump_hosts/hosts/groups/vars),
// so the model loader resolves and validates both formats with one code path. Operators keep
// their existing Ansible inventories; anything we cannot map faithfully is refused with
// file:line:column instead of being silently misread.
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair, YAMLMap } from 'yaml';
import { InputError } from './errors.js';
import type { InputProblem } from './errors.js';
import type { SourcePos, Vars } from './types.js';
import { MAX_ALIAS_COUNT, MAX_YAML_BYTES } from './yamlsrc.js';
import type { YamlPath, YamlSource } from './yamlsrc.js';

/** A native inventory document, as if the user had written it in rancher-play's own format. */
export interface NativeInventoryDoc {
  defaults?: Vars;
  jump_hosts: Record<string, Vars>;
  hosts: Record<string, Vars>;
  groups: Record<string, { hosts: string[]; vars: Vars }>;
  vars: Vars;
}

export interface ConvertedInventory {
  doc: NativeInventoryDoc;
  /** Source positions in the Ansible file, keyed by the native dotted path (`hosts.node1.address`). */
  positions: Map<string, SourcePos>;
  format: 'ini' | 'yaml';
}

// ------------------------------------------------------------------ detection

/**
 * True when `text` is an Ansible inventory rather than a native one. Native documents have the
 * top-level keys `hosts`/`groups`/`defaults`/`jump_hosts`/`vars`; Ansible YAML has `all:` or
 * group mappings carrying `hosts:`/`children:`; INI has `[section]` headers or bare host lines.
 */
export function isAnsibleInventory(text: string, file = ''): boolean {
  if (/\.(ini|cfg)$/i.test(file) || /^#!/.test(text)) return true;
  if (/^\s*\[[^\]\n]+\]\s*$/m.test(text) && !/^\s*[\w.-]+\s*:(\s|$)/m.test(stripComments(text))) return true;
  let parsed: unknown;
  try {
    parsed = parseDocument(text).toJS();
  } catch {
    return false;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    // A plain string document is how YAML reads an INI file of bare host lines.
    return typeof parsed === 'string' && !/:\s/.test(parsed);
  }
  const top = parsed as Record<string, unknown>;
  const keys = Object.keys(top);
  if (keys.length === 0) return false;
  if ('all' in top) return true;
  if ('defaults' in top || 'jump_hosts' in top || 'groups' in top) return false;
  if ('plugin' in top) return true; // an inventory-plugin config: refused later with a message
  // Native `hosts:` maps names to entries; Ansible top-level keys are groups holding hosts/children/vars.
  return keys.every((k) => {
    const g = top[k];
    if (g === null) return k !== 'hosts' && k !== 'vars';
    if (typeof g !== 'object' || Array.isArray(g)) return false;
    const gk = Object.keys(g as object);
    return gk.length > 0 && gk.every((x) => x === 'hosts' || x === 'children' || x === 'vars');
  });
}

function stripComments(text: string): string {
  return text.split('\n').filter((l) => !/^\s*[#;]/.test(l)).join('\n');
}

// ------------------------------------------------------------ intermediate model

/** What both parsers produce: Ansible's own model, before mapping. */
interface AGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Vars;
  pos?: SourcePos;
  varPos: Map<string, SourcePos>;
}
interface AHost {
  name: string;
  vars: Vars;
  pos: SourcePos;
  varPos: Map<string, SourcePos>;
}
class AInventory {
  groups = new Map<string, AGroup>();
  hosts = new Map<string, AHost>();
  problems: InputProblem[] = [];
  constructor(public file: string) {
    this.group('all');
    this.group('ungrouped');
  }
  group(name: string, pos?: SourcePos): AGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], vars: {}, pos, varPos: new Map() };
      this.groups.set(name, g);
    } else if (!g.pos && pos) g.pos = pos;
    return g;
  }
  host(name: string, pos: SourcePos): AHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, vars: {}, pos, varPos: new Map() };
      this.hosts.set(name, h);
    }
    return h;
  }
  problem(pos: SourcePos | undefined, key: string | undefined, message: string): void {
    this.problems.push({ pos, key, message });
  }
}

// --------------------------------------------------------------- INI parsing

/** Expands Ansible host ranges: `node[01:03]`, `db-[a:c]`, `web[1:9:2]`. */
export function expandHostPattern(pattern: string): string[] {
  const m = /^(.*?)\[([^\]:]+):([^\]:]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, beg, end, stepText, tail] = m as unknown as [string, string, string, string, string | undefined, string];
  const step = stepText ? Number(stepText) : 1;
  if (!(step > 0)) throw new Error(`bad range step in "${pattern}"`);
  const out: string[] = [];
  if (/^\d+$/.test(beg) && /^\d+$/.test(end)) {
    const width = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    const a = Number(beg);
    const b = Number(end);
    if (a > b) throw new Error(`range start after end in "${pattern}"`);
    for (let i = a; i <= b; i += step) out.push(String(i).padStart(width, '0'));
  } else if (/^[a-z]$/i.test(beg) && /^[a-z]$/i.test(end)) {
    const a = beg.charCodeAt(0);
    const b = end.charCodeAt(0);
    if (a > b) throw new Error(`range start after end in "${pattern}"`);
    for (let i = a; i <= b; i += step) out.push(String.fromCharCode(i));
  } else {
    throw new Error(`unsupported range in "${pattern}" (numbers or single letters only)`);
  }
  return out.flatMap((x) => expandHostPattern(head + x + tail));
}

/** shlex.split with comments, as Ansible uses for INI host lines. Returns tokens with columns. */
function shlexSplit(line: string): { text: string; col: number }[] {
  const out: { text: string; col: number }[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length || line[i] === '#') break;
    const start = i;
    let tok = '';
    while (i < line.length && !/\s/.test(line[i]!)) {
      const c = line[i]!;
      if (c === "'" || c === '"') {
        const close = line.indexOf(c, i + 1);
        if (close < 0) throw new Error('unterminated quote');
        tok += line.slice(i + 1, close);
        i = close + 1;
      } else if (c === '\\' && i + 1 < line.length) {
        tok += line[i + 1];
        i += 2;
      } else {
        tok += c;
        i++;
      }
    }
    out.push({ text: tok, col: start + 1 });
  }
  return out;
}

/**
 * Python literal evaluation as Ansible applies it to INI values (`ast.literal_eval`, falling back
 * to the raw string): numbers, True/False/None, quoted strings, lists, tuples and dicts.
 */
export function parsePythonLiteral(text: string): unknown {
  const p = new LiteralParser(text.trim());
  try {
    const v = p.value();
    p.ws();
    if (p.i !== p.s.length) return text.trim();
    return v;
  } catch {
    return text.trim();
  }
}

class LiteralParser {
  i = 0;
  constructor(public s: string) {}
  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  value(): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === '[' || c === '(') return this.seq(c === '[' ? ']' : ')');
    if (c === '{') return this.dict();
    if (c === '"' || c === "'") return this.str();
    const m = /^(True|False|None|[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(?![\w.])/.exec(this.s.slice(this.i));
    if (!m) throw new Error('not a literal');
    this.i += m[0].length;
    if (m[1] === 'True') return true;
    if (m[1] === 'False') return false;
    if (m[1] === 'None') return null;
    return Number(m[1]);
  }
  str(): string {
    const q = this.s[this.i++]!;
    let out = '';
    while (this.i < this.s.length && this.s[this.i] !== q) {
      const c = this.s[this.i++]!;
      if (c === '\\') {
        const n = this.s[this.i++]!;
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      } else out += c;
    }
    if (this.s[this.i] !== q) throw new Error('unterminated string');
    this.i++;
    return out;
  }
  seq(close: string): unknown[] {
    this.i++;
    const out: unknown[] = [];
    for (;;) {
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== close) throw new Error('expected , or close');
    }
  }
  dict(): Record<string, unknown> {
    this.i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      this.ws();
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      const k = this.value();
      this.ws();
      if (this.s[this.i++] !== ':') throw new Error('expected :');
      out[String(k)] = this.value();
      this.ws();
      if (this.s[this.i] === ',') this.i++;
      else if (this.s[this.i] !== '}') throw new Error('expected , or }');
    }
  }
}

function parseIni(text: string, inv: AInventory): void {
  const file = inv.file;
  let section: { group: string; kind: 'hosts' | 'vars' | 'children' } = { group: 'ungrouped', kind: 'hosts' };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = raw.trim();
    const lineNo = idx + 1;
    const col0 = raw.length - raw.trimStart().length + 1;
    const pos = (col = col0): SourcePos => ({ file, line: lineNo, col });
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const head = /^\[([^\]]+)\]\s*(?:[#;].*)?$/.exec(line);
    if (head) {
      const [name, kind = 'hosts', ...rest] = head[1]!.split(':');
      if (rest.length || !['hosts', 'vars', 'children'].includes(kind)) {
        inv.problem(pos(), head[1], `unsupported section type ":${kind}" (expected [group], [group:vars] or [group:children])`);
        section = { group: '', kind: 'hosts' };
        return;
      }
      if (!/^[\w.-]+$/.test(name!)) {
        inv.problem(pos(), name, 'invalid group name');
        section = { group: '', kind: 'hosts' };
        return;
      }
      inv.group(name!, pos());
      section = { group: name!, kind: kind as 'hosts' | 'vars' | 'children' };
      return;
    }
    if (!section.group) return; // inside a section already reported
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0) {
        inv.problem(pos(), `${section.group}:vars`, `expected key=value, got "${line}"`);
        return;
      }
      const key = line.slice(0, eq).trim();
      const g = inv.group(section.group);
      g.vars[key] = parsePythonLiteral(line.slice(eq + 1));
      g.varPos.set(key, pos());
      return;
    }
    if (section.kind === 'children') {
      const child = line.split(/\s+/)[0]!;
      const g = inv.group(section.group);
      if (!g.children.includes(child)) g.children.push(child);
      inv.group(child).pos ??= pos();
      return;
    }
    let toks: { text: string; col: number }[];
    try {
      toks = shlexSplit(raw);
    } catch (e) {
      inv.problem(pos(), undefined, (e as Error).message);
      return;
    }
    if (!toks.length) return;
    const [first, ...kvs] = toks as [{ text: string; col: number }, ...{ text: string; col: number }[]];
    let hostPattern = first.text;
    let port: number | undefined;
    // `host:port`, but not an IPv6 address.
    const hp = /^([^:]+):(\d+)$/.exec(hostPattern);
    if (hp) {
      hostPattern = hp[1]!;
      port = Number(hp[2]);
    }
    let names: string[];
    try {
      names = expandHostPattern(hostPattern);
    } catch (e) {
      inv.problem(pos(first.col), first.text, (e as Error).message);
      return;
    }
    const vars: Vars = {};
    const varPos = new Map<string, SourcePos>();
    if (port !== undefined) {
      vars.ansible_port = port;
      varPos.set('ansible_port', pos(first.col));
    }
    for (const kv of kvs) {
      const eq = kv.text.indexOf('=');
      if (eq <= 0) {
        inv.problem(pos(kv.col), kv.text, `expected key=value after the host name, got "${kv.text}"`);
        continue;
      }
      const key = kv.text.slice(0, eq);
      vars[key] = parsePythonLiteral(kv.text.slice(eq + 1));
      varPos.set(key, pos(kv.col));
    }
    const g = inv.group(section.group);
    for (const n of names) {
      const h = inv.host(n, pos(first.col));
      Object.assign(h.vars, vars);
      for (const [k, p] of varPos) h.varPos.set(k, p);
      if (!g.hosts.includes(n)) g.hosts.push(n);
    }
  });
}

// -------------------------------------------------------------- YAML parsing

function parseYaml(text: string, inv: AInventory): void {
  const file = inv.file;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, customTags: [vaultTag] });
  const at = (node: YamlNode | null | undefined): SourcePos => {
    const off = node?.range?.[0] ?? 0;
    const { line, col } = lc.linePos(off);
    return { file, line, col };
  };
  for (const err of doc.errors) {
    const { line, col } = lc.linePos(err.pos[0]);
    inv.problem({ file, line, col }, undefined, err.message.split('\n')[0]!);
  }
  if (doc.errors.length) return;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    inv.problem({ file, line: 1, col: 1 }, undefined, `cannot load YAML: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  const root = doc.contents;
  if (!isMap(root)) {
    inv.problem(at(root as YamlNode), undefined, 'an Ansible YAML inventory must be a mapping of groups');
    return;
  }
  for (const pair of root.items) {
    const key = keyName(pair);
    if (key === 'plugin') {
      inv.problem(at(pair.key as YamlNode), 'plugin', 'inventory plugins (dynamic inventories) are not supported; export a static inventory with `ansible-inventory -i SRC --list --yaml` and use that');
      continue;
    }
    readGroup(key, pair.value as YamlNode | null, at(pair.key as YamlNode), [key]);
  }

  function readVars(node: YamlNode | null, into: Vars, posMap: Map<string, SourcePos>, path: string[]): void {
    if (node === null || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      inv.problem(at(node), path.join('.'), 'must be a mapping of variables');
      return;
    }
    for (const p of node.items) {
      const k = keyName(p);
      const v = p.value as YamlNode | null;
      const vault = findVault(v);
      if (vault) {
        inv.problem(at(vault), [...path, k].join('.'), 'vaulted values (!vault) are not supported; move secrets to an `-e @file` or a native inventory `!secret`');
        continue;
      }
      into[k] = v === null ? null : (v as YamlNode).toJSON();
      posMap.set(k, at(p.key as YamlNode));
    }
  }

  function readGroup(name: string, node: YamlNode | null, pos: SourcePos, path: string[]): void {
    const g = inv.group(name, pos);
    if (node === null || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      inv.problem(at(node), path.join('.'), 'a group must be a mapping with hosts, children or vars');
      return;
    }
    for (const p of (node as YAMLMap).items) {
      const k = keyName(p);
      const v = p.value as YamlNode | null;
      if (k === 'vars') readVars(v, g.vars, g.varPos, [...path, 'vars']);
      else if (k === 'hosts') {
        if (v === null || (isScalar(v) && v.value === null)) continue;
        if (!isMap(v)) {
          inv.problem(at(v), [...path, 'hosts'].join('.'), 'hosts must be a mapping of host names (a list is not valid Ansible YAML)');
          continue;
        }
        for (const hp of v.items) {
          const hn = keyName(hp);
          const hpos = at(hp.key as YamlNode);
          let names: string[];
          try {
            names = expandHostPattern(hn);
          } catch (e) {
            inv.problem(hpos, [...path, 'hosts', hn].join('.'), (e as Error).message);
            continue;
          }
          for (const n of names) {
            const h = inv.host(n, hpos);
            readVars(hp.value as YamlNode | null, h.vars, h.varPos, [...path, 'hosts', hn]);
            if (!g.hosts.includes(n)) g.hosts.push(n);
          }
        }
      } else if (k === 'children') {
        if (v === null || (isScalar(v) && v.value === null)) continue;
        if (!isMap(v)) {
          inv.problem(at(v), [...path, 'children'].join('.'), 'children must be a mapping of group names');
          continue;
        }
        for (const cp of v.items) {
          const cn = keyName(cp);
          if (!g.children.includes(cn)) g.children.push(cn);
          readGroup(cn, cp.value as YamlNode | null, at(cp.key as YamlNode), [...path, 'children', cn]);
        }
      } else {
        inv.problem(at(p.key as YamlNode), [...path, k].join('.'), 'unknown group key (expected hosts, children or vars)');
      }
    }
  }
}

function keyName(pair: Pair<unknown, unknown>): string {
  const k = pair.key;
  return isScalar(k) ? String(k.value) : String(k);
}

/** `!vault` is parsed (not rejected by the YAML parser) so we can point at it with a clear message. */
const vaultTag = {
  tag: '!vault',
  identify: () => false,
  resolve: (s: string) => ({ __vault__: s }),
};

function findVault(node: YamlNode | null): YamlNode | undefined {
  if (!node) return undefined;
  if (node.tag === '!vault') return node;
  if (isScalar(node) && typeof node.value === 'string' && node.value.startsWith('$ANSIBLE_VAULT')) return node;
  if (isMap(node)) for (const p of node.items) {
    const f = findVault(p.value as YamlNode | null);
    if (f) return f;
  }
  if (isSeq(node)) for (const it of node.items) {
    const f = findVault(it as YamlNode | null);
    if (f) return f;
  }
  return undefined;
}

// ------------------------------------------------------------------- mapping

/** Ansible connection variables and their aliases, mapped to native host keys. */
const CONN_VARS: Record<string, 'address' | 'user' | 'port' | 'ssh_key_path' | 'become' | 'connection' | 'args' | 'become_method' | 'become_user'> = {
  ansible_host: 'address',
  ansible_ssh_host: 'address',
  ansible_user: 'user',
  ansible_ssh_user: 'user',
  remote_user: 'user',
  ansible_port: 'port',
  ansible_ssh_port: 'port',
  ansible_ssh_private_key_file: 'ssh_key_path',
  ansible_private_key_file: 'ssh_key_path',
  ansible_become: 'become',
  ansible_sudo: 'become',
  ansible_connection: 'connection',
  ansible_ssh_common_args: 'args',
  ansible_ssh_extra_args: 'args',
  ansible_become_method: 'become_method',
  ansible_become_user: 'become_user',
};

/** Connection-related variables we recognise but cannot honour: refused rather than ignored. */
const REFUSED_VARS: Record<string, string> = {
  ansible_password: 'password authentication is not supported; use a key (ansible_ssh_private_key_file) or ssh-agent',
  ansible_ssh_pass: 'password authentication is not supported; use a key (ansible_ssh_private_key_file) or ssh-agent',
  ansible_become_password: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_become_pass: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_sudo_pass: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_ssh_executable: 'a custom ssh executable is not supported (rancher-play speaks SSH itself)',
};

/** Ansible's boolean(): yes/no, true/false, on/off, 1/0 (any case). */
function ansibleBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (['yes', 'y', 'true', 't', 'on', '1'].includes(s)) return true;
  if (['no', 'n', 'false', 'f', 'off', '0', ''].includes(s)) return false;
  return undefined;
}

/**
 * Jump hosts from ssh options as Ansible passes them: `-o ProxyJump=a,b`, `-J a,b`,
 * `-o ProxyCommand="ssh -W %h:%p -q user@bastion"`. Returns `null` when the args hold something
 * else that changes how we would connect (so it is refused, not ignored).
 */
export function jumpFromSshArgs(args: string): { jump: string[]; knownHosts?: string; unsupported?: string } {
  let toks: string[];
  try {
    toks = shlexSplit(args).map((t) => t.text);
  } catch {
    return { jump: [], unsupported: 'unbalanced quotes' };
  }
  const jump: string[] = [];
  let knownHosts: string | undefined;
  // Options that only loosen or tune OpenSSH itself: rancher-play keeps its own (stricter) behaviour.
  const ignorable = /^(StrictHostKeyChecking|ServerAliveInterval|ServerAliveCountMax|ConnectTimeout|ControlMaster|ControlPersist|ControlPath|ForwardAgent|Compression|TCPKeepAlive|LogLevel|IdentitiesOnly)$/i;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    let opt: string | undefined;
    if (t === '-J') {
      jump.push(...(toks[++i] ?? '').split(',').filter(Boolean));
      continue;
    }
    if (t.startsWith('-J')) {
      jump.push(...t.slice(2).split(',').filter(Boolean));
      continue;
    }
    if (t === '-o') opt = toks[++i];
    else if (t.startsWith('-o')) opt = t.slice(2);
    else return { jump, unsupported: `ssh argument "${t}"` };
    if (opt === undefined) return { jump, unsupported: 'ssh option -o without a value' };
    const m = /^(\w+)\s*[= ]\s*(.*)$/.exec(opt.trim());
    if (!m) return { jump, unsupported: `ssh option "${opt}"` };
    const [, name, value] = m as unknown as [string, string, string];
    if (/^ProxyJump$/i.test(name)) {
      if (value.toLowerCase() !== 'none') jump.push(...value.split(',').map((s) => s.trim()).filter(Boolean));
    } else if (/^ProxyCommand$/i.test(name)) {
      const target = proxyCommandTarget(value);
      if (!target) return { jump, unsupported: `ProxyCommand "${value}" (only "ssh -W %h:%p [-p PORT] [-l USER] [user@]host" is understood; prefer ProxyJump)` };
      jump.push(target);
    } else if (/^UserKnownHostsFile$/i.test(name)) {
      // OpenSSH allows several files; rancher-play checks one.
      knownHosts = value.trim().split(/\s+/)[0];
    } else if (!ignorable.test(name)) {
      return { jump, unsupported: `ssh option ${name}` };
    }
  }
  return { jump, knownHosts };
}

function proxyCommandTarget(cmd: string): string | undefined {
  const t = shlexSplit(cmd).map((x) => x.text);
  if (t[0] !== 'ssh' && !t[0]?.endsWith('/ssh')) return undefined;
  let user: string | undefined;
  let port: string | undefined;
  let host: string | undefined;
  let sawW = false;
  for (let i = 1; i < t.length; i++) {
    const a = t[i]!;
    if (a === '-W') {
      sawW = /^%h:%p$/.test(t[++i] ?? '');
    } else if (a === '-p') port = t[++i];
    else if (a === '-l') user = t[++i];
    else if (a === '-q' || a === '-T' || a === '-A') continue;
    else if (a === '-o') i++;
    else if (a.startsWith('-')) return undefined;
    else if (host) return undefined;
    else host = a;
  }
  if (!sawW || !host) return undefined;
  if (user && !host.includes('@')) host = `${user}@${host}`;
  return port ? `${host}:${port}` : host;
}

/** Group depth (distance from `all`), as Ansible uses to order group var precedence. */
function depths(inv: AInventory): Map<string, number> {
  const d = new Map<string, number>([['all', 0]]);
  const visit = (name: string, depth: number, seen: Set<string>): void => {
    if (seen.has(name)) return;
    if ((d.get(name) ?? -1) < depth) d.set(name, depth);
    const g = inv.groups.get(name);
    if (!g) return;
    for (const c of g.children) visit(c, depth + 1, new Set([...seen, name]));
  };
  for (const g of inv.groups.values()) if (g.name !== 'all') visit(g.name, 1, new Set(['all']));
  return d;
}

/** Every group a host belongs to, directly or through `children`. */
function hostGroups(inv: AInventory): Map<string, Set<string>> {
  const parents = new Map<string, string[]>();
  for (const g of inv.groups.values()) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), g.name]);
  const out = new Map<string, Set<string>>();
  for (const h of inv.hosts.values()) {
    const set = new Set<string>();
    const stack = [...inv.groups.values()].filter((g) => g.hosts.includes(h.name)).map((g) => g.name);
    while (stack.length) {
      const g = stack.pop()!;
      if (set.has(g)) continue;
      set.add(g);
      stack.push(...(parents.get(g) ?? []));
    }
    set.delete('all');
    out.set(h.name, set);
  }
  return out;
}

function toNative(inv: AInventory): { doc: NativeInventoryDoc; positions: Map<string, SourcePos> } {
  const positions = new Map<string, SourcePos>();
  const doc: NativeInventoryDoc = { jump_hosts: {}, hosts: {}, groups: {}, vars: {} };
  const depth = depths(inv);
  const memberOf = hostGroups(inv);
  for (const g of inv.groups.values()) {
    for (const c of g.children) {
      if (!inv.groups.get(c)) inv.problem(g.pos, `${g.name}.children`, `unknown group "${c}"`);
    }
  }
  // Cycles in children would make membership meaningless; Ansible refuses them too.
  for (const g of inv.groups.values()) {
    const seen = new Set<string>();
    const walk = (n: string, trail: string[]): void => {
      if (trail.includes(n)) {
        if (!seen.has(g.name)) inv.problem(g.pos, `${g.name}.children`, `group cycle: ${[...trail, n].join(' -> ')}`);
        seen.add(g.name);
        return;
      }
      for (const c of inv.groups.get(n)?.children ?? []) walk(c, [...trail, n]);
    };
    walk(g.name, []);
  }

  const connOf = (name: string, vars: Vars, pos: Map<string, SourcePos>): { conn: Vars; rest: Vars } => {
    const conn: Vars = {};
    const rest: Vars = {};
    for (const [k, v] of Object.entries(vars)) {
      const p = pos.get(k);
      if (k in REFUSED_VARS) {
        inv.problem(p, k, REFUSED_VARS[k]!);
        continue;
      }
      const target = CONN_VARS[k];
      if (!target) {
        rest[k] = v;
        continue;
      }
      if (typeof v === 'string' && v.includes('{{')) {
        inv.problem(p, k, 'Jinja2 templates in connection variables are not supported; write the value itself');
        continue;
      }
      switch (target) {
        case 'address':
        case 'user':
        case 'ssh_key_path':
          conn[target] = String(v);
          break;
        case 'port': {
          const n = typeof v === 'number' ? v : Number(String(v).trim());
          if (!Number.isInteger(n) || n < 1 || n > 65535) inv.problem(p, k, `must be a port number (1-65535), got "${String(v)}"`);
          else conn.port = n;
          break;
        }
        case 'become': {
          const b = ansibleBool(v);
          if (b === undefined) inv.problem(p, k, `must be a boolean (yes/no, true/false), got "${String(v)}"`);
          else conn.become = b;
          break;
        }
        case 'become_method':
          if (String(v) !== 'sudo') inv.problem(p, k, `become method "${String(v)}" is not supported (only sudo)`);
          break;
        case 'become_user':
          if (String(v) !== 'root') inv.problem(p, k, `become_user "${String(v)}" is not supported (only root)`);
          break;
        case 'connection': {
          const c = String(v);
          if (c === 'local') conn.connection = 'local';
          else if (c === 'ssh' || c === 'paramiko' || c === 'smart') conn.connection = 'ssh';
          else inv.problem(p, k, `ansible_connection=${c} is not supported (only ssh and local) on host ${name}`);
          break;
        }
        case 'args': {
          const r = jumpFromSshArgs(String(v));
          if (r.unsupported) inv.problem(p, k, `unsupported ${r.unsupported}; only ProxyJump (-J / -o ProxyJump=...) and harmless -o options are understood`);
          else {
            // The most specific ansible_ssh_common_args replaces broader ones wholesale, so a
            // host whose args name no ProxyJump connects directly (e.g. the bastion itself).
            conn.jump = [...((conn.jump as string[] | undefined) ?? []), ...r.jump];
            if (r.knownHosts) conn.known_hosts = r.knownHosts;
          }
          break;
        }
      }
    }
    return { conn, rest };
  };

  // Inventory-wide vars come from `all`; other groups keep their own vars.
  const all = inv.groups.get('all')!;
  const allSplit = connOf('all', all.vars, all.varPos);
  doc.vars = allSplit.rest;
  // Connection settings for every host become native defaults (they apply to jump hosts too,
  // as ~/.ssh/config-wide settings would).
  if (Object.keys(allSplit.conn).length) {
    doc.defaults = {};
    for (const k of ['user', 'port', 'ssh_key_path', 'become', 'jump', 'known_hosts'] as const) {
      if (allSplit.conn[k] !== undefined) doc.defaults[k] = allSplit.conn[k];
    }
    if (Array.isArray(doc.defaults.jump) && doc.defaults.jump.length === 0) delete doc.defaults.jump;
    if (!Object.keys(doc.defaults).length) delete doc.defaults;
    if (allSplit.conn.connection === 'local') inv.problem(all.varPos.get('ansible_connection'), 'ansible_connection', 'ansible_connection=local for all hosts is not supported; set it on the hosts that run locally');
    for (const [k, p] of all.varPos) if (CONN_VARS[k]) positions.set(`defaults.${CONN_VARS[k] === 'args' ? 'jump' : CONN_VARS[k]}`, p);
  }
  const groupConn = new Map<string, Vars>();
  const hostKnownHosts: Record<string, string> = {};
  for (const g of inv.groups.values()) {
    if (g.name === 'all') continue;
    const { conn, rest } = connOf(g.name, g.vars, g.varPos);
    groupConn.set(g.name, conn);
    if (g.name === 'ungrouped') continue;
    const members = [...inv.hosts.keys()].filter((h) => memberOf.get(h)?.has(g.name));
    doc.groups[g.name] = { hosts: members, vars: rest };
    if (g.pos) positions.set(`groups.${g.name}`, g.pos);
    for (const [k, p] of g.varPos) positions.set(`groups.${g.name}.vars.${k}`, p);
  }

  // Ansible's group precedence: deeper groups win, then alphabetical order (later wins).
  const ordered = (groups: Iterable<string>): string[] =>
    [...groups].sort((a, b) => (depth.get(a) ?? 1) - (depth.get(b) ?? 1) || a.localeCompare(b));

  for (const h of inv.hosts.values()) {
    const groups = ordered(memberOf.get(h.name) ?? []);
    const { conn: hostConn, rest } = connOf(h.name, h.vars, h.varPos);
    const entry: Vars = {};
    const conn: Vars = {};
    for (const g of groups) Object.assign(conn, groupConn.get(g));
    Object.assign(conn, hostConn);
    entry.address = conn.address ?? h.name;
    for (const k of ['port', 'user', 'ssh_key_path', 'become', 'connection'] as const) {
      if (conn[k] !== undefined) entry[k] = conn[k];
    }
    const jumps = conn.jump as string[] | undefined;
    if (jumps?.length || (jumps && doc.defaults?.jump !== undefined)) entry.jump = jumps;
    if (typeof conn.known_hosts === 'string') hostKnownHosts[h.name] = conn.known_hosts;
    if (h.name === 'localhost' && conn.connection === undefined && conn.address === undefined) entry.connection = 'local';
    // A var set differently by two of the host's groups: native group order may differ from
    // Ansible's, so pin Ansible's answer on the host (host vars outrank group vars in both).
    const pinned: Vars = {};
    const seen = new Map<string, unknown>();
    for (const g of groups) {
      const gv = doc.groups[g]?.vars ?? {};
      for (const [k, v] of Object.entries(gv)) {
        if (seen.has(k) && JSON.stringify(seen.get(k)) !== JSON.stringify(v)) pinned[k] = v;
        else if (!seen.has(k)) seen.set(k, v);
        if (k in pinned) pinned[k] = v;
      }
    }
    const vars = { ...pinned, ...rest };
    if (Object.keys(vars).length) entry.vars = vars;
    doc.hosts[h.name] = entry;
    positions.set(`hosts.${h.name}`, h.pos);
    for (const [k, p] of h.varPos) {
      const t = CONN_VARS[k];
      positions.set(`hosts.${h.name}.${t && t !== 'args' && !t.startsWith('become_') ? t : t === 'args' ? 'jump' : `vars.${k}`}`, p);
    }
  }

  // The native model has one known_hosts file for all hosts: per-host files must agree.
  const khHosts = Object.entries(hostKnownHosts);
  if (khHosts.length) {
    const files = new Set(khHosts.map(([, f]) => f));
    const allHosts = Object.keys(doc.hosts).filter((h) => doc.hosts[h]!.connection !== 'local');
    if (files.size > 1 || (doc.defaults?.known_hosts !== undefined && !files.has(doc.defaults.known_hosts as string)) ||
        (doc.defaults?.known_hosts === undefined && khHosts.length !== allHosts.length)) {
      const [h] = khHosts.find(([n]) => positions.has(`hosts.${n}.jump`)) ?? khHosts[0]!;
      inv.problem(positions.get(`hosts.${h}.jump`) ?? positions.get(`hosts.${h}`), 'UserKnownHostsFile',
        'rancher-play uses one known_hosts file for every host: set UserKnownHostsFile once, in the `all` group\'s ansible_ssh_common_args');
    } else {
      doc.defaults = { ...(doc.defaults ?? {}), known_hosts: [...files][0]! };
    }
  }

  // Jump hosts that are themselves inventory hosts (by name, or by address and port) reuse that
  // host's connection settings (its key), as `ssh -J` would through ~/.ssh/config aliases.
  const defaults = doc.defaults ?? {};
  const rawJump = new Map<string, string[]>();
  for (const [name, entry] of Object.entries(doc.hosts)) if (Array.isArray(entry.jump) && entry.jump.length) rawJump.set(name, entry.jump);
  const mapSpec = (spec: string, self: string | undefined, key: string): string => {
    const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:@]+)(?::(\d+))?$/.exec(spec);
    if (!m) {
      inv.problem(positions.get(key), key, `cannot parse jump host "${spec}" (expected [user@]host[:port])`);
      return spec;
    }
    const [, user, host, port] = m;
    const match = Object.entries(doc.hosts).find(([n, e]) =>
      n !== self && (n === host || e.address === host) &&
      (port === undefined || Number(port) === (e.port ?? defaults.port ?? 22)) &&
      (user === undefined || (e.user ?? defaults.user ?? user) === user));
    if (!match) return spec;
    const [jn, je] = match;
    if (!doc.jump_hosts[jn]) {
      const jumpEntry: Vars = { address: je.address };
      for (const k of ['port', 'user', 'ssh_key_path'] as const) if (je[k] !== undefined) jumpEntry[k] = je[k];
      doc.jump_hosts[jn] = jumpEntry;
      // Multi-hop: the jump host's own chain comes first (its own ProxyJump).
      const own = rawJump.get(jn);
      if (own) jumpEntry.jump = collapse(own.map((x) => mapSpec(x, jn, `hosts.${jn}.jump`)));
    }
    return jn;
  };
  const collapse = (list: string[]): string | string[] => (list.length === 1 ? list[0]! : list);
  for (const [name, list] of rawJump) {
    doc.hosts[name]!.jump = collapse(list.map((x) => mapSpec(x, name, `hosts.${name}.jump`)));
  }
  if (defaults.jump) defaults.jump = collapse((defaults.jump as string[]).map((x) => mapSpec(x, undefined, 'defaults.jump')));
  return { doc, positions };
}

// ------------------------------------------------------------------ entry points

/**
 * Convert an Ansible inventory's text. Throws InputError (exit 5) listing every construct we
 * cannot map, each with file:line:column.
 */
export function convertAnsibleInventory(text: string, file: string): ConvertedInventory {
  const inv = new AInventory(file);
  if (/^#!/.test(text)) {
    throw new InputError([{ pos: { file, line: 1, col: 1 }, message: 'dynamic inventory scripts are not supported; export a static inventory with `ansible-inventory -i SCRIPT --list --yaml > inventory.yml`' }]);
  }
  if (/^\$ANSIBLE_VAULT/.test(text)) {
    throw new InputError([{ pos: { file, line: 1, col: 1 }, message: 'vault-encrypted inventories are not supported; decrypt it (`ansible-vault view`) into a file readable by rancher-play' }]);
  }
  const format = looksLikeIni(text) ? 'ini' : 'yaml';
  if (format === 'ini') parseIni(text, inv);
  else parseYaml(text, inv);
  // Map even after parse problems, so one pass reports everything that needs fixing.
  const { doc, positions } = toNative(inv);
  if (inv.problems.length) throw new InputError(inv.problems);
  return { doc, positions, format };
}

function looksLikeIni(text: string): boolean {
  const body = stripComments(text).trim();
  if (/^\[[^\]\n]+\]\s*$/m.test(body)) return true;
  // YAML mappings have `key:` lines; INI host lines are `name k=v ...`.
  return !/^[\w.-]+\s*:(\s|$)/m.test(body);
}

/** Convert an Ansible inventory file from disk. */
export function loadAnsibleInventory(file: string): ConvertedInventory {
  return convertAnsibleInventory(readFileSync(file, 'utf8'), file);
}

/**
 * The hook the inventory loader calls first: when `file` holds an Ansible inventory, its
 * native equivalent as a YamlSource (positions point into the Ansible file); otherwise
 * undefined, and the native YAML loader takes over (and reports unreadable files itself).
 */
export function ansibleInventorySource(file: string): YamlSource | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  if (buf.length > MAX_YAML_BYTES || buf.includes(0)) return undefined;
  const text = buf.toString('utf8').replace(/^\uFEFF/, '');
  if (!isAnsibleInventory(text, file)) return undefined;
  const { doc, positions } = convertAnsibleInventory(text, file);
  const fallback: SourcePos = { file, line: 1, col: 1 };
  const locate = (path: YamlPath): SourcePos => {
    for (let n = path.length; n > 0; n--) {
      const p = positions.get(path.slice(0, n).join('.'));
      if (p) return p;
    }
    return fallback;
  };
  return { file, value: doc, posOf: locate, valuePosOf: locate, secretPaths: [] };
}
