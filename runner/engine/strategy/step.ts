// One item on one host as every strategy needs it: run it (unless the host is out), count it,
// mark the host out on failure, and remember which handlers it notified.
import type { TaskItem } from '../../types.js';
import { record, runHostTask, type HostState, type HostTaskOutcome } from '../host-task.js';
import type { BatchRun, Notified } from './index.js';

export async function step(b: BatchRun, item: TaskItem, index: number, s: HostState, notified: Notified, handler: boolean, runOnce = false): Promise<HostTaskOutcome | undefined> {
  const { env } = b;
  if (s.dead || env.stopped()) return undefined;
  const out = await runHostTask(env, { play: b.play, item, index, handler, batch: b.batch }, s);
  const { ev } = out;
  if (runOnce) ev.run_once = true;
  record(s, ev, item.ignore_errors);
  if (ev.status === 'failed' && item.ignore_errors) ev.msg = `${ev.msg} (ignored)`;
  env.emit(ev);
  if (ev.status === 'unreachable') s.dead = 'unreachable';
  else if (ev.status === 'failed' && !item.ignore_errors) s.dead = 'failed';
  if (ev.changed && !s.dead) {
    for (const h of item.notify) {
      let set = notified.get(h);
      if (!set) { set = new Set(); notified.set(h, set); }
      set.add(s.name);
    }
  }
  if (s.dead) env.emit({ event: 'host_done', play: b.play.name, play_index: b.playIndex, host: s.name, reason: s.dead });
  return out;
}

/** `throttle:` first, then a --forks slot: a host waiting for its turn holds no fork. */
export function scheduled<T>(b: BatchRun, item: TaskItem, fn: () => Promise<T>, forks = true): Promise<T> {
  const inner = forks ? () => b.forks(fn) : fn;
  const t = b.throttle(item);
  return t ? t(inner) : inner();
}
