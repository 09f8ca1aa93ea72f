// What the CLI prints about the model without running anything: the inventory (`inventory`,
// `--graph`, `--json`), `--list-hosts` / `--list-tasks`, and a task's params (`tasks ID`).
// The commands themselves, their options and exit codes are in ./index.ts.
import { EXIT } from '../errors.js';
import type { ConnectionSpec, Inventory, RunOptions } from '../types.js';
import type { Registry } from '../engine/registry.js';
import type { AnyTask } from '../task.js';
import type { GroupTree } from '../model/ansible/index.js';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

/** The run flags the listings look at. */
export interface ListFlags {
  inventory: string;
  listHosts?: boolean;
  listTasks?: boolean;
}

/**
 * `--graph`, as ansible-inventory --graph draws it: each group with its child groups nested and
 * then its own hosts, in the inventory's order; the implicit localhost is not shown. A native
 * inventory has no nesting: its groups under `all`, then `ungrouped`.
 */
export function graph(inv: Inventory, tree?: GroupTree): string {
  const line = (name: string, depth: number): string => (depth ? `${'  |'.repeat(depth)}--${name}` : name);
  if (tree) {
    const lines: string[] = [];
    const walk = (g: string, depth: number): void => {
      lines.push(line(`@${g}:`, depth));
      const node = tree.get(g);
      for (const c of node?.children ?? []) walk(c, depth + 1);
      if (g !== 'all') for (const h of node?.hosts ?? []) lines.push(line(h, depth + 1));
    };
    walk('all', 0);
    return lines.join('\n');
  }
  const lines = ['@all:'];
  const grouped = new Set<string>();
  for (const g of inv.groups.values()) {
    if (g.name === 'all' || g.name === 'ungrouped') continue;
    lines.push(line(`@${g.name}:`, 1));
    for (const h of g.hosts) { lines.push(line(h, 2)); grouped.add(h); }
  }
  const ungrouped = (inv.groups.get('all')?.hosts ?? []).filter((h) => !grouped.has(h));
  lines.push(line('@ungrouped:', 1), ...ungrouped.map((h) => line(h, 2)));
  return lines.join('\n');
}

/** --list-hosts / --list-tasks / --syntax-check: everything is checked, nothing runs (ansible-playbook's layout). */
export async function listOnly(playbook: string, f: ListFlags, opt: RunOptions, io: Io): Promise<number> {
  const [{ loadAll, printWarnings }, { tasksToRun }] = await Promise.all([import('../engine/run.js'), import('../engine/executor.js')]);
  // As in ansible-playbook, listings and --syntax-check ignore --start-at-task.
  const { startAtTask: _ignored, ...listed } = opt;
  const { playbook: pb, plan } = await loadAll(playbook, f.inventory, listed);
  printWarnings(plan, io.stderr);
  if (!f.listHosts && !f.listTasks) {
    io.stdout.write(`\nplaybook: ${playbook}\n`);
    return EXIT.ok;
  }
  // Each task's tags deduplicated and sorted, as ansible-playbook prints them.
  const tags = (t: string[]): string => `TAGS: [${[...new Set(t)].sort().join(', ')}]`;
  const out = ['', `playbook: ${playbook}`];
  const shown = tasksToRun(pb, listed);
  pb.plays.forEach((play, i) => {
    out.push('', `  play #${i + 1} (${play.hosts.join(',')}): ${play.name}\t${tags([])}`);
    if (f.listHosts) {
      const hosts = plan.plays[i]!.hosts;
      out.push(`    pattern: [${play.hosts.map((h) => `'${h}'`).join(', ')}]`, `    hosts (${hosts.length}):`, ...hosts.map((h) => `      ${h}`));
    }
    if (f.listTasks) out.push('    tasks:', ...shown[i]!.map((t) => `      ${t.name}\t${tags(t.tags)}`));
  });
  io.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}

/** The connection as it will be made, for `inventory --json`. */
function connectionView(c: ConnectionSpec): Record<string, unknown> {
  return {
    address: c.address,
    port: c.port,
    user: c.user,
    identity_files: c.identity_files ?? (c.ssh_key_path ? [c.ssh_key_path] : []),
    jump: c.jump.map((j) => ({ address: j.address, port: j.port, user: j.user })),
    connection: c.connection,
    become: c.become,
  };
}

export async function inventoryJson(inv: Inventory): Promise<unknown> {
  const { maskSecrets, mergedVars } = await import('../model/vars.js');
  const hosts: Record<string, unknown> = {};
  for (const [name, h] of inv.hosts) {
    hosts[name] = { ...connectionView(h.conn), groups: h.groups, vars: maskSecrets(mergedVars(inv, name, {}, {}, {}), inv.secrets) };
  }
  const groups = Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));
  return { hosts, groups };
}

export async function inventoryView(inv: Inventory): Promise<unknown> {
  const { maskSecrets, mergedVars } = await import('../model/vars.js');
  const hosts: Record<string, unknown> = {};
  for (const [name, h] of [...inv.hosts].sort(([a], [b]) => a.localeCompare(b))) {
    hosts[name] = {
      connection: h.conn.connection,
      address: h.conn.address,
      ...(h.conn.connection === 'ssh' ? { port: h.conn.port, user: h.conn.user } : {}),
      ...(h.conn.jump.length ? { jump: h.conn.jump.map((j) => j.name) } : {}),
      ...(h.conn.become ? { become: true } : {}),
      groups: h.groups,
      vars: maskSecrets(mergedVars(inv, name, {}, {}, {}), inv.secrets),
    };
  }
  const groups = Object.fromEntries([...inv.groups.values()].map((g) => [g.name, g.hosts]));
  return { hosts, groups };
}

function describeParams(schema: Record<string, unknown>): string[] {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const typeOf = (p: Record<string, unknown>): string => {
    if (p.enum) return (p.enum as unknown[]).map((v) => JSON.stringify(v)).join('|');
    if (p.type) return Array.isArray(p.type) ? p.type.join('|') : String(p.type);
    const alts = (p.anyOf ?? p.oneOf) as Record<string, unknown>[] | undefined;
    if (alts) return alts.map(typeOf).join('|');
    return 'any';
  };
  const names = Object.keys(props);
  const w = Math.max(4, ...names.map((n) => n.length));
  return names.map((n) => {
    const p = props[n]!;
    const bits = [typeOf(p)];
    if (required.has(n)) bits.push('required');
    if (p.default !== undefined) bits.push(`default ${JSON.stringify(p.default)}`);
    return `  ${n.padEnd(w)}  ${bits.join(', ')}${p.description ? ` — ${String(p.description)}` : ''}`;
  });
}

/** Where a task runs, including what its `delegate` param (if any) lets a playbook choose. */
function runsOnText(t: AnyTask): string {
  const base = t.runsOn === 'controller' ? 'the controller' : 'each target host';
  const delegate = (t.schema as { properties?: Record<string, { enum?: unknown[] }> }).properties?.delegate;
  const other = t.runsOn === 'controller' ? 'host' : 'controller';
  if (!delegate || (delegate.enum && !delegate.enum.includes(other))) return base;
  return `${base} (delegate: ${other} runs it on ${other === 'host' ? 'each target host' : 'the controller'})`;
}

export async function taskInfo(registry: Registry, id: string, io: Io): Promise<number> {
  const t = registry.get(id);
  if (!t) {
    const { didYouMean } = await import('../model/suggest.js');
    const hint = didYouMean(id, registry.ids());
    io.stderr.write(`unknown task "${id}"${hint ? ` (did you mean "${hint}"?)` : ''}; \`rancher-play tasks\` lists them\n`);
    return EXIT.input;
  }
  const src = registry.source(id) ?? '';
  const out = [
    `${t.id} — ${t.summary}`,
    `runs on: ${runsOnText(t)}`,
    ...(src.startsWith('builtin') ? [] : [`source: ${src}`]),
    'params:',
    ...describeParams(t.schema as Record<string, unknown>),
  ];
  io.stdout.write(`${out.join('\n')}\n`);
  return EXIT.ok;
}
