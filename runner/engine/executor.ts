// Runs a validated playbook: plays in order, hosts in parallel (p-limit --forks), per task a
// read-only probe then (unless check mode or nothing differs) apply. Output is events only;
// renderers decide what the user sees. The executor never prints.
import pLimit from 'p-limit';
import type { AnyTask } from '../task.js';
import type {
  HostCounts, Inventory, Play, Playbook, RecapEvent, RunEvent, RunOptions, TaskEvent, TaskItem,
  TaskResult, Vars,
} from '../types.js';
import type { Transport } from '../transport/transport.js';
import { UnreachableError } from '../transport/transport.js';
import { createTransportFactory, type TransportFactory } from '../transport/index.js';
import { LocalTransport } from '../transport/local.js';
import { probeThenApply, type FactCache } from './context.js';
import { inventoryRouter } from './kube-api.js';
import { templateScope } from '../model/vars.js';
import { Plan } from '../plan/index.js';
import { renderValue } from '../model/template.js';
import { evalWhen } from '../model/expr.js';
import { globToRegExp } from '../glob.js';

/** Anything with `get(id)` — the model's Registry, or a plain map in tests. */
export interface TaskLookup {
  get(id: string): AnyTask | undefined;
}

export interface ExecuteInput {
  inventory: Inventory;
  playbook: Playbook;
  registry: TaskLookup;
  options: RunOptions;
  emit(e: RunEvent): void;
  /** Aborted on interrupt: no new task starts; running tasks see their signal aborted. */
  signal?: AbortSignal;
  /** Injected by tests/`runTask`; by default one factory (one connection per host) per run. */
  transports?: TransportFactory;
  /** The run's plan (built here when the caller has none). */
  plan?: Plan;
}

export interface ExecuteOutput {
  recap: RecapEvent;
  interrupted: boolean;
}

type Dead = 'failed' | 'unreachable';

interface HostState {
  name: string;
  facts: Vars;
  /** Facts (`ctx.fact`) read on the host so far; a change made for the host clears them. */
  factCache: FactCache;
  registered: Vars;
  dead?: Dead;
  transport?: Promise<Transport>;
  counts: HostCounts;
}

const zero = (): HostCounts => ({ ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 });

/** Tag filter like Ansible: `always` runs unless explicitly skipped; untagged tasks run only without --tags. */
export function taskSelected(tags: string[], only?: string[], skip?: string[]): boolean {
  if (skip?.length && tags.some((t) => skip.includes(t))) return false;
  if (!only?.length || only.includes('all')) return true;
  return tags.includes('always') || tags.some((t) => only.includes(t));
}

/**
 * The tasks each play runs, in order: the tag filter, and `--start-at-task` (like Ansible: every
 * task before the first whose name matches is skipped, across plays). Handlers are not affected.
 */
export function tasksToRun(pb: Playbook, opt: Pick<RunOptions, 'tags' | 'skipTags' | 'startAtTask'>): TaskItem[][] {
  let started = opt.startAtTask === undefined;
  const re = opt.startAtTask !== undefined ? globToRegExp(opt.startAtTask) : undefined;
  return pb.plays.map((play) => {
    let tasks = play.tasks;
    if (!started) {
      const i = tasks.findIndex((t) => t.name === opt.startAtTask || re!.test(t.name));
      if (i < 0) return [];
      started = true;
      tasks = tasks.slice(i);
    }
    return tasks.filter((t) => taskSelected(t.tags, opt.tags, opt.skipTags));
  });
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function execute(input: ExecuteInput): Promise<ExecuteOutput> {
  const { inventory: inv, playbook: pb, options: opt, emit } = input;
  const plan = input.plan ?? new Plan(pb, inv, { extraVars: opt.extraVars, limit: opt.limit });
  const transports = input.transports ?? createTransportFactory({
    acceptNewHostKeys: opt.acceptNewHostKeys,
    passphrase: opt.passphrase,
    onLog: opt.verbose ? (host, line) => emit({ event: 'log', play: '', task: 'ssh', host, line }) : undefined,
  });
  const states = new Map<string, HostState>();
  const state = (h: string): HostState => {
    let s = states.get(h);
    if (!s) { s = { name: h, facts: {}, factCache: new Map(), registered: {}, counts: zero() }; states.set(h, s); }
    return s;
  };
  const controller = new LocalTransport('controller');
  const limit = pLimit(Math.max(1, opt.forks));
  const stopped = (): boolean => input.signal?.aborted === true;

  const hostTransport = (s: HostState): Promise<Transport> => {
    s.transport ??= (async () => {
      const host = inv.hosts.get(s.name);
      if (!host) throw new UnreachableError(s.name, 'other', `unknown host ${s.name}`);
      const t = await transports.get(host.conn);
      await t.connect();
      return t;
    })();
    return s.transport;
  };
  // helm/kubectl on the controller reach a node's API server over that node's connection (the
  // host's own when it runs tasks; else one of the tunnel's, so the recap names only targets).
  const tunnelOnly = new Map<string, Promise<Transport>>();
  const apiRouter = inventoryRouter(inv, (h) => {
    const s = states.get(h);
    if (s) return hostTransport(s);
    let t = tunnelOnly.get(h);
    if (!t) {
      t = transports.get(inv.hosts.get(h)!.conn).then(async (x) => { await x.connect(); return x; });
      tunnelOnly.set(h, t);
      t.catch(() => tunnelOnly.delete(h));
    }
    return t;
  });

  const record = (s: HostState, ev: TaskEvent, ignoreErrors: boolean): void => {
    const c = s.counts;
    if (ev.status === 'ok' || ev.status === 'changed' || (ev.status === 'failed' && ignoreErrors)) c.ok += 1;
    if (ev.status === 'changed') c.changed += 1;
    if (ev.status === 'skipped') c.skipped += 1;
    if (ev.status === 'failed' && !ignoreErrors) c.failed += 1;
    if (ev.status === 'unreachable') c.unreachable += 1;
  };

  /** One task on one host: render, `when`, probe/apply with retries and timeout, register.
   * `index` is the item's position in `play.tasks` (in `play.handlers` for a handler). */
  const runOne = async (play: Play, item: TaskItem, index: number, s: HostState, handler: boolean): Promise<TaskEvent> => {
    const ids = { play: play.name, play_index: pb.plays.indexOf(play), task: item.name, task_index: index, ...(handler ? { handler } : {}) };
    const log = (line: string): void => emit({ event: 'log', ...ids, host: s.name, line });
    const start = Date.now();
    emit({ event: 'task_start', ...ids, id: item.id, host: s.name });
    const base = plan.vars(s.name, ids.play_index);
    const vars: Vars = { ...base, ...s.facts, ...opt.extraVars };
    const finish = (r: TaskResult): TaskEvent => {
      const end = Date.now();
      const ev: TaskEvent = {
        event: 'task', ...ids, id: item.id, host: s.name,
        status: r.status, changed: r.changed, msg: r.msg,
        duration_ms: end - start, start_ms: start, end_ms: end,
      };
      if (r.diff?.length && (opt.diff || r.changed)) ev.diff = r.diff;
      if (opt.check) ev.check = true;
      if (r.warnings?.length) ev.warnings = r.warnings;
      if (item.register) {
        s.registered[item.register] = {
          ...(r.data ?? {}), status: r.status, changed: r.changed, msg: r.msg,
          failed: r.status === 'failed', skipped: r.status === 'skipped',
        };
      }
      if (r.facts && r.status !== 'failed') Object.assign(s.facts, r.facts);
      return ev;
    };

    let params: Vars;
    let scope: Vars;
    try {
      scope = templateScope(inv, s.name, vars, s.registered);
      if (item.when !== undefined && !evalWhen(item.when, scope)) {
        return finish({ status: 'skipped', changed: false, msg: `when "${item.when}" is false` });
      }
      params = renderValue(item.params, scope, { pos: item.pos, key: item.id });
    } catch (e) {
      return finish({ status: 'failed', changed: false, msg: errorText(e) });
    }
    const task = input.registry.get(item.id);
    if (!task) return finish({ status: 'failed', changed: false, msg: `unknown task "${item.id}"` });

    // Tasks that declare a `delegate` param may be pointed at the controller per item, and
    // controller tasks that accept `delegate: host` (verify-dns, backup-kubeconfig's upload) at
    // the play's target host; the schema decides which values a task accepts.
    const delegate = params.delegate;
    const onController = delegate === 'controller' || (task.runsOn === 'controller' && delegate !== 'host');
    let transport: Transport;
    try {
      transport = onController ? controller : await hostTransport(s);
    } catch (e) {
      const msg = e instanceof UnreachableError ? `unreachable (${e.reason}): ${e.message}` : `unreachable: ${errorText(e)}`;
      return finish({ status: 'unreachable', changed: false, msg });
    }
    const host = inv.hosts.get(s.name);
    const ctxHost = { name: s.name, address: host?.conn.address ?? s.name, groups: host?.groups ?? [], vars };
    const become = item.become ?? (onController ? false : host?.conn.become ?? false);
    // `check_mode` on the item wins over --check, as in Ansible.
    const check = item.check_mode ?? opt.check;
    const changedWhen = item.changed_when ?? declaredParam(task, params, 'changed_when');
    const failedWhen = item.failed_when ?? declaredParam(task, params, 'failed_when');

    const attempt = async (): Promise<TaskResult> => {
      const ac = new AbortController();
      const onAbort = (): void => ac.abort(new Error('interrupted'));
      input.signal?.addEventListener('abort', onAbort, { once: true });
      const deadline = item.timeout_s !== undefined ? Date.now() + item.timeout_s * 1000 : undefined;
      let timer: NodeJS.Timeout | undefined;
      const ctxIn = {
        transport, host: ctxHost, vars: scope, check, diff: opt.diff,
        playbookDir: pb.dir, signal: ac.signal, become, deadline,
        // Controller facts are read afresh by each task: any host's task may change the controller.
        facts: onController ? new Map() : s.factCache,
        log, apiRouter,
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
        input.signal?.removeEventListener('abort', onAbort);
      }
    };

    const judged = async (): Promise<TaskResult> => applyConditions(await attempt(), changedWhen, failedWhen, scope);
    let r = await judged();
    for (let i = 0; i < item.retries && r.status === 'failed' && !stopped(); i += 1) {
      log(`retry ${i + 1}/${item.retries}: ${r.msg}`);
      await sleep(item.delay_s * 1000, input.signal);
      r = await judged();
    }
    if (r.status === 'failed' && item.retries > 0) r = { ...r, msg: `${r.msg} (after ${item.retries} retries)` };
    // A controller task run for this host (rke up, helm) may have changed the host too.
    if (onController && !check) s.factCache.clear();
    return finish(r);
  };

  /** Runs `item` on host `s` unless the host is dead; updates counts and the notified set. */
  const step = async (play: Play, item: TaskItem, index: number, s: HostState, notified: Map<string, Set<string>>, handler: boolean): Promise<void> => {
    if (s.dead || stopped()) return;
    const ev = await runOne(play, item, index, s, handler);
    record(s, ev, item.ignore_errors);
    if (ev.status === 'failed' && item.ignore_errors) ev.msg = `${ev.msg} (ignored)`;
    emit(ev);
    if (ev.status === 'unreachable') s.dead = 'unreachable';
    else if (ev.status === 'failed' && !item.ignore_errors) s.dead = 'failed';
    if (ev.changed && !s.dead) {
      for (const h of item.notify) {
        let set = notified.get(h);
        if (!set) { set = new Set(); notified.set(h, set); }
        set.add(s.name);
      }
    }
    if (s.dead) emit({ event: 'host_done', play: play.name, play_index: pb.plays.indexOf(play), host: s.name, reason: s.dead });
  };

  const runHandlers = async (play: Play, hosts: HostState[], notified: Map<string, Set<string>>): Promise<void> => {
    for (const [hi, h] of play.handlers.entries()) {
      const who = notified.get(h.name) ?? notified.get(h.id);
      if (!who) continue;
      await Promise.all(hosts.filter((s) => who.has(s.name)).map((s) => limit(() => step(play, h, hi, s, notified, true))));
    }
  };

  const selected = tasksToRun(pb, opt);
  try {
    for (const [playIndex, play] of pb.plays.entries()) {
      if (stopped()) break;
      const names = plan.plays[playIndex]!.hosts;
      const hosts = names.map(state);
      const tasks = selected[playIndex]!;
      const at = (t: TaskItem): number => play.tasks.indexOf(t);
      emit({
        event: 'play_start', play: play.name, play_index: playIndex, hosts: names, strategy: play.strategy,
        tasks: tasks.map((t) => t.name), task_indexes: tasks.map(at),
      });
      const notified = new Map<string, Set<string>>();
      if (play.strategy === 'free') {
        await Promise.all(hosts.map((s) => limit(async () => {
          const mine = new Map<string, Set<string>>();
          for (const t of tasks) await step(play, t, at(t), s, mine, false);
          // Handlers of a free play run per host once its own list is done.
          for (const [hi, h] of play.handlers.entries()) {
            if ((mine.get(h.name) ?? mine.get(h.id))?.has(s.name)) await step(play, h, hi, s, mine, true);
          }
          if (!s.dead) emit({ event: 'host_done', play: play.name, play_index: playIndex, host: s.name, reason: 'complete' });
        })));
      } else {
        for (const t of tasks) {
          if (stopped()) break;
          await Promise.all(hosts.map((s) => limit(() => step(play, t, at(t), s, notified, false))));
        }
        if (!stopped()) await runHandlers(play, hosts, notified);
        for (const s of hosts) if (!s.dead) emit({ event: 'host_done', play: play.name, play_index: playIndex, host: s.name, reason: 'complete' });
      }
      emit({ event: 'play_end', play: play.name, play_index: playIndex });
    }
  } finally {
    await transports.closeAll().catch(() => undefined);
  }
  const recap: RecapEvent = { event: 'recap', hosts: Object.fromEntries([...states].map(([h, s]) => [h, s.counts])) };
  emit(recap);
  return { recap, interrupted: stopped() };
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

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** Exit code from a recap: failed (2) beats unreachable (4). */
export function exitCodeFor(recap: RecapEvent): number {
  const all = Object.values(recap.hosts);
  if (all.some((c) => c.failed > 0)) return 2;
  if (all.some((c) => c.unreachable > 0)) return 4;
  return 0;
}
