// Linear: each item runs on every live host of the batch (up to --forks, and `throttle:`, at
// once) before the next starts; the notified handlers run at the end, each on the hosts that
// notified it. After every item and handler the failure rules may stop the batch.
import type { TaskEvent, TaskItem } from '../../types.js';
import type { HostState } from '../host-task.js';
import type { BatchRun, Notified, Strategy } from './index.js';
import { runOnce } from './run-once.js';
import { judgeItem } from './rules.js';
import { scheduled, step } from './step.js';

async function onHosts(b: BatchRun, item: TaskItem, index: number, hosts: HostState[], notified: Notified, handler: boolean): Promise<TaskEvent[]> {
  if (item.run_once) return runOnce(b, item, index, hosts, notified, handler);
  const outs = await Promise.all(hosts.map((s) => scheduled(b, item, () => step(b, item, index, s, notified, handler))));
  return outs.flatMap((o) => (o ? [o.ev] : []));
}

export const linear: Strategy = async (b) => {
  const { env, play, hosts } = b;
  const notified: Notified = new Map();
  let stop = false;
  for (const t of b.tasks) {
    if (env.stopped()) break;
    if ((stop = judgeItem(b, t, await onHosts(b, t, b.at(t), hosts, notified, false)))) break;
  }
  if (!stop && !env.stopped()) {
    for (const [hi, h] of play.handlers.entries()) {
      const who = notified.get(h.name) ?? notified.get(h.id);
      if (!who) continue;
      if (judgeItem(b, h, await onHosts(b, h, hi, hosts.filter((s) => who.has(s.name)), notified, true))) break;
    }
  }
  for (const s of hosts) if (!s.dead) env.emit({ event: 'host_done', play: play.name, play_index: b.playIndex, host: s.name, reason: 'complete' });
};
