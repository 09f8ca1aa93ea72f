// Ansible's YAML inventory reader (lib/ansible/plugins/inventory/yaml.py) over YAML 1.1 as
// PyYAML resolves it: yes/no/on/off booleans, 0644 octal, 1:30 sexagesimal, `1e5` a string,
// `<<` merge keys, aliases, dates. Scalars are read untyped and resolved here with PyYAML's own
// patterns, because the YAML library's 1.1 schema differs in the corners (y/n, exponents).
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Document, Node as YamlNode, Scalar } from 'yaml';
import type { SourcePos } from '../../types.js';
import { MAX_ALIAS_COUNT } from '../yamlsrc.js';
import { expandHostPattern } from './address.js';
import { AnsibleRefusal, type AInventory } from './model.js';

// lib/yaml/resolver.py (PyYAML), implicit resolvers in registration order.
const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP = /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;

const MERGE = Symbol('merge');
const TAG = 'tag:yaml.org,2002:';

type Kind = 'null' | 'map' | 'string' | 'falsy' | 'other';
type Resolved = string | number | boolean | null | typeof MERGE | 'timestamp' | 'value';

function implicitTag(v: string): 'bool' | 'float' | 'int' | 'merge' | 'null' | 'timestamp' | 'value' | 'str' {
  const c = v[0] ?? '';
  if ('yYnNtTfFoO'.includes(c) && c && BOOL.test(v)) return 'bool';
  if (c && '-+0123456789.'.includes(c) && FLOAT.test(v)) return 'float';
  if (c && '-+0123456789'.includes(c) && INT.test(v)) return 'int';
  if (v === '<<') return 'merge';
  if ((c === '' || '~nN'.includes(c)) && NULL.test(v)) return 'null';
  if (c && '0123456789'.includes(c) && TIMESTAMP.test(v)) return 'timestamp';
  if (v === '=') return 'value';
  return 'str';
}

class LoadError extends Error {
  constructor(public node: YamlNode | null | undefined, message: string) {
    super(message);
  }
}

// lib/yaml/constructor.py SafeConstructor.construct_yaml_int / _float / _bool / _timestamp.
function constructInt(text: string): number {
  let v = text.replace(/_/g, '');
  let sign = 1;
  if (v[0] === '-') sign = -1;
  if ('+-'.includes(v[0] ?? '')) v = v.slice(1);
  if (v === '0') return 0;
  if (v.startsWith('0b') && /^[01]+$/.test(v.slice(2))) return sign * parseInt(v.slice(2), 2);
  if (v.startsWith('0x') && /^[0-9a-fA-F]+$/.test(v.slice(2))) return sign * parseInt(v.slice(2), 16);
  if (v[0] === '0' && /^[0-7]+$/.test(v)) return sign * parseInt(v, 8);
  if (v.includes(':')) {
    let n = 0;
    for (const part of v.split(':')) {
      if (!/^\d+$/.test(part)) throw new Error(`invalid int "${text}"`);
      n = n * 60 + Number(part);
    }
    return sign * n;
  }
  if (!/^\d+$/.test(v)) throw new Error(`invalid int "${text}"`);
  return sign * Number(v);
}

function constructFloat(text: string): number {
  let v = text.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (v[0] === '-') sign = -1;
  if ('+-'.includes(v[0] ?? '')) v = v.slice(1);
  if (v === '.inf') return sign * Infinity;
  if (v === '.nan') return NaN;
  if (v.includes(':')) {
    let n = 0;
    for (const part of v.split(':')) n = n * 60 + Number(part);
    return sign * n;
  }
  if (!/^(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?$/.test(v)) throw new Error(`invalid float "${text}"`);
  return sign * Number(v);
}

function constructBool(text: string): boolean {
  const b = ({ yes: true, no: false, true: true, false: false, on: true, off: false } as Record<string, boolean>)[text.toLowerCase()];
  if (b === undefined) throw new Error(`invalid bool "${text}"`);
  return b;
}

/** A timestamp as ansible-inventory prints it (Python's date/datetime isoformat()). */
function constructTimestamp(text: string): string {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ \t]+)(\d{1,2}):(\d\d):(\d\d)(?:\.(\d*))?(?:[ \t]*(Z|([-+])(\d{1,2})(?::(\d\d))?))?)?$/.exec(text);
  if (!m) throw new Error(`invalid timestamp "${text}"`);
  const [, y, mo, d, h, mi, s, frac, tz, tzSign, tzH, tzM] = m;
  const date = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d)) throw new Error(`invalid date "${text}"`);
  const p2 = (x: string | number): string => String(x).padStart(2, '0');
  const day = `${y}-${p2(mo!)}-${p2(d!)}`;
  if (h === undefined) return day;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw new Error(`invalid time "${text}"`);
  let out = `${day}T${p2(h)}:${mi}:${s}`;
  const micro = frac ? (frac.slice(0, 6) + '000000').slice(0, 6) : '000000';
  if (micro !== '000000') out += `.${micro}`;
  if (tz === 'Z') out += '+00:00';
  else if (tz) out += `${tzSign}${p2(tzH!)}:${tzM ?? '00'}`;
  return out;
}

/** Python's json key for a non-string mapping key. */
function keyText(k: unknown): string {
  if (k === null) return 'null';
  if (typeof k === 'boolean') return k ? 'true' : 'false';
  return String(k);
}

/** Builds Python values from the YAML nodes as Ansible's loader would, keeping node identity for aliases. */
class Constructor {
  private cache = new Map<YamlNode, unknown>();
  constructor(private doc: Document) {}

  deref(node: YamlNode | null | undefined): YamlNode | null {
    let n = node ?? null;
    for (let i = 0; n && isAlias(n) && i < 1000; i++) n = (n.resolve(this.doc) as YamlNode | undefined) ?? null;
    if (n && isAlias(n)) throw new LoadError(node, 'unresolvable alias');
    return n;
  }

  scalar(node: Scalar): Resolved | string {
    const text = node.value === null || node.value === undefined ? '' : String(node.value);
    const tag = node.tag;
    if (tag === '!vault' || tag === '!vault-encrypted') throw new LoadError(node, 'vaulted values (!vault) are not supported; move secrets to an `-e @file` or a native inventory `!secret`');
    if (tag === '!unsafe') {
      if (/\{[{%#]/.test(text)) throw new LoadError(node, '!unsafe values holding template markers are not supported (rancher-play would render them)');
      return text;
    }
    if (tag === undefined && text.startsWith('$ANSIBLE_VAULT')) throw new LoadError(node, 'vaulted values ($ANSIBLE_VAULT) are not supported; move secrets to an `-e @file` or a native inventory `!secret`');
    let kind: string;
    // PyYAML resolves the non-specific tag `!` like no tag at all.
    if (tag === undefined || tag === '!') kind = node.type === 'PLAIN' ? implicitTag(text) : 'str';
    else if (tag.startsWith(TAG)) kind = tag.slice(TAG.length);
    else throw new LoadError(node, `unsupported YAML tag ${tag}`);
    try {
      switch (kind) {
        case 'str':
          return text;
        case 'bool':
          return constructBool(text);
        case 'int':
          return constructInt(text);
        case 'float':
          return constructFloat(text);
        case 'null':
          return null;
        case 'timestamp':
          return constructTimestamp(text);
        case 'merge':
          return MERGE;
        case 'value':
          throw new Error('could not determine a constructor for the tag \'tag:yaml.org,2002:value\'');
        default:
          throw new Error(`unsupported YAML tag !!${kind}`);
      }
    } catch (e) {
      if (e instanceof LoadError) throw e;
      throw new LoadError(node, (e as Error).message);
    }
  }

  /** What a node is for the reader's checks, without building what is inside it. */
  kind(node: YamlNode | null): Kind {
    if (!node) return 'null';
    if (isMap(node)) return 'map';
    if (isSeq(node)) return node.items.length ? 'other' : 'falsy';
    if (isScalar(node)) {
      const v = this.scalar(node);
      if (v === null) return 'null';
      if (typeof v === 'string') return v ? 'string' : 'falsy';
      return v === 0 || v === false ? 'falsy' : 'other';
    }
    return 'other';
  }

  /** flatten_mapping + construct_mapping: merged pairs first (earlier sources win), own keys last. */
  pairs(mapNode: YamlNode): { key: unknown; keyNode: YamlNode | null; value: YamlNode | null }[] {
    if (!isMap(mapNode)) throw new LoadError(mapNode, 'expected a mapping');
    const merged: { key: unknown; keyNode: YamlNode | null; value: YamlNode | null }[] = [];
    const own: typeof merged = [];
    for (const p of mapNode.items) {
      const keyNode = p.key as YamlNode | null;
      const k = keyNode && isScalar(this.deref(keyNode)) ? this.scalar(this.deref(keyNode) as Scalar) : this.value(keyNode);
      if (k === MERGE && keyNode && isScalar(keyNode)) {
        const v = this.deref(p.value as YamlNode | null);
        if (v && isMap(v)) merged.push(...this.pairs(v));
        else if (v && isSeq(v)) {
          const subs = v.items.map((it) => {
            const m = this.deref(it as YamlNode | null);
            if (!m || !isMap(m)) throw new LoadError(it as YamlNode, 'expected a mapping for merging');
            return this.pairs(m);
          });
          for (const s of subs.reverse()) merged.push(...s);
        } else throw new LoadError(p.value as YamlNode, 'expected a mapping or list of mappings for merging');
        continue;
      }
      if (k !== null && typeof k === 'object') throw new LoadError(keyNode, 'found unhashable key');
      own.push({ key: k, keyNode, value: p.value as YamlNode | null });
    }
    return [...merged, ...own];
  }

  /** The mapping as Python's dict would hold it: first position of each key, last value. */
  dict(mapNode: YamlNode): Map<string, { key: unknown; keyNode: YamlNode | null; value: YamlNode | null }> {
    const out = new Map<string, { key: unknown; keyNode: YamlNode | null; value: YamlNode | null }>();
    for (const e of this.pairs(mapNode)) out.set(typeof e.key === 'string' ? `s:${e.key}` : `x:${keyText(e.key)}`, e);
    return out;
  }

  value(node: YamlNode | null | undefined): unknown {
    const n = this.deref(node);
    if (!n) return null;
    if (this.cache.has(n)) return this.cache.get(n);
    if (!isScalar(n) && n.tag !== undefined && n.tag !== `${TAG}map` && n.tag !== `${TAG}seq`) throw new LoadError(n, `unsupported YAML tag ${n.tag}`);
    let out: unknown;
    if (isScalar(n)) {
      const v = this.scalar(n);
      if (v === MERGE) throw new LoadError(n, 'a merge key (<<) used as a value');
      out = v;
    } else if (isSeq(n)) {
      const arr: unknown[] = [];
      this.cache.set(n, arr);
      for (const it of n.items) arr.push(this.value(it as YamlNode | null));
      return arr;
    } else if (isMap(n)) {
      const obj: Record<string, unknown> = {};
      this.cache.set(n, obj);
      for (const e of this.dict(n).values()) {
        Object.defineProperty(obj, keyText(e.key), { value: this.value(e.value), enumerable: true, writable: true, configurable: true });
      }
      return obj;
    } else throw new LoadError(n, 'unsupported YAML node');
    this.cache.set(n, out);
    return out;
  }
}

/**
 * Reads `text` into `inv`. Returns false when the yaml plugin gives up on the whole file (not
 * YAML, empty, not a mapping): ansible-inventory then tries its INI reader on it.
 */
export function parseYaml(text: string, inv: AInventory): boolean {
  const file = inv.file;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, schema: 'failsafe', version: '1.1', uniqueKeys: false, merge: false });
  const at = (node: YamlNode | null | undefined): SourcePos => {
    const { line, col } = lc.linePos(node?.range?.[0] ?? 0);
    return { file, line, col };
  };
  for (const err of doc.errors) {
    const { line, col } = lc.linePos(err.pos[0]);
    inv.problem({ file, line, col }, undefined, err.message.split('\n')[0]!);
  }
  if (doc.errors.length) return false;
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    inv.problem({ file, line: 1, col: 1 }, undefined, `cannot load YAML: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
  const c = new Constructor(doc);
  const fail = (e: unknown, fallback: YamlNode | null | undefined, key?: string): void => {
    if (e instanceof LoadError) inv.problem(at(e.node ?? fallback), key, e.message);
    else if (e instanceof AnsibleRefusal) inv.problem(at(fallback), key, e.message);
    else throw e;
  };

  const valueAt = (node: YamlNode | null, keyNode: YamlNode | null, where: string): { ok: boolean; value?: unknown } => {
    try {
      return { ok: true, value: c.value(node) };
    } catch (e) {
      fail(e, keyNode, where);
      return { ok: false };
    }
  };

  const root = c.deref(doc.contents as YamlNode | null);
  let top: ReturnType<Constructor['dict']>;
  try {
    const empty = !root || (isScalar(root) && !c.value(root)) || ((isMap(root) || isSeq(root)) && root.items.length === 0);
    if (empty) {
      inv.problem(at(root), undefined, 'Parsed empty YAML file');
      return false;
    }
    if (!isMap(root)) {
      inv.problem(at(root), undefined, 'YAML inventory has invalid structure, it should be a dictionary');
      return false;
    }
    top = c.dict(root);
    const plugin = top.get('s:plugin');
    if (plugin && c.value(plugin.value)) {
      inv.problem(at(plugin.keyNode ?? root), 'plugin', 'inventory plugins (dynamic inventories) are not supported; export a static inventory with `ansible-inventory -i SRC --list --yaml` and use that');
      return true;
    }
  } catch (e) {
    fail(e, root);
    return true;
  }

  const parseGroup = (name: unknown, keyNode: YamlNode | null, valueNode: YamlNode | null, path: string[]): string | undefined => {
    const where = path.join('.');
    let node: YamlNode | null;
    let kind: Kind;
    try {
      node = c.deref(valueNode);
      kind = c.kind(node);
    } catch (e) {
      fail(e, valueNode ?? keyNode, where);
      return undefined;
    }
    if (kind !== 'null' && kind !== 'map') {
      // Ansible only warns and skips such an entry; a typo here would silently drop hosts.
      inv.problem(at(valueNode ?? keyNode), where, 'not a valid group definition (a group is a mapping of hosts, children and vars); Ansible skips it with a warning');
      return undefined;
    }
    if (typeof name !== 'string' || !name) {
      inv.problem(at(keyNode), where, `Invalid group name supplied, expected a string but got ${keyText(name)}`);
      return undefined;
    }
    inv.addGroup(name, at(keyNode));
    // `web:` with nothing under it (a null scalar) is an empty group, as in the yaml plugin.
    if (!node || kind === 'null') return name;
    const sections = c.dict(node);
    for (const e of sections.values()) {
      const key = e.key;
      const sub = `${where}.${keyText(key)}`;
      let vnode: YamlNode | null;
      let vkind: Kind;
      try {
        vnode = c.deref(e.value);
        vkind = c.kind(vnode);
      } catch (err) {
        fail(err, e.value ?? e.keyNode, sub);
        continue;
      }
      const isSection = key === 'vars' || key === 'children' || key === 'hosts';
      // A string section is shorthand for a mapping with one null entry.
      const single = isSection && vkind === 'string' ? (c.value(vnode) as string) : undefined;
      if (single === undefined && vkind !== 'null' && vkind !== 'map') {
        if (isSection) inv.problem(at(e.value ?? e.keyNode), sub, `Invalid "${key}" entry for "${name}" group, requires a dictionary`);
        else inv.problem(at(e.keyNode), sub, 'not a mapping; Ansible skips it with a warning');
        continue;
      }
      if (!isSection) {
        inv.problem(at(e.keyNode), sub, 'unknown group key (expected hosts, children or vars); Ansible skips it with a warning');
        continue;
      }
      if (vkind === 'null') continue;
      const entries = single !== undefined
        ? [{ key: single as unknown, keyNode: e.value, value: null as YamlNode | null }]
        : [...c.dict(vnode!).values()];
      try {
        if (key === 'vars') {
          for (const x of entries) {
            const val = valueAt(x.value, x.keyNode, `${sub}.${keyText(x.key)}`);
            if (val.ok) inv.setGroupVar(name, keyText(x.key), val.value, at(x.keyNode));
          }
        } else if (key === 'children') {
          for (const x of entries) {
            const child = parseGroup(x.key, x.keyNode, x.value, [...path, 'children', keyText(x.key)]);
            if (child !== undefined) inv.addChild(name, child);
          }
        } else {
          for (const x of entries) {
            const hostWhere = `${sub}.${keyText(x.key)}`;
            if (typeof x.key !== 'string') {
              inv.problem(at(x.keyNode), hostWhere, `Host pattern ${keyText(x.key)} must be a string. Enclose integers/floats in quotation marks.`);
              continue;
            }
            const hvNode = c.deref(x.value);
            const hvKind = c.kind(hvNode);
            if (hvKind === 'other' || hvKind === 'string') {
              inv.problem(at(x.value), hostWhere, 'Invalid data from file, expected dictionary (host variables)');
              continue;
            }
            let expanded: { names: string[]; port?: number };
            try {
              expanded = expandHostPattern(x.key);
            } catch (err) {
              fail(err, x.keyNode, hostWhere);
              continue;
            }
            const vars = hvKind === 'map' ? [...c.dict(hvNode!).values()] : [];
            for (const h of expanded.names) {
              inv.addHost(h, name, expanded.port, at(x.keyNode));
              for (const y of vars) {
                const val = valueAt(y.value, y.keyNode, `${hostWhere}.${keyText(y.key)}`);
                if (val.ok) inv.setHostVar(h, keyText(y.key), val.value, at(y.keyNode));
              }
            }
          }
        }
      } catch (err) {
        fail(err, e.keyNode, sub);
      }
    }
    return name;
  };

  for (const e of top.values()) {
    try {
      parseGroup(e.key, e.keyNode, e.value, [keyText(e.key)]);
    } catch (err) {
      fail(err, e.keyNode, keyText(e.key));
    }
  }
  return true;
}

/**
 * A whole YAML document read as Ansible's loader reads it (YAML 1.1, PyYAML's types), for
 * `-e @file` and `-e '{...}'`. Problems carry positions in `file`.
 */
export function loadYaml11(text: string, file: string): { value: unknown; problems: { pos: SourcePos; message: string }[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, schema: 'failsafe', version: '1.1', uniqueKeys: false, merge: false });
  const at = (offset: number): SourcePos => ({ file, ...lc.linePos(offset) });
  const problems = doc.errors.map((e) => ({ pos: at(e.pos[0]), message: e.message.split('\n')[0]! }));
  if (problems.length) return { value: undefined, problems };
  try {
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    return { value: new Constructor(doc).value(doc.contents as YamlNode | null), problems };
  } catch (e) {
    const node = e instanceof LoadError ? e.node : undefined;
    return { value: undefined, problems: [{ pos: at(node?.range?.[0] ?? 0), message: (e as Error).message.split('\n')[0]! }] };
  }
}
