// SSH connections for a run: one per hop chain (jump connections shared by every host behind
// them), reference-counted, with host keys checked and the failure reasons a user can act on.
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import type { ConnectionSpec } from '../../types.js';
import { UnreachableError, type Transport, type UnreachableReason } from '../transport.js';
import { loadKnownHosts } from '../known-hosts.js';
import { authHandler, envPassphrase, keyAuth, moreKeys, oncePerKey, type PassphraseSource } from './auth.js';
import { hostKeyAlgorithms, hostVerifier } from './host-keys.js';
import { SshTransport } from './transport.js';

// ssh2 is CommonJS: its named exports are only reachable through the default import under ESM.
const { Client } = ssh2;
export type Client = InstanceType<typeof Client>;

export interface SshPoolOptions {
  acceptNewHostKeys: boolean;
  onLog?: (host: string, line: string) => void;
  /** Where `.ssh/config` lives (tests); the user's home otherwise. */
  home?: string;
  /** An encrypted key's passphrase (asked once per key for the pool); the CLI asks on the
   * terminal. Without it: RANCHER_PLAY_SSH_PASSPHRASE. */
  passphrase?: PassphraseSource;
}

export function hopId(c: ConnectionSpec): string {
  return `${c.user}@${c.address}:${c.port}`;
}

function where(c: ConnectionSpec): string {
  return `${c.address}:${c.port}`;
}

function socketReason(e: NodeJS.ErrnoException): UnreachableReason {
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return 'dns';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ECONNRESET':
      return 'network';
    default:
      return 'other';
  }
}

function tcpConnect(c: ConnectionSpec): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host: c.address, port: c.port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new UnreachableError(c.name, 'timeout', `connect to ${where(c)} timed out after ${c.connect_timeout_ms} ms`));
    }, c.connect_timeout_ms);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.setNoDelay(true); // small request/response packets: do not wait for Nagle
      sock.setKeepAlive(true, 15_000);
      resolve(sock);
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = socketReason(e);
      const what = reason === 'refused' ? 'connection refused' : reason === 'dns' ? 'name does not resolve' : e.message;
      reject(new UnreachableError(c.name, reason, `connect to ${where(c)}: ${what}`));
    });
  });
}

function forwardOut(via: Client, viaSpec: ConnectionSpec, c: ConnectionSpec): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new UnreachableError(c.name, 'timeout', `connect to ${where(c)} via ${viaSpec.name} timed out after ${c.connect_timeout_ms} ms`));
    }, c.connect_timeout_ms);
    via.forwardOut('127.0.0.1', 0, c.address, c.port, (e, ch) => {
      clearTimeout(timer);
      if (timedOut) return ch?.close(); // too late: nobody waits for this tunnel any more
      if (e) {
        const msg = e.message.replace(/^\(SSH\) Channel open failure: /, '');
        const reason: UnreachableReason = /refused/i.test(msg)
          ? 'refused'
          : /timed out/i.test(msg)
            ? 'timeout'
            : /resolve|not known|name or service/i.test(msg)
              ? 'dns'
              : /unreachable|no route/i.test(msg)
                ? 'network'
                : 'other';
        return reject(new UnreachableError(c.name, reason, `connect to ${where(c)} via ${viaSpec.name}: ${msg || 'channel open failed'}`));
      }
      resolve(ch);
    });
  });
}

export interface PooledClient {
  client: Client;
  spec: ConnectionSpec;
  refs: number;
  /** Set when the connection dropped after it was up. */
  lost?: string;
}

export class SshPool {
  private readonly clients = new Map<string, Promise<PooledClient>>();
  private readonly passphrase: PassphraseSource;

  constructor(private readonly opts: SshPoolOptions) {
    this.passphrase = oncePerKey(opts.passphrase ?? envPassphrase);
  }

  /** @internal where ~/.ssh/config is read from. */
  get home(): string | undefined {
    return this.opts.home;
  }

  transport(conn: ConnectionSpec): Transport {
    return new SshTransport(this, conn);
  }

  /** @internal the connection (path of hop ids) for a resolved chain, connecting as needed. */
  async acquire(hops: ConnectionSpec[], target: string): Promise<{ client: Client; keys: string[]; chain: PooledClient[] }> {
    const keys: string[] = [];
    const chain: PooledClient[] = [];
    let client: Client | undefined;
    for (let i = 0; i < hops.length; i++) {
      const key = hops.slice(0, i + 1).map(hopId).join(' > ');
      let p = this.clients.get(key);
      if (!p) {
        p = this.open(hops[i]!, i > 0 ? { client: client!, spec: hops[i - 1]! } : undefined);
        this.clients.set(key, p);
        // A failed connection is not kept: a later run step may retry it.
        p.catch(() => this.clients.delete(key));
      }
      let pooled: PooledClient;
      try {
        pooled = await p;
        if (pooled.lost && this.clients.get(key) === p) {
          // Dropped since: connect afresh for this and later hosts.
          this.clients.delete(key);
          i--;
          continue;
        }
      } catch (e) {
        if (e instanceof UnreachableError) {
          const isJump = i < hops.length - 1;
          throw new UnreachableError(target, e.reason, isJump ? `jump host ${hops[i]!.name}: ${e.message}` : e.message);
        }
        throw e;
      }
      pooled.refs++;
      keys.push(key);
      chain.push(pooled);
      client = pooled.client;
    }
    return { client: client!, keys, chain };
  }

  /** @internal drop references; a connection with none left (no host and no host behind it) ends. */
  async release(keys: string[]): Promise<void> {
    for (const key of [...keys].reverse()) {
      const p = this.clients.get(key);
      if (!p) continue;
      const pooled = await p.catch(() => undefined);
      if (!pooled) continue;
      if (--pooled.refs <= 0) {
        this.clients.delete(key);
        pooled.client.end();
      }
    }
  }

  private log(host: string, line: string): void {
    this.opts.onLog?.(host, line);
  }

  private async open(c: ConnectionSpec, via?: { client: Client; spec: ConnectionSpec }): Promise<PooledClient> {
    this.log(c.name, via ? `connecting to ${hopId(c)} via ${via.spec.name}` : `connecting to ${hopId(c)}`);
    // Key and known_hosts first: a failure there must not leave a socket open behind it.
    const entries = await loadKnownHosts(c.known_hosts);
    const auth = await keyAuth(c, this.passphrase);
    const more = await moreKeys(c, (line) => this.log(c.name, line));
    const sock: Duplex = via ? await forwardOut(via.client, via.spec, c) : await tcpConnect(c);
    let failure: UnreachableError | undefined;
    const client = new Client();
    const cfg: ConnectConfig = {
      sock: sock as ConnectConfig['sock'],
      username: c.user,
      readyTimeout: c.connect_timeout_ms,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      algorithms: { serverHostKey: hostKeyAlgorithms(entries, c) as never },
      ...auth,
      // Further IdentityFiles of ~/.ssh/config are offered in order, as ssh does, before the agent.
      ...authHandler(c, auth, more),
      hostVerifier: hostVerifier(c, entries, {
        acceptNewHostKeys: this.opts.acceptNewHostKeys,
        log: (line) => this.log(c.name, line),
        refuse: (e) => { failure = e; },
      }),
    };

    return new Promise<PooledClient>((resolve, reject) => {
      let ready = false;
      const pooled: PooledClient = { client, spec: c, refs: 0 };
      let lastError = '';
      client.once('ready', () => {
        ready = true;
        this.log(c.name, `connected to ${hopId(c)}`);
        resolve(pooled);
      });
      client.on('error', (e: Error & { level?: string; code?: string }) => {
        if (ready) {
          lastError = e.message;
          this.log(c.name, `connection error: ${e.message}`);
          return;
        }
        client.end();
        sock.destroy();
        if (failure) return reject(failure);
        if (e.level === 'client-authentication') {
          const keys = [...(auth.privateKey ? [c.ssh_key_path] : []), ...more.map((m) => m.path)];
          const how = [keys.length ? `key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}` : '', auth.agent ? 'ssh-agent' : ''].filter(Boolean).join(' and ');
          return reject(new UnreachableError(c.name, 'auth', `authentication failed for ${hopId(c)} (tried ${how || 'no key and no agent'})`));
        }
        if (e.level === 'client-timeout') {
          return reject(new UnreachableError(c.name, 'timeout', `SSH handshake with ${where(c)} timed out after ${c.connect_timeout_ms} ms`));
        }
        const reason = e.code ? socketReason(e as NodeJS.ErrnoException) : 'other';
        reject(new UnreachableError(c.name, reason, `SSH to ${where(c)}: ${e.message}`));
      });
      client.on('close', () => {
        // Hosts on a dropped connection (or behind a dropped jump host) become unreachable.
        if (ready) pooled.lost = `connection to ${hopId(c)} lost${lastError ? `: ${lastError}` : ''}`;
        if (!ready) reject(failure ?? new UnreachableError(c.name, 'network', `connection to ${where(c)} closed during the handshake`));
      });
      client.connect(cfg);
    });
  }

  async closeAll(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    for (const p of all.reverse()) {
      const pooled = await p.catch(() => undefined);
      pooled?.client.end();
    }
  }
}
