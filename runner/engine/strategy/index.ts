// Strategies decide which host runs which item when, like Ansible's strategy plugins: `linear`
// runs each item on every host of the batch before the next item, `free` lets each host run
// its own list. Both run one batch of a play's hosts (`serial:`, cut by plan/batches.ts)
// through `BatchRun`; run_once, throttle and the failure rules are their own pieces beside them.
import type { LimitFunction } from 'p-limit';
import type { Play, ProgressEvent, TaskItem } from '../../types.js';
import type { HostState, RunEnv } from '../host-task.js';

/** Which handlers were notified for which hosts (by handler name or task id). */
export type Notified = Map<string, Set<string>>;

export type StopReason = Extract<ProgressEvent, { event: 'play_stopped' }>['reason'];

export interface BatchRun {
  env: RunEnv;
  play: Play;
  playIndex: number;
  /** The batch's hosts, in play order. */
  hosts: HostState[];
  /** Hosts already out (failed, unreachable) when the batch started. */
  deadBefore: Set<string>;
  /** The play's tasks to run (after --tags and --start-at-task). */
  tasks: TaskItem[];
  /** An item's position in `play.tasks`. */
  at(t: TaskItem): number;
  /** --forks, shared by every play and batch. */
  forks: LimitFunction;
  /** `throttle:` of an item: one limit per item for the whole run. */
  throttle(item: TaskItem): LimitFunction | undefined;
  /** The play's batch, when it has `serial:`. */
  batch?: { index: number; count: number };
  /** Set when a failure rule stopped the batch; the run stops after it. */
  stopped?: { reason: StopReason; msg: string };
}

export type Strategy = (b: BatchRun) => Promise<void>;
