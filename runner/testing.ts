// Test helper for task authors (`import { runTask } from 'rancher-play/testing'`): runs one task
// on this machine (or a given transport) the way the engine does — params validated against the
// task's schema with defaults filled in, precheck, read-only probe, then apply unless in check
// mode — and returns the result instead of printing it. No inventory or playbook needed.
import { tmpdir } from 'node:os';
import { withDefaults, type TaskDefinition } from './task.js';
import { compileSchema } from './schema.js';
import type { TaskResult, Vars } from './types.js';
import type { Transport } from './transport/transport.js';
import { LocalTransport } from './transport/local.js';
import { precheckContext, probeThenApply } from './context.js';

export type { TaskResult, Status } from './types.js';

export interface RunTaskOptions {
  /** Check mode: only the probe runs; would-be changes come back as `changed`. */
  check?: boolean;
  /** Ask the task for diffs (as `--diff` does). */
  diff?: boolean;
  /** Vars the task sees in `ctx.vars` (and `ctx.host.vars`). */
  vars?: Vars;
  /** Directory relative paths resolve against (`ctx.resolve`, `readLocal`); default the OS temp dir. */
  playbookDir?: string;
  /** Host name/address the task sees; default `localhost` / `127.0.0.1`. */
  host?: { name?: string; address?: string; groups?: string[] };
  /** Run commands and writes through `sudo -n`. */
  become?: boolean;
  /** Where the task acts; default this machine (a local transport). */
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
  const vars = opts.vars ?? {};
  const hostName = opts.host?.name ?? 'localhost';
  if (def.precheck) {
    const problems = await def.precheck(p, precheckContext(hostName, vars, playbookDir));
    if (problems.length) throw new ParamsError(def.id, problems);
  }
  const logs: string[] = [];
  const transport = opts.transport ?? new LocalTransport(hostName, opts.become ?? false);
  const ctxIn = {
    transport,
    host: { name: hostName, address: opts.host?.address ?? '127.0.0.1', groups: opts.host?.groups ?? [], vars },
    vars,
    check: opts.check ?? false,
    diff: opts.diff ?? false,
    playbookDir,
    signal: new AbortController().signal,
    become: opts.become ?? false,
    log: (line: string) => { logs.push(line); opts.onLog?.(line); },
  };
  try {
    return { ...(await probeThenApply(def, p, ctxIn)), logs };
  } catch (e) {
    return { status: 'failed', changed: false, msg: e instanceof Error ? e.message : String(e), logs };
  } finally {
    if (!opts.transport) await transport.close();
  }
}
