// The host-task runner: one task item on one host — render, `when`, probe then apply with
// retries and timeout, `changed_when`/`failed_when`, register. The same for every strategy;
// strategies only decide which host runs which item when.
import type { AnyTask } from '../task.js';
import type { HostCounts, Inventory, Play, Playbook, RunEvent, RunOptions, TaskEvent, TaskItem, TaskResult, Vars } from '../types.js';
import type { Transport } from '../transport/transport.js';
import { UnreachableError } from '../transport/transport.js';
import { probeThenApply, type FactCache } from './context.js';
import type { ApiRouter } from './kube-api.js';
import { defineTemplatedVars, secretValues, templateScope } from '../model/vars.js';
import type { Plan } from '../plan/index.js';
import { renderValue } from '../model/template.js';
import { nulPaths } from '../model/nul.js';
import { evalWhen } from '../model/expr.js';

/** Anything with `get(id)` — the model's Registry, or a plain map in tests. */
export interface TaskLookup {
  get(id: string): AnyTask | undefined;
}

export type Dead = 'failed' | 'unreachable';

export interface HostState {
  name: string;
  facts: Vars;
  /** Facts (`ctx.fact`) read on the host so far; a change made for the host clears them. */
  factCache: FactCache;
  registered: Vars;
  dead?: Dead;
  counts: HostCounts;
}

export const zeroCounts = (): HostCounts => ({ ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 });

/** What every strategy shares for one run. */
export interface RunEnv {
  inventory: Inventory;
  playbook: Playbook;
  plan: Plan;
  registry: TaskLookup;
  options: RunOptions;
  emit(e: RunEvent): void;
  signal?: AbortSignal;
  /** The connected transport of an inventory host (one per host and run). */
  hostTransport(name: string): Promise<Transport>;
  /** The facts read on an inventory host (one cache per host, whichever host's item read them). */
  factCache(name: string): FactCache;
  controller: Transport;
  state(name: string): HostState;
  stopped(): boolean;
  /** Where helm/kubectl on the controller reach an inventory host's API server (over its SSH connection). */
  apiRouter: ApiRouter;
  /** See ExecuteInput.addSecrets. */
  addSecrets?(values: string[]): void;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Adds a task's result to the host's recap counts. */
export function record(s: HostState, ev: TaskEvent, ignoreErrors: boolean): void {
  const c = s.counts;
  if (ev.status === 'ok' || ev.status === 'changed' || (ev.status === 'failed' && ignoreErrors)) c.ok += 1;
  if (ev.status === 'changed') c.changed += 1;
  if (ev.status === 'skipped') c.skipped += 1;
  if (ev.status === 'failed' && !ignoreErrors) c.failed += 1;
  if (ev.status === 'unreachable') c.unreachable += 1;
}

/** Which item runs: `index` is its position in `play.tasks` (in `play.handlers` for a handler). */
export interface ItemCall {
  play: Play;
  item: TaskItem;
  index: number;
  handler: boolean;
  /** The play's batch, when it has `serial:`. */
  batch?: { index: number; count: number };
}

export interface HostTaskOutcome {
  ev: TaskEvent;
  /** Facts the task set on the host (run_once gives them to the batch's other hosts). */
  facts?: Vars;
}

/** One task on one host: render, `when`, probe/apply with retries and timeout, register. */
export async function runHostTask(env: RunEnv, call: ItemCall, s: HostState): Promise<HostTaskOutcome> {
  const { inventory: inv, playbook: pb, plan, options: opt, emit } = env;
  const { play, item, index, handler, batch } = call;
  const ids = {
    play: play.name, play_index: pb.plays.indexOf(play), task: item.name, task_index: index, ...(handler ? { handler } : {}),
    ...(batch ? { batch_index: batch.index, batch_count: batch.count } : {}),
  };
  const log = (line: string): void => emit({ event: 'log', ...ids, host: s.name, line });
  const start = Date.now();
  emit({ event: 'task_start', ...ids, id: item.id, host: s.name });
  const base = plan.vars(s.name, ids.play_index);
  const vars: Vars = { ...base, ...s.facts, ...opt.extraVars };
  let delegated: string | undefined;
  const finish = (r: TaskResult): HostTaskOutcome => {
    const end = Date.now();
    const ev: TaskEvent = {
      event: 'task', ...ids, id: item.id, host: s.name,
      status: r.status, changed: r.changed, msg: r.msg,
      duration_ms: end - start, start_ms: start, end_ms: end,
    };
    if (delegated !== undefined) ev.delegated_to = delegated;
    if (r.diff?.length && (opt.diff || r.changed)) ev.diff = r.diff;
    if (opt.check) ev.check = true;
    if (r.warnings?.length) ev.warnings = r.warnings;
    if (item.register) {
      s.registered[item.register] = {
        ...(r.data ?? {}), status: r.status, changed: r.changed, msg: r.msg,
        failed: r.status === 'failed', skipped: r.status === 'skipped',
      };
    }
    const facts = r.facts && r.status !== 'failed' ? r.facts : undefined;
    if (facts) Object.assign(s.facts, facts);
    return { ev, facts };
  };

  let params: Vars;
  let scope: Vars;
  try {
    scope = templateScope(inv, s.name, vars, s.registered);
    // Vars defined by templates of registered results or facts render now, when a task reads them
    // (unless a fact of the same name replaced the var).
    const runtimeVars = plan.runtimeVars(s.name, ids.play_index);
    defineTemplatedVars(scope, runtimeVars.filter((n) => scope[n] === base[n]));
    if (item.when !== undefined && !evalWhen(item.when, scope)) {
      return finish({ status: 'skipped', changed: false, msg: `when "${item.when}" is false` });
    }
    // The plan rendered the params before the run; only those reading a name set since (a
    // registered result, a fact, a var rendered at run time, another -e) render again, here.
    const own = (o: Vars | undefined, n: string): boolean => !!o && Object.prototype.hasOwnProperty.call(o, n);
    const otherExtra = opt.extraVars !== plan.extraVars ? opt.extraVars : undefined;
    params = plan.params.atRun(ids.play_index, item, s.name, scope, (n) => own(s.registered, n) || own(s.facts, n) || own(otherExtra, n) || runtimeVars.includes(n));
    const nul = nulPaths(params)[0];
    if (nul) throw new Error(`${[item.id, ...nul].join('.')} holds a NUL byte once rendered`);
  } catch (e) {
    return finish({ status: 'failed', changed: false, msg: errorText(e) });
  }
  const task = env.registry.get(item.id);
  if (!task) return finish({ status: 'failed', changed: false, msg: `unknown task "${item.id}"` });
  // The plan knew the secret params it could render; one that read a run-time value is masked from now on.
  const secretNames = task.secretParams ?? [];
  if (secretNames.length && env.addSecrets) env.addSecrets(secretNames.flatMap((n) => secretValues({ x: params[n] }, new Set(['x']))));

  // Tasks that declare a `delegate` param may be pointed at the controller per item, and
  // controller tasks that accept `delegate: host` (verify-dns, backup-kubeconfig's upload) at
  // the play's target host; the schema decides which values a task accepts.
  const delegate = params.delegate;
  const onController = delegate === 'controller' || (task.runsOn === 'controller' && delegate !== 'host');
  if (item.delegate_to !== undefined) {
    const to = delegateTarget(env, item, task.runsOn, scope);
    if ('error' in to) return finish({ status: 'failed', changed: false, msg: to.error });
    if (to.host !== undefined && to.host !== s.name) delegated = to.host;
  }
  // `delegate_to` runs on that host's connection; everything else (vars, register, facts) is the current host's.
  const where = delegated ?? s.name;
  let transport: Transport;
  try {
    transport = onController ? env.controller : await env.hostTransport(where);
  } catch (e) {
    const msg = e instanceof UnreachableError ? `unreachable (${e.reason}): ${e.message}` : `unreachable: ${errorText(e)}`;
    return finish({ status: 'unreachable', changed: false, msg });
  }
  const host = inv.hosts.get(s.name);
  const conn = inv.hosts.get(where)?.conn;
  const ctxHost = { name: s.name, address: conn?.address ?? where, groups: host?.groups ?? [], vars };
  const become = item.become ?? (onController ? false : conn?.become ?? false);
  // `check_mode` on the item wins over --check, as in Ansible.
  const check = item.check_mode ?? opt.check;
  const changedWhen = item.changed_when ?? declaredParam(task, params, 'changed_when');
  const failedWhen = item.failed_when ?? declaredParam(task, params, 'failed_when');

  const attempt = async (): Promise<TaskResult> => {
    const ac = new AbortController();
    const onAbort = (): void => ac.abort(new Error('interrupted'));
    env.signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = item.timeout_s !== undefined ? Date.now() + item.timeout_s * 1000 : undefined;
    let timer: NodeJS.Timeout | undefined;
    const ctxIn = {
      transport, host: ctxHost, vars: scope, check, diff: opt.diff,
      playbookDir: pb.dir, signal: ac.signal, become, deadline,
      // Controller facts are read afresh by each task: any host's task may change the controller.
      facts: onController ? new Map() : env.factCache(where),
      log, apiRouter: env.apiRouter,
      progress: (done: number, total: number, elapsed_ms: number) =>
        emit({ event: 'transfer', ...ids, host: s.name, done, total, elapsed_ms }),
    };
    try {
      const racers: Promise<TaskResult>[] = [probeThenApply(task, params, ctxIn)];
      if (deadline !== undefined) {
        racers.push(new Promise((resolve) => {
          timer = setTimeout(() => {
            ac.abort(new Error('timeout'));
            resolve({ status: 'failed', changed: false, msg: `timed out after ${item.timeout_s}s` });
          }, deadline - Date.now());
        }));
      }
      return await Promise.race(racers);
    } catch (e) {
      if (e instanceof UnreachableError) return { status: 'unreachable', changed: false, msg: `unreachable (${e.reason}): ${e.message}` };
      return { status: 'failed', changed: false, msg: errorText(e) };
    } finally {
      if (timer) clearTimeout(timer);
      env.signal?.removeEventListener('abort', onAbort);
    }
  };

  const judged = async (): Promise<TaskResult> => applyConditions(await attempt(), changedWhen, failedWhen, scope);
  let r = await judged();
  for (let i = 0; i < item.retries && r.status === 'failed' && !env.stopped(); i += 1) {
    log(`retry ${i + 1}/${item.retries}: ${r.msg}`);
    await sleep(item.delay_s * 1000, env.signal);
    r = await judged();
  }
  if (r.status === 'failed' && item.retries > 0) r = { ...r, msg: `${r.msg} (after ${item.retries} retries)` };
  // A controller task run for this host (rke up, helm) may have changed the host too.
  if (onController && !check) s.factCache.clear();
  return finish(r);
}

/**
 * Where `delegate_to` points for this host: an inventory host (the implicit `localhost`
 * included) whose connection runs the task. A task that runs on the controller stays there and
 * accepts only `localhost` (the load-time check catches literal values; this catches templates).
 */
function delegateTarget(env: RunEnv, item: TaskItem, runsOn: string | undefined, scope: Vars): { host?: string } | { error: string } {
  let to: string;
  try {
    to = String(renderValue(item.delegate_to, scope, { pos: item.pos, key: `${item.id}.delegate_to` })).trim();
  } catch (e) {
    return { error: errorText(e) };
  }
  if (runsOn === 'controller') {
    return to === 'localhost' ? {} : { error: `delegate_to: ${item.id} runs on the controller, so it can only be delegated to localhost (got "${to}")` };
  }
  if (!env.inventory.hosts.has(to)) return { error: `delegate_to: no host "${to}" in the inventory` };
  return { host: to };
}

/** A `changed_when`/`failed_when` a task declares among its params (command does): the executor judges it. */
function declaredParam(task: { schema: unknown }, params: unknown, key: 'changed_when' | 'failed_when'): string | boolean | undefined {
  const props = (task.schema as { properties?: Record<string, unknown> }).properties ?? {};
  if (!(key in props) || params === null || typeof params !== 'object') return undefined;
  const v = (params as Record<string, unknown>)[key];
  return typeof v === 'string' || typeof v === 'boolean' ? v : undefined;
}

function literal(cond: string | boolean): boolean | undefined {
  if (typeof cond === 'boolean') return cond;
  const t = cond.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : undefined;
}

/**
 * `failed_when` then `changed_when` over the result, for every task. They change only what is
 * reported. A result without data (a command not run under --check) can only be judged by a
 * literal true/false; an expression then leaves the task's own prediction as it is.
 */
export function applyConditions(r: TaskResult, changedWhen: string | boolean | undefined, failedWhen: string | boolean | undefined, scope: Vars): TaskResult {
  if (r.status === 'skipped' || r.status === 'unreachable') return r;
  const judge = (cond: string | boolean): boolean | undefined => {
    const lit = literal(cond);
    if (lit !== undefined || r.data === undefined) return lit;
    return evalWhen(String(cond), { ...scope, ...r.data, changed: r.changed, failed: r.status === 'failed' });
  };
  let out = r;
  try {
    if (failedWhen !== undefined) {
      const failed = judge(failedWhen);
      if (failed === true && r.status !== 'failed') out = { ...r, status: 'failed', changed: false, msg: `failed_when is true: ${r.msg}` };
      // A task that reported failure but is declared fine still ran: it counts as changed.
      if (failed === false && r.status === 'failed') out = { ...r, status: 'changed', changed: true };
    }
    if (changedWhen !== undefined && out.status !== 'failed') {
      const changed = judge(changedWhen);
      if (changed !== undefined) out = { ...out, status: changed ? 'changed' : 'ok', changed };
    }
  } catch (e) {
    return { ...r, status: 'failed', changed: false, msg: `${failedWhen !== undefined && out === r ? 'failed_when' : 'changed_when'}: ${errorText(e)}` };
  }
  return out;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
