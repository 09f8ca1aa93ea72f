// Runs a validated playbook: plays in order, hosts in parallel (p-limit --forks), per task a
// read-only probe then (unless check mode or nothing differs) apply. Output is events only;
// renderers decide what the user sees. The executor never prints.
import pLimit from 'p-limit';
import type { Inventory, Playbook, RecapEvent, RunEvent, RunOptions, TaskItem } from '../types.js';
import { UnreachableError } from '../transport/transport.js';
import { createTransportFactory, type TransportFactory } from '../transport/index.js';
import { LocalTransport } from '../transport/local.js';
import { Plan } from '../plan/index.js';
import { globToRegExp } from '../glob.js';
import { zeroCounts, type HostState, type RunEnv, type TaskLookup } from './host-task.js';
import type { Strategy } from './strategy/index.js';
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
}

export interface ExecuteOutput {
  recap: RecapEvent;
  interrupted: boolean;
}

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
    if (!s) { s = { name: h, facts: {}, factCache: new Map(), registered: {}, counts: zeroCounts() }; states.set(h, s); }
    return s;
  };
  const stopped = (): boolean => input.signal?.aborted === true;
  const env: RunEnv = {
    inventory: inv, playbook: pb, plan, registry: input.registry, options: opt, emit, signal: input.signal,
    controller: new LocalTransport('controller'), state, stopped,
    hostTransport: (s) => {
      s.transport ??= (async () => {
        const host = inv.hosts.get(s.name);
        if (!host) throw new UnreachableError(s.name, 'other', `unknown host ${s.name}`);
        const t = await transports.get(host.conn);
        await t.connect();
        return t;
      })();
      return s.transport;
    },
  };
  const forks = pLimit(Math.max(1, opt.forks));

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
      await STRATEGIES[play.strategy]({ env, play, playIndex, hosts, tasks, at, forks });
      emit({ event: 'play_end', play: play.name, play_index: playIndex });
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
