// `run_once`, as Ansible's linear strategy has it (plugins/strategy/linear.py, __init__.py
// `get_task_hosts`): the item runs on the batch's first live host only, one result is shown, and
// its registered value and facts become every live host's of the batch. Only the host that ran
// is counted in the recap and notifies handlers. A failure is fatal to the batch (see rules.ts).
import type { TaskEvent, TaskItem } from '../../types.js';
import type { BatchRun, Notified } from './index.js';
import type { HostState } from '../host-task.js';
import { step } from './step.js';

export async function runOnce(b: BatchRun, item: TaskItem, index: number, hosts: HostState[], notified: Notified, handler: boolean): Promise<TaskEvent[]> {
  const live = hosts.filter((s) => !s.dead);
  const first = live[0];
  if (!first) return [];
  // throttle means nothing for a single host (Ansible ignores it with run_once).
  const out = await b.forks(() => step(b, item, index, first, notified, handler, true));
  if (!out) return [];
  for (const s of live.slice(1)) {
    if (item.register) s.registered[item.register] = first.registered[item.register];
    if (out.facts) Object.assign(s.facts, out.facts);
  }
  return [out.ev];
}
