// Ansible's in-memory inventory (lib/ansible/inventory/data.py, group.py, host.py, helpers.py),
// filled by the INI and YAML readers and then reconciled the same way: so membership, group
// depth, `ansible_group_priority` and the merged host vars come out as ansible-inventory shows.
import type { InputProblem } from '../../errors.js';
import type { SourcePos } from '../../types.js';

/** A variable's value and where it was set (for errors pointing into the Ansible file). */
export interface VarDef {
  value: unknown;
  pos: SourcePos;
}

export interface AGroup {
  name: string;
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Map<string, VarDef>;
  priority: number;
  pos?: SourcePos;
}

export interface AHost {
  name: string;
  vars: Map<string, VarDef>;
  pos: SourcePos;
}

/** Thrown for what Ansible itself refuses; the reader turns it into a positioned problem. */
export class AnsibleRefusal extends Error {}

export class AInventory {
  groups = new Map<string, AGroup>();
  hosts = new Map<string, AHost>();
  problems: InputProblem[] = [];
  constructor(public file: string) {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, pos?: SourcePos): AGroup {
    let g = this.groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], parents: [], vars: new Map(), priority: 1, pos };
      this.groups.set(name, g);
    } else if (!g.pos && pos) g.pos = pos;
    return g;
  }

  /** add_host: a port only counts where the host is first seen (Host(name, port)). */
  addHost(name: string, group: string | undefined, port: number | undefined, pos: SourcePos): AHost {
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, vars: new Map(), pos };
      this.hosts.set(name, h);
      if (port) h.vars.set('ansible_port', { value: port, pos });
    }
    if (group) {
      const g = this.groups.get(group)!;
      if (!g.hosts.includes(name)) g.hosts.push(name);
    }
    return h;
  }

  setGroupVar(group: string, key: string, value: unknown, pos: SourcePos): void {
    const g = this.groups.get(group)!;
    if (key === 'ansible_group_priority') {
      // Group.set_variable: the priority is an attribute, never a variable.
      // int(value): numbers truncate, strings must be decimal integers.
      const n = typeof value === 'number' ? Math.trunc(value) : typeof value === 'boolean' ? Number(value)
        : /^\s*[-+]?\d+\s*$/.test(String(value)) ? Number(String(value)) : NaN;
      if (!Number.isInteger(n)) throw new AnsibleRefusal(`ansible_group_priority must be an integer, got "${String(value)}"`);
      g.priority = n;
      return;
    }
    g.vars.set(key, { value, pos });
  }

  setHostVar(host: string, key: string, value: unknown, pos: SourcePos): void {
    const h = this.hosts.get(host)!;
    h.vars.set(key, { value, pos });
  }

  /** add_child_group, with Ansible's loop check. */
  addChild(parent: string, child: string): void {
    const p = this.groups.get(parent)!;
    if (p.name === child) throw new AnsibleRefusal("can't add group to itself");
    if (p.children.includes(child)) return;
    if (this.ancestors(parent).has(child)) {
      throw new AnsibleRefusal(`Adding group '${child}' as child to '${parent}' creates a recursive dependency loop.`);
    }
    p.children.push(child);
    this.depths.clear();
    const c = this.groups.get(child)!;
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }

  ancestors(group: string): Set<string> {
    const out = new Set<string>();
    const stack = [...(this.groups.get(group)?.parents ?? [])];
    while (stack.length) {
      const g = stack.pop()!;
      if (out.has(g)) continue;
      out.add(g);
      stack.push(...(this.groups.get(g)?.parents ?? []));
    }
    return out;
  }

  /** reconcile_inventory: orphan groups go under `all`, hosts in no group into `ungrouped`. */
  reconcile(): void {
    for (const g of this.groups.values()) if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    const ungrouped = this.groups.get('ungrouped')!;
    for (const h of this.hosts.values()) {
      const mine = this.hostGroups(h.name);
      if (mine.has('ungrouped')) {
        if ([...mine].some((g) => g !== 'all' && g !== 'ungrouped')) ungrouped.hosts = ungrouped.hosts.filter((x) => x !== h.name);
      } else if (mine.size === 0 || (mine.size === 1 && mine.has('all'))) {
        ungrouped.hosts.push(h.name);
      }
    }
  }

  /** The host's groups with their ancestors (host.get_groups after populate_ancestors), `all` included. */
  hostGroups(host: string): Set<string> {
    const out = new Set<string>();
    for (const g of this.groups.values()) {
      if (!g.hosts.includes(host)) continue;
      out.add(g.name);
      for (const a of this.ancestors(g.name)) out.add(a);
    }
    return out;
  }

  /** Group depth: the longest path from `all` (Group.depth, raised on every add_child). */
  depth(group: string): number {
    const known = this.depths.get(group);
    if (known !== undefined) return known;
    const g = this.groups.get(group);
    // Loops are refused when added, so the recursion ends.
    const d = group === 'all' || !g || g.parents.length === 0 ? 0 : Math.max(...g.parents.map((p) => this.depth(p) + 1));
    this.depths.set(group, d);
    return d;
  }

  private depths = new Map<string, number>();

  /** Group order for var merging: sort_groups, i.e. (depth, priority, name) with Python's string order. */
  sortGroups(names: Iterable<string>): string[] {
    const key = new Map([...names].map((n) => [n, { d: this.depth(n), p: this.groups.get(n)?.priority ?? 1 }]));
    return [...key.keys()].sort((a, b) => key.get(a)!.d - key.get(b)!.d || key.get(a)!.p - key.get(b)!.p || codePointCompare(a, b));
  }

  /** A host's variables as ansible-inventory --list shows them: group vars in sort_groups order, then its own. */
  hostVars(host: string): Map<string, VarDef> {
    const out = new Map<string, VarDef>();
    for (const g of this.sortGroups(this.hostGroups(host))) for (const [k, v] of this.groups.get(g)!.vars) out.set(k, v);
    for (const [k, v] of this.hosts.get(host)!.vars) out.set(k, v);
    return out;
  }

  problem(pos: SourcePos | undefined, key: string | undefined, message: string): void {
    this.problems.push({ pos, key, message });
  }
}

/** Python's str ordering: by code point (not UTF-16 unit, not locale). */
export function codePointCompare(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

