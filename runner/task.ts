// The task contract: the only API a custom task author needs (`defineTask` + `TaskContext`).
// Like pyinfra's facts/operations split, a task has a read-only `probe` that finds out what
// differs and an `apply` that changes only that. Check mode runs the probe alone, so a dry run
// cannot change a host by construction (the probe's context refuses writes).
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { FileDiff, Vars } from './types.js';

export type { FromSchema, JSONSchema } from 'json-schema-to-ts';

export interface ExecOptions {
  /** Working directory for the command. */
  cwd?: string;
  /** Extra environment variables (values are quoted by the engine). */
  env?: Record<string, string>;
  /** Bytes written to the command's stdin. */
  stdin?: string | Buffer;
  /** Kill the command after this many milliseconds (result code 124). */
  timeoutMs?: number;
  /** Run through `sudo -n` (defaults to the host's/task's `become`). */
  become?: boolean;
  /** Called for every complete line of stdout/stderr as it arrives (streamed into the tree). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit code; 124 on timeout, 127 when the command was not found. */
  code: number;
}

export interface WriteOptions {
  /** File mode, e.g. 0o600. */
  mode?: number;
  /** `user` or `user:group`. */
  owner?: string;
  become?: boolean;
}

/** Options of `ctx.kubeApi`. */
export interface KubeApiOptions {
  /** Inventory host to reach the API server through (its address is dialled from it); `none`
   * dials the kubeconfig's server directly. Default: the var `api_via`, else the inventory host
   * the kubeconfig's server names, else direct. */
  via?: string;
}

/** The API server of a kubeconfig, reachable from the controller for the task's helm/kubectl. */
export interface KubeApi {
  /** The kubeconfig to hand the tool: a temporary 0600 copy pointing at the tunnel, or the
   * original file when the controller dials the server itself. */
  readonly kubeconfig: string;
  /** The server the original kubeconfig names. */
  readonly server: string;
  /** The inventory host the tunnel goes through; absent without a tunnel. */
  readonly via?: string;
  /** Why the tunnel could not open a connection, when it could not (for error messages). */
  problem(): string | undefined;
  /** Stops the tunnel and removes the copy (also done when the task ends); safe to call twice. */
  close(): Promise<void>;
}

/**
 * A read-only probe of a host, by name: one command and a pure parser of its result, so a fact is
 * tested from recorded command output. `ctx.fact` runs it at most once per host until a task
 * changes that host (pyinfra's facts).
 */
export interface Fact<P = void, T = unknown> {
  readonly id: string;
  /** The shell command that reads the fact; every value in it quoted with `quote`. */
  command(params: P, quote: (value: string) => string): string;
  /** The fact from the command's result (throw for output it cannot read). */
  parse(result: ExecResult, params: P): T;
}

/** Declares a fact (typed: `defineFact<{ path: string }, FileState>({...})`). */
export function defineFact<P = void, T = unknown>(fact: Fact<P, T>): Fact<P, T> {
  return fact;
}

/** What a task sees of the machine it acts on: the target host, or the controller. */
export interface TaskContext {
  /** The inventory host this task runs for (also set for controller tasks). */
  readonly host: { name: string; address: string; groups: string[]; vars: Vars };
  /** Merged vars (inventory → group → host → playbook → -e), facts and registered results. */
  readonly vars: Vars;
  /** True in check mode (dry run). `apply` is never called then. */
  readonly check: boolean;
  /** True under --diff. Tasks may skip computing diffs otherwise. */
  readonly diff: boolean;
  /** Directory of the playbook; relative `src` paths resolve against it. */
  readonly playbookDir: string;
  /** Aborted on timeout or interrupt. */
  readonly signal: AbortSignal;
  /** Resolve a path relative to the playbook's directory (absolute and `~/` paths pass through). */
  resolve(path: string): string;
  /** Quote one value for a POSIX shell. Every value that reaches a shell must go through it. */
  quote(value: string): string;
  /** Run a shell command on the target. In `probe` it must only read. */
  run(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** A fact of the target: in `probe` read once per host until a task changes the host; in
   * `apply` always read afresh. */
  fact<T>(fact: Fact<void, T>): Promise<T>;
  fact<P, T>(fact: Fact<P, T>, params: P): Promise<T>;
  /** Read a file on the target; `null` when it does not exist. */
  readFile(path: string): Promise<string | null>;
  /** Write a file on the target atomically (temp file + rename). Refused inside `probe`. */
  writeFile(path: string, content: string | Buffer, opts?: WriteOptions): Promise<void>;
  /** Stream a controller file to the target atomically, in constant memory, showing byte progress
   * for big files. Refused inside `probe`. Returns the bytes sent and the time taken. */
  upload(localPath: string, dest: string, opts?: WriteOptions): Promise<{ bytes: number; ms: number }>;
  /** Read a file on the controller (templates, sources); `null` when it does not exist. */
  readLocal(path: string): Promise<Buffer | null>;
  /** A line for the progress tree and -v output. */
  log(line: string): void;
  /** The Kubernetes API of `kubeconfig` (a controller path) for helm/kubectl on the controller:
   * through the SSH connection of the inventory host the kubeconfig's server names (or `via`),
   * as a local forward. Read-only, so probes and check mode use it too; close it when done. */
  kubeApi(kubeconfig: string, opts?: KubeApiOptions): Promise<KubeApi>;
}

/** What `probe` found. `changed: true` means apply would change something. */
export interface Probe<State = unknown> {
  changed: boolean;
  msg: string;
  /** `failed` for a check that does not hold; `skipped` when nothing applies to this host. */
  status?: 'ok' | 'failed' | 'skipped';
  diff?: FileDiff[];
  facts?: Vars;
  data?: Vars;
  warnings?: string[];
  /** Anything apply needs from the probe (e.g. the rendered content). */
  state?: State;
}

/** What `apply` may add to or override in the probe's result. */
export interface Applied {
  msg?: string;
  changed?: boolean;
  status?: 'ok' | 'failed';
  diff?: FileDiff[];
  facts?: Vars;
  data?: Vars;
  warnings?: string[];
}

/** Static checks on rendered params before anything connects (exit 5 on failure). */
export interface PrecheckContext {
  host: string;
  vars: Vars;
  playbookDir: string;
  resolve(path: string): string;
  /** Read a file on the controller (relative to the playbook directory); `null` when it does not exist. */
  readLocal(path: string): Promise<Buffer | null>;
  /** Where a variable's value was set: `file:line:col`, or `-e NAME`; undefined when unknown. */
  varSource?(name: string): string | undefined;
}

export interface TaskDefinition<Params = Vars, State = unknown> {
  /** Kebab-case id used as the task key in playbooks, e.g. `check-docker`. */
  id: string;
  /** One line shown by `rancher-play tasks`. */
  summary: string;
  /** JSON Schema of the params (the single source of truth; also published to editors). */
  schema: JSONSchema & object;
  /** `host` (default): runs on each target host. `controller`: runs on the machine running rancher-play. */
  runsOn?: 'host' | 'controller';
  /** Param names whose values are secrets (never printed). */
  secretParams?: string[];
  /** Returns error messages for params that can be rejected before connecting. */
  precheck?(params: Params, ctx: PrecheckContext): string[] | Promise<string[]>;
  /** Read-only: find out what differs. */
  probe(ctx: TaskContext, params: Params): Promise<Probe<State>>;
  /** Change what the probe found different. Omit for pure checks. */
  apply?(ctx: TaskContext, params: Params, probe: Probe<State>): Promise<Applied | void>;
}

/** A task definition as stored in the registry. Every task's params are a mapping, so any defined
 * task fits (methods are bivariant in their params) and the executor can hand it the rendered
 * params it has validated against `schema`. */
export type AnyTask = TaskDefinition<Vars, unknown>;

/** What a task author writes: a TaskDefinition whose params type is derived from `schema`.
 * Spelled out (not `Omit<TaskDefinition, ...>`) because the mapped type made tsc's error
 * elaboration explode ("excessively deep") on a simple typo in a task body. */
export interface TaskSpec<S, Params, State> {
  id: string;
  summary: string;
  schema: S;
  runsOn?: 'host' | 'controller';
  secretParams?: string[];
  precheck?(params: Params, ctx: PrecheckContext): string[] | Promise<string[]>;
  probe(ctx: TaskContext, params: Params): Promise<Probe<State>>;
  apply?(ctx: TaskContext, params: Params, probe: Probe<State>): Promise<Applied | void>;
}

/** Marks objects made by `defineTask`, so the loader can tell a task from any other export.
 * `Symbol.for` so that two copies of this module (bundle + installed package) agree. */
export const TASK_BRAND: unique symbol = Symbol.for('rancher-play.task') as never;

/** True for values made by `defineTask` (in any copy of the package). */
export function isTask(value: unknown): value is AnyTask {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TASK_BRAND] === true;
}

/** Any JSON object. The loose constraint (instead of `JSONSchema`) keeps tsc from checking the
 * literal against json-schema-to-ts's huge union when a task body has an unrelated error. */
export type SchemaObject = { readonly [key: string]: unknown };

/** The params type a task's schema describes (json-schema-to-ts `FromSchema`). */
export type ParamsOf<S> = S extends JSONSchema ? FromSchema<S> : never;

/**
 * Define a task. The params type is derived from the JSON Schema (write the schema inline, or
 * `as const`), so the implementation cannot drift from what the playbook validator accepts.
 * Properties with a `default` are required in the derived type: the engine fills defaults in.
 */
export function defineTask<const S extends SchemaObject, State = unknown>(
  def: TaskSpec<S, ParamsOf<S>, State>,
): TaskDefinition<ParamsOf<S>, State> {
  if (!/^[a-z][a-z0-9-]*$/.test(def.id)) throw new Error(`task id "${def.id}" must be kebab-case`);
  // Fill schema defaults here, so the derived type (defaulted props present) holds whoever
  // calls the task: the executor, runTask, or a test calling probe directly.
  const schema = def.schema as Record<string, unknown>;
  const fill = (params: ParamsOf<S>): ParamsOf<S> => withDefaults(schema, params) as ParamsOf<S>;
  const task: TaskSpec<S, ParamsOf<S>, State> = {
    ...def,
    probe: (ctx, params) => def.probe(ctx, fill(params)),
    ...(def.apply ? { apply: (ctx: TaskContext, params: ParamsOf<S>, probe: Probe<State>) => def.apply!(ctx, fill(params), probe) } : {}),
    ...(def.precheck ? { precheck: (params: ParamsOf<S>, ctx: PrecheckContext) => def.precheck!(fill(params), ctx) } : {}),
  };
  Object.defineProperty(task, TASK_BRAND, { value: true, enumerable: false });
  return task as unknown as TaskDefinition<ParamsOf<S>, State>;
}

/** A copy of `value` with the schema's `default`s filled in where properties are missing
 * (recursively through nested object properties). Values present are never replaced. */
export function withDefaults(schema: unknown, value: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return value;
  const props = (schema as { properties?: unknown }).properties;
  if (typeof props !== 'object' || props === null) return value;
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) return value;
  const out: Record<string, unknown> = { ...((value as Record<string, unknown> | undefined) ?? {}) };
  for (const [key, sub] of Object.entries(props as Record<string, unknown>)) {
    if (typeof sub !== 'object' || sub === null) continue;
    if (out[key] === undefined && 'default' in sub) out[key] = structuredClone((sub as { default: unknown }).default);
    if (out[key] !== undefined) out[key] = withDefaults(sub, out[key]);
  }
  return out;
}
