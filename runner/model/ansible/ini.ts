// Ansible's INI inventory reader (lib/ansible/plugins/inventory/ini.py), line by line: sections,
// host lines split with shlex (comments dropped), values typed by ast.literal_eval, and
// `:children`/`:vars` naming a group that is never declared refused as Ansible refuses it.
import type { SourcePos } from '../../types.js';
import { expandHostPattern } from './address.js';
import { iniValue, NoJsonValue } from './literal.js';
import { AnsibleRefusal, type AInventory } from './model.js';
import { shlexSplit } from './shlex.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/u;
const GROUPNAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

interface Pending {
  line: number;
  state: 'vars' | 'children';
  parents: string[];
  pos: SourcePos;
}

/** Reads `text` into `inv`; stops at the first error, as Ansible does, recording it as a problem. */
export function parseIni(text: string, inv: AInventory): void {
  const file = inv.file;
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state = 'hosts';
  // str.splitlines() boundaries, so line numbers match Ansible's.
  const lines = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  for (let idx = 0; idx < lines.length; idx++) {
    const raw = lines[idx]!;
    const lineNo = idx + 1;
    const indent = raw.length - raw.trimStart().length;
    const pos = (col = indent + 1): SourcePos => ({ file, line: lineNo, col });
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === ';') continue;
    try {
      const m = SECTION.exec(line);
      if (m) {
        group = m[1]!;
        state = m[2] ?? 'hosts';
        if (!['hosts', 'children', 'vars'].includes(state)) {
          throw new AnsibleRefusal(`Section [${group}:${state}] has unknown type: ${state}`);
        }
        if (!inv.groups.has(group)) {
          if (state === 'vars' && !pending.has(group)) pending.set(group, { line: lineNo, state: 'vars', parents: [], pos: pos() });
          inv.addGroup(group, pos());
        }
        const p = pending.get(group);
        if (p && state !== 'vars') {
          if (p.state === 'children') addPendingChildren(inv, group, pending);
          else pending.delete(group);
        }
        continue;
      }
      if (line.startsWith('[') && line.endsWith(']')) {
        throw new AnsibleRefusal(`Invalid section entry: '${line}'. Please make sure that there are no spaces in the section entry, and that there are no other invalid characters`);
      }
      if (state === 'hosts') {
        const toks = (() => {
          try {
            return shlexSplit(raw, true);
          } catch (e) {
            throw new AnsibleRefusal(`Error parsing host definition '${line}': ${(e as Error).message}`);
          }
        })();
        if (!toks.length) continue;
        const [first, ...rest] = toks;
        const pattern = first!.text;
        const { names, port } = expandHostPattern(pattern);
        if (pattern.trim().endsWith(':') && port === undefined) {
          throw new AnsibleRefusal(`Invalid host pattern '${pattern}' supplied, ending in ':' is not allowed, this character is reserved to provide a port.`);
        }
        if (names.some((n) => n.trim() === '---')) throw new AnsibleRefusal(`Invalid host pattern '${pattern}' supplied, '---' is normally a sign this is a YAML file.`);
        const vars: [string, unknown, SourcePos][] = [];
        for (const t of rest) {
          const eq = t.text.indexOf('=');
          if (eq < 0) throw new AnsibleRefusal(`expected key=value after the host name, got: ${t.text}`);
          vars.push([t.text.slice(0, eq), iniValue(t.text.slice(eq + 1)), pos(t.col)]);
        }
        for (const n of names) {
          if (!n) throw new AnsibleRefusal(`Invalid empty host name provided: ${n}`);
          inv.addHost(n, group, port, pos(first!.col));
          for (const [k, v, p] of vars) inv.setHostVar(n, k, v, p);
        }
      } else if (state === 'vars') {
        const eq = line.indexOf('=');
        if (eq < 0) throw new AnsibleRefusal(`Expected key=value, got: ${line}`);
        inv.setGroupVar(group, line.slice(0, eq).trim(), iniValue(line.slice(eq + 1).trim()), pos());
      } else {
        const cm = GROUPNAME.exec(line);
        if (!cm) throw new AnsibleRefusal(`Expected group name, got: ${line}`);
        const child = cm[1]!;
        if (!inv.groups.has(child)) {
          const p = pending.get(child);
          if (!p) pending.set(child, { line: lineNo, state: 'children', parents: [group], pos: pos() });
          else p.parents.push(group);
        } else inv.addChild(group, child);
      }
    } catch (e) {
      if (!(e instanceof AnsibleRefusal || e instanceof NoJsonValue)) throw e;
      const message = e instanceof NoJsonValue ? `${e.message} has no JSON value; quote it to keep it a string` : e.message;
      inv.problem(pos(), undefined, message);
      return;
    }
  }
  // Only the first unresolved reference is reported, as in Ansible.
  for (const [name, decl] of pending) {
    const message = decl.state === 'vars'
      ? `Section [${name}:vars] not valid for undefined group: ${name}`
      : `Section [${decl.parents[decl.parents.length - 1]}:children] includes undefined group: ${name}`;
    inv.problem(decl.pos, name, message);
    return;
  }
}

function addPendingChildren(inv: AInventory, group: string, pending: Map<string, Pending>): void {
  for (const parent of pending.get(group)!.parents) {
    inv.addChild(parent, group);
    if (pending.get(parent)?.state === 'children') addPendingChildren(inv, parent, pending);
  }
  pending.delete(group);
}

