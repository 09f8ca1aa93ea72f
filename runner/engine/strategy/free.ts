// Free: each host runs its own list as fast as it can (one --forks slot per host), then the
// handlers it notified.
import type { Notified, Strategy } from './index.js';
import { step } from './step.js';

export const free: Strategy = async (b) => {
  const { env, play, hosts, forks } = b;
  await Promise.all(hosts.map((s) => forks(async () => {
    const mine: Notified = new Map();
    for (const t of b.tasks) await step(env, play, t, b.at(t), s, mine, false);
    for (const [hi, h] of play.handlers.entries()) {
      if ((mine.get(h.name) ?? mine.get(h.id))?.has(s.name)) await step(env, play, h, hi, s, mine, true);
    }
    if (!s.dead) env.emit({ event: 'host_done', play: play.name, play_index: b.playIndex, host: s.name, reason: 'complete' });
  })));
};
