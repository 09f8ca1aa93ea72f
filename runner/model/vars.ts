// Variable merging, template scopes, -e parsing and secret masking.
// Precedence, lowest first: inventory vars, group vars (groups by name), host vars,
// playbook vars, play vars, -e. Merging replaces whole values (like Ansible's default).
import { resolve as resolvePath } from 'node:path';
import { parse as parseYamlValue } from 'yaml';
import { InputError, type InputProblem } from '../errors.js';
import { loadYamlFile } from './yamlsrc.js';
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

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Parse `-e key=value` (value as YAML), `-e @file.yml` and `-e '{"k": v}'` arguments. */
export function parseExtraVars(args: string[], cwd: string): Vars {
  const out: Vars = {};
  const problems: InputProblem[] = [];
  for (const arg of args) {
    if (arg.startsWith('@')) {
      const file = arg.slice(1);
      if (!file) {
        problems.push({ key: '-e', message: 'expected a file name after "@"' });
        continue;
      }
      try {
        const src = loadYamlFile(resolvePath(cwd, file));
        assign(out, src.value as Vars);
      } catch (e) {
        if (e instanceof InputError) problems.push(...e.problems.map((p) => ({ ...p, pos: p.pos ? { ...p.pos, file } : p.pos })));
        else throw e;
      }
      continue;
    }
    const trimmed = arg.trim();
    if (trimmed.startsWith('{')) {
      let v: unknown;
      try {
        v = parseYamlValue(trimmed);
      } catch {
        v = undefined;
      }
      if (v && typeof v === 'object' && !Array.isArray(v)) assign(out, v as Vars);
      else problems.push({ key: '-e', message: `cannot parse ${JSON.stringify(arg)} as a mapping` });
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq);
    if (eq < 0 || !IDENT.test(key)) {
      problems.push({ key: '-e', message: `expected key=value or @file.yml, got ${JSON.stringify(arg)}` });
      continue;
    }
    const raw = arg.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = raw === '' ? '' : parseYamlValue(raw, { maxAliasCount: 10 });
    } catch {
      value = raw; // not valid YAML: keep the literal text
    }
    assign(out, { [key]: value === null && raw !== '' && !/^(null|~|Null|NULL)$/.test(raw) ? raw : value });
  }
  if (problems.length) throw new InputError(problems);
  return out;
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
