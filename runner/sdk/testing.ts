// Test helper for task authors (`import { runTask } from 'rancher-play/testing'`): runs one task
// on this machine, on a host of an inventory (over SSH through its jump chain, as `run` connects)
// or through a given transport, the way the engine does — params validated against the task's
// schema with defaults filled in, precheck, read-only probe, then apply unless in check mode —
// and returns the result instead of printing it. No playbook needed.
import { tmpdir } from 'node:os';
import { withDefaults, type TaskDefinition } from '../task.js';
import { compileSchema } from '../model/schema.js';
import type { TaskResult, Vars } from '../types.js';
import type { Transport } from '../transport/transport.js';
import { LocalTransport } from '../transport/local.js';
import { precheckContext, probeThenApply } from '../engine/context.js';
import { loadInventory } from '../model/inventory.js';
import { mergedVars } from '../model/vars.js';
import { didYouMean } from '../model/suggest.js';
import { createTransportFactory } from '../transport/index.js';
import { UnreachableError } from '../transport/transport.js';
import { inventoryRouter, type ApiRouter } from '../engine/kube-api.js';

export type { TaskResult, Status } from '../types.js';

export interface RunTaskOptions {
  /** Check mode: only the probe runs; would-be changes come back as `changed`. */
  check?: boolean;
  /** Ask the task for diffs (as `--diff` does). */
  diff?: boolean;
  /** Vars the task sees in `ctx.vars` (and `ctx.host.vars`). */
  vars?: Vars;
  /** Directory relative paths resolve against (`ctx.resolve`, `readLocal`); default the OS temp dir. */
  playbookDir?: string;
  /**
   * Host name/address the task sees; default `localhost` / `127.0.0.1`. With `inventory`, the
   * name of the inventory host to run on (e.g. `'node1'`).
   */
  host?: string | { name?: string; address?: string; groups?: string[] };
  /**
   * An inventory file: the task runs on its `host` over that host's connection (SSH through
   * its jump hosts, with its user, key and known_hosts; or local), and sees its vars and groups
   * (`vars` are merged on top). A controller task (`runsOn: 'controller'`) still runs here.
   */
  inventory?: string;
  /** With `inventory`: trust and record host keys not yet in known_hosts. */
  acceptNewHostKeys?: boolean;
  /** Run commands and writes through `sudo -n`; with `inventory`, default the host's `become`. */
  become?: boolean;
  /** Where the task acts; default this machine (a local transport), or the inventory host. */
  transport?: Transport;
  /** Receives every `ctx.log` line (they are also collected in `logs`). */
  onLog?: (line: string) => void;
}

export interface RunTaskResult extends TaskResult {
  /** Lines the task logged with `ctx.log`. */
  logs: string[];
}

/** Thrown when `params` do not satisfy the task's schema or its precheck (exit 5 in a playbook). */
export class ParamsError extends Error {
  constructor(taskId: string, public readonly problems: string[]) {
    super(`${taskId}: invalid params: ${problems.join('; ')}`);
    this.name = 'ParamsError';
  }
}

/** Validates a copy of `params` with schema defaults filled in, with the engine's validator
 * (formats included), as the playbook loader does. */
export function prepareParams<P>(task: TaskDefinition<P, never>, params: unknown): P {
  const validate = compileSchema(task.schema);
  if (typeof validate === 'string') throw new ParamsError(task.id, [`invalid schema: ${validate}`]);
  const copy = withDefaults(task.schema, structuredClone(params ?? {}));
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') + ' ' : ''}${e.message ?? 'is invalid'}`);
    throw new ParamsError(task.id, problems);
  }
  return copy as P;
}

/**
 * Run `task` once with `params` and return its result (status ok/changed/failed/skipped).
 * Like the engine: errors thrown by the task become `failed` with the error's message; in check
 * mode `apply` is never called and the context refuses writes.
 * `params` may omit properties that have schema defaults; invalid params throw ParamsError.
 */
export async function runTask<P, S>(
  task: TaskDefinition<P, S>,
  params: Partial<P>,
  opts: RunTaskOptions = {},
): Promise<RunTaskResult> {
  const def = task as unknown as TaskDefinition<P, never>;
  const p = prepareParams(def, params);
  const playbookDir = opts.playbookDir ?? tmpdir();
  const where = opts.inventory !== undefined ? await inventoryTarget(opts, def, p) : localTarget(opts);
  if (def.precheck) {
    const problems = await def.precheck(p, precheckContext(where.host.name, where.host.vars, playbookDir));
    if (problems.length) throw new ParamsError(def.id, problems);
  }
  const logs: string[] = [];
  const ctxIn = {
    host: where.host,
    vars: where.host.vars,
    check: opts.check ?? false,
    diff: opts.diff ?? false,
    playbookDir,
    signal: new AbortController().signal,
    become: where.become,
    facts: new Map(),
    log: (line: string) => { logs.push(line); opts.onLog?.(line); },
    apiRouter: where.apiRouter,
  };
  const failed = (e: unknown, status: 'failed' | 'unreachable' = 'failed'): RunTaskResult => ({
    status, changed: false, msg: e instanceof Error ? e.message : String(e), logs,
  });
  try {
    let transport: Transport;
    try {
      transport = await where.transport();
    } catch (e) {
      return failed(e, e instanceof UnreachableError ? 'unreachable' : 'failed');
    }
    return { ...(await probeThenApply(def, p, { ...ctxIn, transport })), logs };
  } catch (e) {
    return failed(e);
  } finally {
    await where.close();
  }
}

interface Target {
  host: { name: string; address: string; groups: string[]; vars: Vars };
  become: boolean;
  transport(): Promise<Transport>;
  close(): Promise<void>;
  /** With an inventory: API servers of its hosts are reached over their connections, as in a run. */
  apiRouter?: ApiRouter;
}

function localTarget(opts: RunTaskOptions): Target {
  const h = typeof opts.host === 'string' ? { name: opts.host } : opts.host ?? {};
  const name = h.name ?? 'localhost';
  const own = opts.transport ? undefined : new LocalTransport(name, opts.become ?? false);
  return {
    host: { name, address: h.address ?? '127.0.0.1', groups: h.groups ?? [], vars: opts.vars ?? {} },
    become: opts.become ?? false,
    transport: async () => opts.transport ?? own!,
    close: async () => { await own?.close(); },
  };
}

/** The inventory host `opts.host`: its vars, and a connection made the way `run` makes it. */
async function inventoryTarget(opts: RunTaskOptions, task: TaskDefinition<unknown, never>, params: unknown): Promise<Target> {
  const inv = loadInventory(opts.inventory!);
  const name = typeof opts.host === 'string' ? opts.host : opts.host?.name;
  const entry = name === undefined ? undefined : inv.hosts.get(name);
  if (!entry) {
    const hint = name === undefined ? undefined : didYouMean(name, [...inv.hosts.keys()]);
    throw new Error(`runTask: ${name === undefined ? 'give `host`, the inventory host to run on' : `no host "${name}" in ${opts.inventory}`}${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  const vars = mergedVars(inv, entry.name, {}, {}, opts.vars ?? {});
  // As the engine decides: controller tasks run here unless a `delegate: host` param sends them out.
  const delegate = (params as { delegate?: unknown } | null)?.delegate;
  const here = delegate === 'controller' || (task.runsOn === 'controller' && delegate !== 'host');
  const factory = createTransportFactory({ acceptNewHostKeys: opts.acceptNewHostKeys === true });
  const local = here ? new LocalTransport('controller') : undefined;
  const others = new Map<string, Promise<Transport>>();
  const apiRouter = inventoryRouter(inv, (h) => {
    let t = others.get(h);
    if (!t) {
      t = factory.get(inv.hosts.get(h)!.conn).then(async (x) => { await x.connect(); return x; });
      others.set(h, t);
    }
    return t;
  });
  return {
    apiRouter,
    host: { name: entry.name, address: entry.conn.address, groups: entry.groups, vars },
    become: opts.become ?? (here ? false : entry.conn.become),
    transport: async () => {
      if (local) return local;
      const t = opts.transport ?? (await factory.get(entry.conn));
      await t.connect();
      return t;
    },
    close: async () => {
      await local?.close();
      await factory.closeAll();
    },
  };
}
