// Free: each host runs its own list as fast as it can (one --forks slot per host; `throttle:`
// still limits how many run one item at once), then the handlers it notified. run_once,
// any_errors_fatal and max_fail_percentage need linear (refused when the playbook loads).
import type { Notified, Strategy } from './index.js';
import { scheduled, step } from './step.js';

export const free: Strategy = async (b) => {
  const { env, play, hosts, forks } = b;
  await Promise.all(hosts.map((s) => forks(async () => {
    const mine: Notified = new Map();
    for (const t of b.tasks) await scheduled(b, t, () => step(b, t, b.at(t), s, mine, false), false);
    for (const [hi, h] of play.handlers.entries()) {
      if ((mine.get(h.name) ?? mine.get(h.id))?.has(s.name)) await scheduled(b, h, () => step(b, h, hi, s, mine, true), false);
    }
    if (!s.dead) env.emit({ event: 'host_done', play: play.name, play_index: b.playIndex, host: s.name, reason: 'complete' });
  })));
};
