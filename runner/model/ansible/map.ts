// Maps a read Ansible inventory onto rancher-play's native inventory document. Each host's
// connection comes from its merged variables by Ansible's rules (the `ansible_ssh_*` spelling
// wins over `ansible_*`, as in lib/ansible/plugins/connection/ssh.py), and variables that the
// native merge (groups by name) would resolve differently are pinned on the host, so every host
// ends up with exactly the variables ansible-inventory shows.
import { isDeepStrictEqual } from 'node:util';
import type { SourcePos, Vars } from '../../types.js';
import { resolveFrom } from '../../paths.js';
import type { AInventory, VarDef } from './model.js';
import { sshArgsMeaning } from './sshargs.js';

/** A native inventory document, as if the user had written it in rancher-play's own format. */
export interface NativeInventoryDoc {
  defaults?: Vars;
  jump_hosts: Record<string, Vars>;
  hosts: Record<string, Vars>;
  groups: Record<string, { hosts: string[]; vars: Vars }>;
  vars: Vars;
}

/**
 * Connection variables: read into the host's connection, not kept as variables. Where several
 * names set one option, the later name in the list wins (the config manager keeps the last
 * defined entry of an option's `vars:` list).
 */
export const CONNECTION_VARS = {
  address: ['ansible_host', 'ansible_ssh_host'],
  port: ['ansible_port', 'ansible_ssh_port'],
  user: ['ansible_user', 'ansible_ssh_user'],
  ssh_key_path: ['ansible_private_key_file', 'ansible_ssh_private_key_file'],
  become: ['ansible_become'],
  become_method: ['ansible_become_method'],
  become_user: ['ansible_become_user', 'ansible_sudo_user'],
  connection: ['ansible_connection'],
  ssh_args: ['ansible_ssh_args'],
  ssh_common_args: ['ansible_ssh_common_args'],
  ssh_extra_args: ['ansible_ssh_extra_args'],
} as const;

const CONN_NAMES = new Set<string>(Object.values(CONNECTION_VARS).flat());

/** Connection-related variables we recognise but cannot honour: refused rather than ignored. */
const REFUSED_VARS: Record<string, string> = {
  ansible_password: 'password authentication is not supported; use a key (ansible_ssh_private_key_file) or ssh-agent',
  ansible_ssh_pass: 'password authentication is not supported; use a key (ansible_ssh_private_key_file) or ssh-agent',
  ansible_ssh_password: 'password authentication is not supported; use a key (ansible_ssh_private_key_file) or ssh-agent',
  ansible_become_password: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_become_pass: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_sudo_pass: 'sudo passwords are not supported; rancher-play uses `sudo -n` (configure NOPASSWD)',
  ansible_become_exe: 'a custom become executable is not supported (rancher-play runs sudo -n)',
  ansible_sudo_exe: 'a custom become executable is not supported (rancher-play runs sudo -n)',
  ansible_become_flags: 'become flags are not supported (rancher-play runs sudo -n)',
  ansible_sudo_flags: 'become flags are not supported (rancher-play runs sudo -n)',
  ansible_ssh_executable: 'a custom ssh executable is not supported (rancher-play speaks SSH itself)',
};

const CONNECTION_TYPES: Record<string, 'ssh' | 'local'> = {
  ssh: 'ssh', smart: 'ssh', paramiko: 'ssh', paramiko_ssh: 'ssh', 'ansible.builtin.ssh': 'ssh',
  'ansible.builtin.paramiko_ssh': 'ssh', local: 'local', 'ansible.builtin.local': 'local',
};

/** ansible.module_utils.parsing.convert_bool.boolean(value, strict=False), as options of type bool use it. */
export function ansibleBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1;
  return ['y', 'yes', 'on', '1', 'true', 't'].includes(String(v).trim().toLowerCase());
}

/** Sort like Array.prototype.sort() does on strings: the order the native merge uses. */
const nativeOrder = (names: string[]): string[] => [...names].sort();

export function toNative(inv: AInventory): { doc: NativeInventoryDoc; positions: Map<string, SourcePos> } {
  const positions = new Map<string, SourcePos>();
  const doc: NativeInventoryDoc = { jump_hosts: {}, hosts: {}, groups: {}, vars: {} };
  const problem = (d: VarDef | undefined, key: string, msg: string): void => inv.problem(d?.pos, key, msg);
  const plainVars = (vars: Map<string, VarDef>, prefix: string): Vars => {
    const out: Vars = {};
    for (const [k, d] of vars) {
      if (CONN_NAMES.has(k) || k in REFUSED_VARS) continue;
      define(out, k, d.value);
      positions.set(`${prefix}.${k}`, d.pos);
    }
    return out;
  };

  const all = inv.groups.get('all')!;
  doc.vars = plainVars(all.vars, 'vars');
  // Group.get_hosts(): the group's own hosts, then its descendants' in breadth-first order, so
  // that host patterns with subscripts (`web[0]`) pick the hosts Ansible picks.
  const members = new Map<string, string[]>();
  for (const g of inv.groups.keys()) if (g !== 'all') members.set(g, groupHosts(inv, g));
  for (const g of inv.groups.values()) {
    if (g.name === 'all') continue;
    const hosts = members.get(g.name) ?? [];
    if (g.name === 'ungrouped' && hosts.length === 0) continue;
    doc.groups[g.name] = { hosts, vars: plainVars(g.vars, `groups.${g.name}.vars`) };
    if (g.pos) positions.set(`groups.${g.name}`, g.pos);
  }

  // The hosts in the order of the `all` group's get_hosts() (what `all[0]` picks).
  const order = groupHosts(inv, 'all');
  for (const h of inv.hosts.keys()) if (!order.includes(h)) order.push(h);

  // The key set for every host is also offered to jump hosts (native `defaults.ssh_key_path`).
  const allKey = pickVar(all.vars, CONNECTION_VARS.ssh_key_path);
  if (allKey && typeof allKey.value === 'string' && !allKey.value.includes('{{')) {
    doc.defaults = { ssh_key_path: resolveFrom(process.cwd(), allKey.value) };
    positions.set('defaults.ssh_key_path', allKey.pos);
  }

  const knownHostsOf = new Map<string, { file: string; def: VarDef }>();
  for (const h of order.map((n) => inv.hosts.get(n)!)) {
    const hv = inv.hostVars(h.name);
    const entry: Vars = {};
    const at = (field: string, d: VarDef | undefined): void => {
      if (d) positions.set(`hosts.${h.name}.${field}`, d.pos);
    };
    for (const [k, d] of hv) if (k in REFUSED_VARS && d.value !== null) problem(d, k, REFUSED_VARS[k]!);
    const text = (field: keyof typeof CONNECTION_VARS): { value: string; def: VarDef; name: string } | undefined => {
      const d = pickVar(hv, CONNECTION_VARS[field]);
      if (!d) return undefined;
      const name = [...CONNECTION_VARS[field]].reverse().find((n) => hv.get(n) === d)!;
      const value = typeof d.value === 'string' ? d.value : JSON.stringify(d.value);
      if (value.includes('{{') || value.includes('{%')) {
        problem(d, name, 'Jinja2 templates in connection variables are not supported; write the value itself');
        return undefined;
      }
      return { value, def: d, name };
    };

    const address = text('address');
    entry.address = address?.value ?? h.name;
    at('address', address?.def);
    const port = text('port');
    if (port) {
      const n = typeof port.def.value === 'number' ? port.def.value : /^\s*\d+\s*$/.test(port.value) ? Number(port.value) : NaN;
      if (!Number.isInteger(n) || n < 1 || n > 65535) problem(port.def, port.name, `must be a port number (1-65535), got "${port.value}"`);
      else entry.port = n;
      at('port', port.def);
    }
    const user = text('user');
    if (user) {
      entry.user = user.value;
      at('user', user.def);
    }
    const key = text('ssh_key_path');
    if (key) {
      // ssh gets the path as written: ~ expands, a relative path is relative to where ansible runs.
      entry.ssh_key_path = resolveFrom(process.cwd(), key.value);
      at('ssh_key_path', key.def);
    }
    const conn = text('connection');
    if (conn) {
      const c = CONNECTION_TYPES[conn.value];
      if (!c) problem(conn.def, conn.name, `ansible_connection=${conn.value} is not supported (only ssh and local) on host ${h.name}`);
      else entry.connection = c;
      at('connection', conn.def);
    } else entry.connection = 'ssh'; // an inventory `localhost` is reached over ssh too, unless it says local
    const become = pickVar(hv, CONNECTION_VARS.become);
    if (become) {
      entry.become = ansibleBool(become.value);
      at('become', become);
      if (entry.become) {
        const method = text('become_method');
        if (method && method.value !== 'sudo') problem(method.def, method.name, `become method "${method.value}" is not supported (only sudo)`);
        const bu = text('become_user');
        if (bu && bu.value !== 'root') problem(bu.def, bu.name, `become_user "${bu.value}" is not supported (only root)`);
      }
    }

    if (entry.connection === 'ssh') {
      const argDefs = [text('ssh_args'), text('ssh_common_args'), text('ssh_extra_args')];
      const given = argDefs.filter((a): a is { value: string; def: VarDef; name: string } => a !== undefined);
      if (given.length) {
        const r = sshArgsMeaning(given.map((a) => a.value));
        const last = given[given.length - 1]!.def;
        if (r.unsupported) {
          const culprit = given.find((a) => sshArgsMeaning([a.value]).unsupported) ?? given[given.length - 1]!;
          problem(culprit.def, culprit.name, `unsupported ${r.unsupported}; only ProxyJump (-J / -o ProxyJump=...) and harmless -o options are understood`);
        } else {
          if (r.jump?.length) {
            entry.jump = r.jump.length === 1 ? r.jump[0] : r.jump;
            for (const spec of r.jump) if (!/[@:.[]/.test(spec)) doc.jump_hosts[spec] = { address: spec };
          }
          at('jump', given.find((a) => sshArgsMeaning([a.value]).jump !== undefined)?.def ?? last);
          if (r.knownHosts) knownHostsOf.set(h.name, { file: r.knownHosts, def: last });
        }
      }
    }

    // Variables: pin on the host whatever the native merge (inventory, groups by name, host)
    // would give differently from Ansible's (depth, priority, name).
    const native: Vars = { ...doc.vars };
    for (const g of nativeOrder([...inv.hostGroups(h.name)].filter((g) => g !== 'all' && doc.groups[g]))) {
      for (const [k, v] of Object.entries(doc.groups[g]!.vars)) define(native, k, v);
    }
    const vars: Vars = {};
    for (const [k, d] of hv) {
      if (CONN_NAMES.has(k) || k in REFUSED_VARS) continue;
      if (!Object.prototype.hasOwnProperty.call(native, k) || !isDeepStrictEqual(native[k], d.value)) {
        define(vars, k, d.value);
        positions.set(`hosts.${h.name}.vars.${k}`, d.pos);
      }
    }
    if (Object.keys(vars).length) entry.vars = vars;
    doc.hosts[h.name] = entry;
    positions.set(`hosts.${h.name}`, h.pos);
  }

  // The native model has one known_hosts file for all hosts: per-host files must agree.
  if (knownHostsOf.size) {
    const files = new Set([...knownHostsOf.values()].map((k) => k.file));
    const sshHosts = Object.keys(doc.hosts).filter((h) => doc.hosts[h]!.connection !== 'local');
    if (files.size > 1 || knownHostsOf.size !== sshHosts.length) {
      const first = [...knownHostsOf.values()][0]!;
      inv.problem(first.def.pos, 'UserKnownHostsFile',
        "rancher-play uses one known_hosts file for every host: set UserKnownHostsFile once, in the `all` group's ansible_ssh_common_args");
    } else {
      doc.defaults = { ...(doc.defaults ?? {}), known_hosts: resolveFrom(process.cwd(), [...files][0]!) };
    }
  }
  return { doc, positions };
}

/** Group._get_hosts: hosts of the group and of its descendants (breadth-first, children in order). */
function groupHosts(inv: AInventory, name: string): string[] {
  const order = [name];
  for (let i = 0; i < order.length; i++) {
    for (const c of inv.groups.get(order[i]!)?.children ?? []) if (!order.includes(c)) order.push(c);
  }
  const out: string[] = [];
  for (const g of order) for (const h of inv.groups.get(g)?.hosts ?? []) if (!out.includes(h)) out.push(h);
  return out;
}

/** The defined (non-null) value of an option that wins: the last name of the list that is set. */
function pickVar(vars: Map<string, VarDef>, names: readonly string[]): VarDef | undefined {
  let out: VarDef | undefined;
  for (const n of names) {
    const d = vars.get(n);
    if (d && d.value !== null && d.value !== undefined) out = d;
  }
  return out;
}

function define(target: Vars, k: string, v: unknown): void {
  Object.defineProperty(target, k, { value: v, enumerable: true, writable: true, configurable: true });
}
