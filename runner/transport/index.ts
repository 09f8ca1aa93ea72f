// Picks the transport for a host. SSH (./ssh.js, with ssh2) is loaded on demand so local runs
// never pay for it.
import type { ConnectionSpec } from '../types.js';
import type { Transport } from './transport.js';
import type { SshPool, SshPoolOptions } from './ssh.js';
import { LocalTransport } from './local.js';

export interface TransportFactory {
  get(conn: ConnectionSpec): Promise<Transport>;
  closeAll(): Promise<void>;
}

/** One factory per run: SSH connections are pooled (one per host, reused across plays). */
export function createTransportFactory(opts: Pick<SshPoolOptions, 'acceptNewHostKeys' | 'onLog' | 'passphrase'>): TransportFactory {
  let pool: Promise<SshPool> | undefined;
  const locals: Transport[] = [];
  return {
    async get(conn) {
      if (conn.connection === 'local') {
        const t = new LocalTransport(conn.name, conn.become);
        locals.push(t);
        return t;
      }
      pool ??= import('./ssh.js').then((m) => new m.SshPool({ acceptNewHostKeys: opts.acceptNewHostKeys, onLog: opts.onLog, passphrase: opts.passphrase }));
      return (await pool).transport(conn);
    },
    async closeAll() {
      await Promise.all(locals.map((t) => t.close()));
      if (pool) await (await pool).closeAll();
    },
  };
}
