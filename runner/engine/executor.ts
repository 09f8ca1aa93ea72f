// Runs a validated playbook: plays in order, hosts in parallel (p-limit --forks), per task a
// read-only probe then (unless check mode or nothing differs) apply. Output is events only;
// renderers decide what the user sees. The executor never prints.
import pLimit, { type LimitFunction } from 'p-limit';
import type { Inventory, Playbook, RecapEvent, RunEvent, RunOptions, TaskItem } from '../types.js';
import { UnreachableError } from '../transport/transport.js';
import { createTransportFactory, type TransportFactory } from '../transport/index.js';
import { LocalTransport } from '../transport/local.js';
import { Plan } from '../plan/index.js';
import { inventoryRouter } from './kube-api.js';
import { globToRegExp } from '../glob.js';
import type { Transport } from '../transport/transport.js';
import type { FactCache } from './context.js';
import { zeroCounts, type HostState, type RunEnv, type TaskLookup } from './host-task.js';
import type { BatchRun, Strategy } from './strategy/index.js';
import { batchFailed, stopBatch } from './strategy/rules.js';
import { linear } from './strategy/linear.js';
import { free } from './strategy/free.js';

export { applyConditions, type TaskLookup } from './host-task.js';

const STRATEGIES: Record<'linear' | 'free', Strategy> = { linear, free };

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
  /** Values of secret params known only once rendered at run time (from a registered result or a
   * fact): the caller's masking learns them before the task can print anything. */
  addSecrets?(values: string[]): void;
}

export interface ExecuteOutput {
  recap: RecapEvent;
  interrupted: boolean;
}

/** Tag filter like Ansible: `always` runs unless explicitly skipped; untagged tasks run only without --tags. */
/**
 * Taggable.evaluate_tags: `always` runs unless skipped by name (or by `all` with `always`),
 * `never` only when asked for by one of its other tags; `all` (the default), `tagged` and
 * `untagged` are the special selectors; an untagged task carries the tag `untagged`.
 */
export function taskSelected(taskTags: string[], only?: string[], skip?: string[]): boolean {
  const tags = new Set(taskTags.length ? taskTags : ['untagged']);
  const tagged = taskTags.length > 0;
  const onlyTags = only?.length ? only : ['all'];
  const hits = (list: string[]): boolean => list.some((t) => tags.has(t));
  let run: boolean;
  if (tags.has('always')) run = true;
  else if (onlyTags.includes('all') && !tags.has('never')) run = true;
  else if (hits(onlyTags)) run = true;
  else run = onlyTags.includes('tagged') && tagged && !tags.has('never');
  if (run && skip?.length) {
    if (skip.includes('all')) run = tags.has('always') && !skip.includes('always');
    else if (hits(skip)) run = false;
    else if (skip.includes('tagged') && tagged) run = false;
  }
  return run;
}

/**
 * The tasks each play runs, in order: the tag filter first, then `--start-at-task` (like
 * Ansible's play iterator: every selected task before the first selected one whose name
 * matches is skipped, across plays; when the tag filter dropped the named task, nothing after
 * it runs either). Handlers are not affected.
 */
export function tasksToRun(pb: Playbook, opt: Pick<RunOptions, 'tags' | 'skipTags' | 'startAtTask'>): TaskItem[][] {
  let started = opt.startAtTask === undefined;
  const re = opt.startAtTask !== undefined ? globToRegExp(opt.startAtTask) : undefined;
  return pb.plays.map((play) => {
    let tasks = play.tasks.filter((t) => taskSelected(t.tags, opt.tags, opt.skipTags));
    if (!started) {
      const i = tasks.findIndex((t) => t.name === opt.startAtTask || re!.test(t.name));
      if (i < 0) return [];
      started = true;
      tasks = tasks.slice(i);
    }
    return tasks;
  });
}

export async function execute(input: ExecuteInput): Promise<ExecuteOutput> {
  const { inventory: inv, playbook: pb, options: opt, emit } = input;
  const plan = input.plan ?? new Plan(pb, inv, { extraVars: opt.extraVars, limit: opt.limit });
  const transports = input.transports ?? createTransportFactory({
    acceptNewHostKeys: opt.acceptNewHostKeys,
    passphrase: opt.passphrase,
    onLog: opt.verbose ? (host, line) => emit({ event: 'log', play: '', task: 'ssh', host, line }) : undefined,
  });
  const stopped = (): boolean => input.signal?.aborted === true;
  const connections = new Map<string, Promise<Transport>>();
  const factCaches = new Map<string, FactCache>();
  const factCache = (h: string): FactCache => {
    let c = factCaches.get(h);
    if (!c) { c = new Map(); factCaches.set(h, c); }
    return c;
  };
  const states = new Map<string, HostState>();
  const state = (h: string): HostState => {
    let s = states.get(h);
    if (!s) { s = { name: h, facts: {}, factCache: factCache(h), registered: {}, counts: zeroCounts() }; states.set(h, s); }
    return s;
  };
  const hostTransport = (name: string): Promise<Transport> => {
    let t = connections.get(name);
    if (!t) {
      t = (async () => {
        const host = inv.hosts.get(name);
        if (!host) throw new UnreachableError(name, 'other', `unknown host ${name}`);
        const tr = await transports.get(host.conn);
        await tr.connect();
        return tr;
      })();
      connections.set(name, t);
    }
    return t;
  };
  const env: RunEnv = {
    inventory: inv, playbook: pb, plan, registry: input.registry, options: opt, emit, signal: input.signal,
    addSecrets: input.addSecrets,
    controller: new LocalTransport('controller'), state, stopped, factCache, hostTransport,
    // helm/kubectl on the controller reach a node's API server over that node's connection (one
    // per host and run, whether or not the host runs tasks; only targets get a recap row).
    apiRouter: inventoryRouter(inv, hostTransport),
  };
  const forks = pLimit(Math.max(1, opt.forks));
  const throttles = new Map<TaskItem, LimitFunction>();
  const throttle = (item: TaskItem): LimitFunction | undefined => {
    if (!item.throttle || item.run_once) return undefined;
    let l = throttles.get(item);
    if (!l) { l = pLimit(item.throttle); throttles.set(item, l); }
    return l;
  };

  const selected = tasksToRun(pb, opt);
  try {
    plays: for (const [playIndex, play] of pb.plays.entries()) {
      const { batches } = plan.plays[playIndex]!;
      const tasks = selected[playIndex]!;
      const at = (t: TaskItem): number => play.tasks.indexOf(t);
      // A play without hosts still shows its header (as one empty batch).
      const cut = batches.length ? batches : [[]];
      for (const [bi, names] of cut.entries()) {
        if (stopped()) break plays;
        const hosts = names.map(state);
        const batch = play.serial ? { index: bi, count: cut.length } : undefined;
        const b: BatchRun = {
          env, play, playIndex, hosts, tasks, at, forks, throttle, batch,
          deadBefore: new Set(hosts.filter((s) => s.dead).map((s) => s.name)),
        };
        emit({
          event: 'play_start', play: play.name, play_index: playIndex, hosts: names, strategy: play.strategy,
          tasks: tasks.map((t) => t.name), task_indexes: tasks.map(at),
          ...(batch ? { batch_index: batch.index, batch_count: batch.count } : {}),
        });
        await STRATEGIES[play.strategy](b);
        const last = playIndex === pb.plays.length - 1 && bi === cut.length - 1;
        if (!b.stopped && !stopped() && batchFailed(b) && !last) {
          stopBatch(b, 'all_failed', `every host of the ${batch ? 'batch' : 'play'} failed: the run stops`);
        }
        emit({ event: 'play_end', play: play.name, play_index: playIndex });
        if (b.stopped) break plays;
      }
    }
  } finally {
    await transports.closeAll().catch(() => undefined);
  }
  const recap: RecapEvent = { event: 'recap', hosts: Object.fromEntries([...states].map(([h, s]) => [h, s.counts])) };
  emit(recap);
  return { recap, interrupted: stopped() };
}

/** Exit code from a recap: failed (2) beats unreachable (4). */
export function exitCodeFor(recap: RecapEvent): number {
  const all = Object.values(recap.hosts);
  if (all.some((c) => c.failed > 0)) return 2;
  if (all.some((c) => c.unreachable > 0)) return 4;
  return 0;
}
