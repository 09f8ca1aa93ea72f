// Strategies decide which host runs which item when, like Ansible's strategy plugins: `linear`
// runs each item on every host of the batch before the next item, `free` lets each host run
// its own list. Both run one batch of a play's hosts (see batches.ts) through `BatchRun`.
import type { LimitFunction } from 'p-limit';
import type { Play, TaskItem } from '../../types.js';
import type { HostState, RunEnv } from '../host-task.js';

/** Which handlers were notified for which hosts (by handler name or task id). */
export type Notified = Map<string, Set<string>>;

export interface BatchRun {
  env: RunEnv;
  play: Play;
  playIndex: number;
  /** The batch's hosts, in play order. */
  hosts: HostState[];
  /** The play's tasks to run (after --tags and --start-at-task). */
  tasks: TaskItem[];
  /** An item's position in `play.tasks`. */
  at(t: TaskItem): number;
  /** --forks, shared by every play and batch. */
  forks: LimitFunction;
}

export type Strategy = (b: BatchRun) => Promise<void>;
