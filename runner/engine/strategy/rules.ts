// When one host's failure stops the others (plugins/strategy/linear.py, after each task, and
// executor/playbook_executor.py, after each batch):
// - any_errors_fatal (play or item; implied by run_once without ignore_errors): a failed or
//   unreachable host ends the batch for every host;
// - max_fail_percentage: more than that share of the batch's hosts failed during the batch (an
//   unreachable host does not count, as in Ansible);
// - a batch whose every host failed during it.
// Each stops the batch and the run: no later batch or play starts. Hosts stopped this way are out
// of the run but not counted as failed in the recap, as in Ansible's.
import type { TaskEvent, TaskItem } from '../../types.js';
import type { BatchRun, StopReason } from './index.js';

/** After `item` ran on the batch (linear): true when the batch stops. */
export function judgeItem(b: BatchRun, item: TaskItem, events: TaskEvent[]): boolean {
  if (b.stopped) return true;
  const bad = events.filter((e) => e.status === 'unreachable' || (e.status === 'failed' && !item.ignore_errors));
  const fatal = (item.any_errors_fatal ?? b.play.any_errors_fatal ?? false) || (item.run_once === true && !item.ignore_errors);
  if (fatal && bad.length) {
    const who = bad.map((e) => e.host).join(', ');
    const why = item.run_once && item.any_errors_fatal === undefined && !b.play.any_errors_fatal ? 'a run_once item failed' : 'any_errors_fatal';
    stopBatch(b, 'any_errors_fatal', `${who} failed "${item.name}" (${why}): the play stops on every host`);
    return true;
  }
  const pct = b.play.max_fail_percentage;
  if (pct !== undefined && events.length) {
    const failed = b.hosts.filter((s) => s.dead === 'failed' && !b.deadBefore.has(s.name)).length;
    if (failed / b.hosts.length > pct / 100) {
      stopBatch(b, 'max_fail_percentage', `${failed} of ${b.hosts.length} hosts of the batch failed, more than max_fail_percentage ${pct}%: the play stops on every host`);
      return true;
    }
  }
  return false;
}

/** After the batch: every one of its hosts failed during it (Ansible's rule for every play). */
export function batchFailed(b: BatchRun): boolean {
  return b.hosts.length > 0 && b.hosts.every((s) => s.dead && !b.deadBefore.has(s.name));
}

export function stopBatch(b: BatchRun, reason: StopReason, msg: string): void {
  b.stopped = { reason, msg };
  b.env.emit({ event: 'play_stopped', play: b.play.name, play_index: b.playIndex, reason, msg });
  for (const s of b.hosts) {
    if (s.dead) continue;
    s.dead = 'failed';
    b.env.emit({ event: 'host_done', play: b.play.name, play_index: b.playIndex, host: s.name, reason: 'failed' });
  }
}
