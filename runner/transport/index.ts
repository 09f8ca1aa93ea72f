// Picks the transport for a host. SSH lives in ./ssh.js (another module, loaded on demand so
// local runs never pay for it and the engine works before/without it).
import type { ConnectionSpec } from '../types.js';
import type { Transport } from './transport.js';
import { LocalTransport } from './local.js';
import { UnreachableError } from './transport.js';

interface SshPoolLike {
  transport(conn: ConnectionSpec): Transport;
  closeAll(): Promise<void>;
}
interface SshModule {
  SshPool: new (opts: { acceptNewHostKeys: boolean; onLog?: (host: string, line: string) => void }) => SshPoolLike;
}

export interface TransportFactory {
  get(conn: ConnectionSpec): Promise<Transport>;
  closeAll(): Promise<void>;
}

/** One factory per run: SSH connections are pooled (one per host, reused across plays). */
export function createTransportFactory(opts: { acceptNewHostKeys: boolean; onLog?: (host: string, line: string) => void }): TransportFactory {
  let pool: Promise<SshPoolLike> | undefined;
  const locals: Transport[] = [];
  return {
    async get(conn) {
      if (conn.connection === 'local') {
        const t = new LocalTransport(conn.name, conn.become);
        locals.push(t);
        return t;
      }
      pool ??= import('./ssh.js' as string).then(
        (m: SshModule) => new m.SshPool({ acceptNewHostKeys: opts.acceptNewHostKeys, onLog: opts.onLog }),
        () => { throw new UnreachableError(conn.name, 'other', 'SSH transport not available in this build'); },
      );
      return (await pool).transport(conn);
    },
    async closeAll() {
      await Promise.all(locals.map((t) => t.close()));
      if (pool) await (await pool.catch(() => undefined))?.closeAll();
    },
  };
}

/** Single transport for one host (e.g. `ping`, tests). */
export async function createTransport(conn: ConnectionSpec, opts: { acceptNewHostKeys: boolean }): Promise<Transport> {
  return createTransportFactory(opts).get(conn);
}
