// Linear: each item runs on every live host of the batch (up to --forks at once) before the
// next starts; the notified handlers run at the end, each on the hosts that notified it.
import type { Notified, Strategy } from './index.js';
import { step } from './step.js';

export const linear: Strategy = async (b) => {
  const { env, play, hosts, forks } = b;
  const notified: Notified = new Map();
  for (const t of b.tasks) {
    if (env.stopped()) break;
    await Promise.all(hosts.map((s) => forks(() => step(env, play, t, b.at(t), s, notified, false))));
  }
  if (!env.stopped()) {
    for (const [hi, h] of play.handlers.entries()) {
      const who = notified.get(h.name) ?? notified.get(h.id);
      if (!who) continue;
      await Promise.all(hosts.filter((s) => who.has(s.name)).map((s) => forks(() => step(env, play, h, hi, s, notified, true))));
    }
  }
  for (const s of hosts) if (!s.dead) env.emit({ event: 'host_done', play: play.name, play_index: b.playIndex, host: s.name, reason: 'complete' });
};
