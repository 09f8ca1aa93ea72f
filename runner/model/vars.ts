// Variable merging, template scopes, -e parsing and secret masking.
// Precedence, lowest first: inventory vars, group vars (groups by name), host vars,
// playbook vars, play vars, -e. Merging replaces whole values (like Ansible's default).
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InputError, type InputProblem } from '../errors.js';
import { MAX_YAML_BYTES } from './yamlsrc.js';
import { loadYaml11 } from './ansible/yaml.js';
import { renderValue, templateRefs, TemplateError } from './template.js';
import type { Inventory, Vars } from '../types.js';

export const MASK = '********';

function assign(target: Vars, src: Vars | undefined): void {
  if (!src) return;
  // defineProperty, so a `__proto__` key stays a plain key instead of changing the prototype.
  for (const [k, v] of Object.entries(src)) Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/**
 * `default`s of the playbook's vars_schema properties: the lowest precedence of all, so a playbook
 * documents its optional vars with defaults that any inventory, group or host value overrides
 * (playbook `vars:` would override the inventory, like Ansible's play vars).
 */
export function schemaDefaults(schema: Record<string, unknown> | undefined): Vars {
  const out: Vars = {};
  const props = schema?.properties;
  if (!props || typeof props !== 'object') return out;
  for (const [k, v] of Object.entries(props as Record<string, unknown>)) {
    if (v && typeof v === 'object' && 'default' in v) assign(out, { [k]: (v as { default: unknown }).default });
  }
  return out;
}

export function mergedVars(inv: Inventory, host: string, playbookVars: Vars, playVars: Vars, extra: Vars, defaults: Vars = {}): Vars {
  const out: Vars = {};
  assign(out, defaults);
  assign(out, inv.vars);
  const h = inv.hosts.get(host);
  const groupNames = [...(h?.groups ?? [])].sort();
  for (const g of groupNames) assign(out, inv.groups.get(g)?.vars);
  assign(out, h?.vars);
  assign(out, playbookVars);
  assign(out, playVars);
  assign(out, extra);
  return out;
}

/** What templates see as `host` (and `hostvars.X.host`): the inventory entry plus its resolved connection. */
function hostInfoOf(inv: Inventory, name: string): Vars {
  const h = inv.hosts.get(name);
  const info: Vars = {};
  assign(info, h?.entry);
  assign(info, {
    name,
    address: h?.conn.address ?? name,
    port: h?.conn.port,
    user: h?.conn.user,
    ssh_key_path: h?.conn.ssh_key_path,
    groups: [...(h?.groups ?? [])],
  });
  return info;
}

// The inventory does not change during a run, so `hostvars` is computed once per inventory
// instead of once per task and host (that would be quadratic in the number of hosts).
const hostVarsCache = new WeakMap<Inventory, Record<string, Vars>>();

/** Inventory-level merged vars of every host (what templates see as `hostvars`), each with its `host` info. */
export function hostVarsOf(inv: Inventory): Record<string, Vars> {
  const cached = hostVarsCache.get(inv);
  if (cached) return cached;
  const out: Record<string, Vars> = {};
  for (const name of inv.hosts.keys()) {
    const v = mergedVars(inv, name, {}, {}, {});
    assign(v, { host: hostInfoOf(inv, name) });
    out[name] = v;
  }
  hostVarsCache.set(inv, out);
  return out;
}

/** `groups` for templates: group name → host names, including `all`. */
export function groupsOf(inv: Inventory): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const g of inv.groups.values()) out[g.name] = [...g.hosts];
  return out;
}

export function templateScope(inv: Inventory, host: string, vars: Vars, registered: Vars): Vars {
  const scope: Vars = {};
  assign(scope, vars);
  assign(scope, registered);
  assign(scope, { host: hostInfoOf(inv, host), groups: groupsOf(inv), hostvars: hostVarsOf(inv) });
  return scope;
}

/** The names a value's templates refer to (every string inside it); a syntax error is thrown. */
function valueRefs(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    if (value.includes('{{')) for (const r of templateRefs(value)) out.add(r);
  } else if (Array.isArray(value)) {
    for (const v of value) valueRefs(v, out);
  } else if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) valueRefs(v, out);
  }
  return out;
}

function hasTemplate(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('{{');
  if (Array.isArray(value)) return value.some(hasTemplate);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasTemplate);
  return false;
}

/**
 * Vars defined by other vars (`api_url: "https://{{ fqdn }}:6443"`, in the inventory or the
 * playbook), as Ansible has them: each is rendered against the host's scope, a var it refers to
 * first. Mutates `scope`: every name in `names` becomes an accessor that renders once, on first
 * read, and then holds the value — so a var nobody reads never fails. A var that reaches itself is
 * an error, as in Ansible.
 */
export function defineTemplatedVars(scope: Vars, names: Iterable<string>): void {
  const raw = new Map<string, unknown>();
  for (const n of names) raw.set(n, scope[n]);
  const busy = new Set<string>();
  for (const [name, value] of raw) {
    Object.defineProperty(scope, name, {
      enumerable: true,
      configurable: true,
      get() {
        if (busy.has(name)) throw new TemplateError(`variable "${name}" refers to itself (${[...busy, name].join(' -> ')})`, undefined, name);
        busy.add(name);
        try {
          const v = renderValue(value, scope, { key: name });
          Object.defineProperty(scope, name, { value: v, enumerable: true, writable: true, configurable: true });
          return v;
        } finally {
          busy.delete(name);
        }
      },
    });
  }
}

/**
 * Splits the templated vars of `vars` (its names whose values hold `{{ }}`, minus `literal`) into
 * those that render from `scope`'s names alone (`now`: the plan renders them) and those that need
 * a registered result or a fact (`later`, names in `runtimeNames`: rendered when a task reads
 * them); the rest (a name nothing defines) stay as written.
 */
export function templatedVars(vars: Vars, scope: Vars, literal: Vars = {}, runtimeNames: ReadonlySet<string> = new Set()): { now: string[]; later: string[] } {
  const templated = Object.keys(vars).filter((k) => !Object.prototype.hasOwnProperty.call(literal, k) && hasTemplate(vars[k]));
  const refs = new Map<string, Set<string>>();
  for (const k of templated) {
    try {
      refs.set(k, valueRefs(vars[k]));
    } catch {
      refs.set(k, new Set()); // a syntax error: rendering now reports it at the var
    }
  }
  const later = new Set<string>();
  // A name neither defined nor registered by the playbook: the value is text that only looks
  // like a template ("{{ not a template }}"), kept as written, as before vars could name vars.
  const unknown = new Set<string>();
  for (const k of templated) {
    for (const r of refs.get(k)!) {
      if (Object.prototype.hasOwnProperty.call(scope, r)) continue;
      if (runtimeNames.has(r)) later.add(k);
      else unknown.add(k);
    }
  }
  // A var that refers to a run-time one is run-time too.
  for (let grew = true; grew;) {
    grew = false;
    for (const k of templated) {
      if (later.has(k) || ![...refs.get(k)!].some((r) => later.has(r))) continue;
      later.add(k);
      grew = true;
    }
  }
  // A var naming one of those is kept as written too.
  for (let grew = true; grew;) {
    grew = false;
    for (const k of templated) {
      if (unknown.has(k) || ![...refs.get(k)!].some((r) => unknown.has(r))) continue;
      unknown.add(k);
      grew = true;
    }
  }
  for (const k of unknown) later.delete(k);
  return { now: templated.filter((k) => !later.has(k) && !unknown.has(k)), later: [...later] };
}

/** A member of an inventory group, as a task sees it through its vars. */
export interface GroupHost {
  name: string;
  address: string;
  vars: Vars;
}

const record = (v: unknown): Vars | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Vars) : undefined);

/**
 * The hosts of inventory group `group`, read from task vars: `groups` (name → host names) and
 * `hostvars` (name → vars), as the engine's template scope holds them (a test passes them in).
 * The address is the host's resolved `host.address`, else its `address`/`ansible_host` var, else
 * its name.
 */
export function groupHosts(vars: Vars, group: string): GroupHost[] {
  const members = record(vars.groups)?.[group];
  if (!Array.isArray(members)) return [];
  const all = record(vars.hostvars) ?? {};
  return members.map((m) => {
    const entry = record(m);
    const name = entry ? String(entry.name ?? m) : String(m);
    const hv = record(all[name]) ?? entry ?? {};
    return { name, address: String(record(hv.host)?.address ?? hv.address ?? hv.ansible_host ?? entry?.address ?? name), vars: hv };
  });
}

/**
 * Ansible's split_args (lib/ansible/parsing/splitter.py): whitespace-separated words, where
 * quotes and `{{ }}` / `{% %}` / `{# #}` blocks keep their spaces; quotes stay in the word.
 * undefined when a quote or block is not closed.
 */
export function splitArgs(s: string): string[] | undefined {
  const out: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const two = s.slice(i, i + 2);
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (two === '{{' || two === '{%' || two === '{#') {
      depth++;
      cur += two;
      i++;
      continue;
    }
    if (depth && (two === '}}' || two === '%}' || two === '#}')) {
      depth--;
      cur += two;
      i++;
      continue;
    }
    if (!depth && (c === '"' || c === "'") && (cur === '' || cur[cur.length - 1] !== '\\')) {
      quote = c;
      cur += c;
      continue;
    }
    if (!depth && /\s/.test(c)) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (quote || depth) return undefined;
  if (cur) out.push(cur);
  return out;
}

const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** _decode_escapes: Python's backslash escapes in a key=value word. */
function decodeEscapes(s: string): string {
  return s.replace(/\\(U[0-9a-fA-F]{8}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[0-7]{1,3}|[\\'"abfnrtv])/g, (_m, e: string) => {
    if (/^[Uux]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCodePoint(parseInt(e, 8));
    return ESCAPES[e]!;
  });
}

/** parse_kv without free-form params: `k=v` words, values always strings (matching quotes removed). */
function parseKv(arg: string): { vars?: Vars; error?: string } {
  const words = splitArgs(arg);
  if (!words) return { error: `cannot split ${JSON.stringify(arg)}: a quote or {{ }} is not closed` };
  const vars: Vars = {};
  for (const orig of words) {
    const w = decodeEscapes(orig);
    // The first `=` not escaped by a backslash, after the first character.
    let pos = 0;
    for (pos = w.indexOf('=', 1); pos > 0 && w[pos - 1] === '\\'; pos = w.indexOf('=', pos + 1));
    if (pos <= 0) return { error: `expected key=value, @file.yml or a {...} mapping, got ${JSON.stringify(orig)} (Ansible would pass it as _raw_params)` };
    const k = w.slice(0, pos).trim();
    const v = w.slice(pos + 1).trim();
    const unquoted = v.length >= 2 && (v[0] === '"' || v[0] === "'") && v[v.length - 1] === v[0] && v[v.length - 2] !== '\\' ? v.slice(1, -1) : v;
    assign(vars, { [k]: unquoted });
  }
  return { vars };
}

/**
 * `-e` arguments as ansible-playbook's load_extra_vars reads them: `@file` (YAML 1.1, a
 * mapping), `{...}` or `[...]` (YAML 1.1 inline, typed; must be a mapping), else `k=v` words
 * (several per argument, every value a string). Later arguments replace earlier keys.
 */
export function parseExtraVars(args: string[], cwd: string): Vars {
  const out: Vars = {};
  const problems: InputProblem[] = [];
  const notMapping = (arg: string): InputProblem => ({ key: '-e', message: `Invalid extra vars data supplied. '${arg}' could not be made into a dictionary` });
  for (const arg of args) {
    if (!arg) continue;
    if (arg.startsWith('@')) {
      const file = arg.slice(1);
      if (!file) {
        problems.push({ key: '-e', message: 'expected a file name after "@"' });
        continue;
      }
      let text: string;
      try {
        const path = resolvePath(cwd, file);
        if (statSync(path).size > MAX_YAML_BYTES) {
          problems.push({ pos: { file, line: 1, col: 1 }, key: '-e', message: 'file is too large' });
          continue;
        }
        text = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
      } catch (e) {
        const missing = (e as NodeJS.ErrnoException).code === 'ENOENT';
        problems.push({ pos: { file, line: 1, col: 1 }, key: '-e', message: missing ? 'file not found' : `cannot read it: ${(e as Error).message}` });
        continue;
      }
      const r = loadAnsibleData(text, file);
      if (r.problems.length) problems.push(...r.problems.map((p) => ({ ...p, key: '-e' })));
      else if (isMapping(r.value)) assign(out, r.value);
      else problems.push(notMapping(arg));
      continue;
    }
    if (arg[0] === '/' || arg[0] === '.') {
      problems.push({ key: '-e', message: `Please prepend extra_vars filename '${arg}' with '@'` });
      continue;
    }
    if (arg[0] === '{' || arg[0] === '[') {
      const r = loadAnsibleData(arg, '-e');
      if (r.problems.length) problems.push({ key: '-e', message: `cannot parse ${JSON.stringify(arg)}: ${r.problems[0]!.message}` });
      else if (isMapping(r.value)) assign(out, r.value);
      else problems.push(notMapping(arg));
      continue;
    }
    const kv = parseKv(arg);
    if (kv.error) problems.push({ key: '-e', message: kv.error });
    else assign(out, kv.vars);
  }
  if (problems.length) throw new InputError(problems);
  return out;
}

/** DataLoader.load: JSON when the text is JSON (`1e5` a number), else YAML 1.1 (`1e5` a string). */
function loadAnsibleData(text: string, file: string): ReturnType<typeof loadYaml11> {
  try {
    return { value: JSON.parse(text) as unknown, problems: [] };
  } catch {
    return loadYaml11(text, file);
  }
}

function isMapping(v: unknown): v is Vars {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A copy of `value` in which every property named in `secrets` is replaced by "********". */
export function maskSecrets(value: unknown, secrets: Set<string>): unknown {
  if (secrets.size === 0) return value;
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 100) return v;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      const out: Vars = {};
      for (const [k, x] of Object.entries(v)) {
        Object.defineProperty(out, k, { value: secrets.has(k) ? MASK : walk(x, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return v;
  };
  return walk(value, 0);
}

/** The concrete secret strings in a set of vars (values of secret-named keys, at any depth). */
export function secretValues(vars: Vars, secrets: Set<string>): string[] {
  const out = new Set<string>();
  const addAll = (v: unknown, depth: number): void => {
    if (depth > 100 || v === null || v === undefined) return;
    if (typeof v === 'object') Object.values(v).forEach((x) => addAll(x, depth + 1));
    else if (String(v).length >= 3) {
      out.add(String(v)); // too-short values would mask unrelated text
      // A multi-line secret (a PEM key) also shows line by line: in a diff, in -v output.
      if (String(v).includes('\n')) for (const l of String(v).split(/\r?\n/)) if (l.trim().length >= 4) out.add(l.trim());
    }
  };
  const walk = (v: unknown, depth: number): void => {
    if (depth > 100 || !v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (secrets.has(k)) addAll(x, depth + 1);
      else walk(x, depth + 1);
    }
  };
  walk(vars, 0);
  return [...out].sort((a, b) => b.length - a.length);
}

/** Replace every occurrence of the given secret strings in a text by "********". */
export function redactText(text: string, values: string[]): string {
  let out = text;
  for (const v of values) if (v) out = out.split(v).join(MASK);
  return out;
}
