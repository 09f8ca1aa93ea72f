// One item on one host as every strategy needs it: run it (unless the host is out), count it,
// mark the host out on failure, and remember which handlers it notified.
import type { Play, TaskItem } from '../../types.js';
import { record, runHostTask, type HostState, type RunEnv } from '../host-task.js';
import type { Notified } from './index.js';

export async function step(env: RunEnv, play: Play, item: TaskItem, index: number, s: HostState, notified: Notified, handler: boolean): Promise<void> {
  if (s.dead || env.stopped()) return;
  const ev = await runHostTask(env, play, item, index, s, handler);
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
  if (s.dead) env.emit({ event: 'host_done', play: play.name, play_index: env.playbook.plays.indexOf(play), host: s.name, reason: s.dead });
}
