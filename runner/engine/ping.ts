// `rancher-play ping`: connect to every selected host (through its jump hosts), concurrently up
// to --forks, run `echo pong`, and print one line per host in inventory order.
import pLimit from 'p-limit';
import type { Inventory } from '../types.js';
import { EXIT } from '../errors.js';
import { applyLimit, selectHosts } from '../model/inventory.js';
import { createTransportFactory } from '../transport/index.js';
import { UnreachableError } from '../transport/transport.js';

export interface PingResult {
  host: string;
  status: 'ok' | 'unreachable';
  /** Connect + round trip, in milliseconds (ok only). */
  ms?: number;
  reason?: string;
  msg?: string;
}

export interface PingOptions {
  limit?: string[];
  acceptNewHostKeys: boolean;
  json: boolean;
  forks?: number;
  /** Where lines go (tests); process.stdout otherwise. */
  out?: (line: string) => void;
  /** An encrypted SSH key's passphrase (the CLI asks on the terminal). */
  passphrase?: (keyPath: string) => Promise<string | undefined>;
}

function format(r: PingResult, json: boolean, width: number): string {
  if (json) return JSON.stringify(r);
  const name = r.host.padEnd(width);
  return r.status === 'ok' ? `${name}  ok  ${r.ms} ms` : `${name}  unreachable (${r.reason}): ${r.msg}`;
}

export async function ping(inv: Inventory, opts: PingOptions): Promise<number> {
  // Selection first, as `ansible all -l PATTERN` makes it: a limit leaving no host is an input
  // error (exit 5) before anything connects; a name that matches nothing is a warning.
  const names = applyLimit(inv, selectHosts(inv, ['all']), opts.limit, (w) => void process.stderr.write(`[WARNING]: ${w}\n`));
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const factory = createTransportFactory({ acceptNewHostKeys: opts.acceptNewHostKeys, passphrase: opts.passphrase });
  const limit = pLimit(Math.max(1, opts.forks ?? 10));
  const width = Math.max(0, ...names.map((n) => n.length));
  const results: (PingResult | undefined)[] = names.map(() => undefined);
  let printed = 0;
  // Lines come out in inventory order, each as soon as every host before it is done.
  const flush = () => {
    while (printed < names.length && results[printed]) out(format(results[printed++]!, opts.json, width));
  };

  const one = async (name: string): Promise<PingResult> => {
    const host = inv.hosts.get(name)!;
    const start = performance.now();
    try {
      const t = await factory.get(host.conn);
      await t.connect();
      const r = await t.exec('echo pong', { become: false });
      if (r.code !== 0 || r.stdout.trim() !== 'pong') {
        return { host: name, status: 'unreachable', reason: 'other', msg: `echo pong exited ${r.code}: ${r.stderr.trim()}` };
      }
      return { host: name, status: 'ok', ms: Math.round(performance.now() - start) };
    } catch (e) {
      if (e instanceof UnreachableError) return { host: name, status: 'unreachable', reason: e.reason, msg: e.message };
      return { host: name, status: 'unreachable', reason: 'other', msg: e instanceof Error ? e.message : String(e) };
    }
  };

  try {
    await Promise.all(
      names.map((n, i) =>
        limit(async () => {
          results[i] = await one(n);
          flush();
        }),
      ),
    );
  } finally {
    await factory.closeAll();
  }
  return results.every((r) => r?.status === 'ok') ? EXIT.ok : EXIT.unreachable;
}
