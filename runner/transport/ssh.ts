// SSH transport on ssh2: one connection per host for the run (jump connections shared by every
// host behind them), host keys verified against known_hosts, and commands run through one
// long-lived remote `sh` per host (and one `sudo -n sh` for become) so a command costs a round
// trip instead of a session setup. Small files travel through the same shell (base64), so a file
// write is one round trip too; big controller files stream over SFTP on the same connection.
import { connect as netConnect, type Socket } from 'node:net';
import { readFile, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable, type Duplex } from 'node:stream';
import ssh2, { type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';

// ssh2 is CommonJS: its named exports are only reachable through the default import under ESM.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;
import type { ConnectionSpec } from '../types.js';
import type { ExecOptions, ExecResult, WriteOptions } from '../task.js';
import { UnreachableError, type Transport, type UnreachableReason, type UploadOptions, type UploadResult } from './transport.js';
import { shQuote } from '../quote.js';
import { addKnownHost, checkHostKey, fingerprint, keyTypeOf, knownKeyTypes, loadKnownHosts } from './known-hosts.js';
import { resolveConnection } from './ssh-config.js';

export interface SshPoolOptions {
  acceptNewHostKeys: boolean;
  onLog?: (host: string, line: string) => void;
  /** Where `.ssh/config` lives (tests); the user's home otherwise. */
  home?: string;
  /** `shell` (default): one long-lived remote shell per host. `channel`: one SSH channel per
   * command, as `ssh host cmd` does (kept for comparison and as a fallback). */
  execMode?: 'shell' | 'channel';
}

/** sudo refused to run without a password (become needs NOPASSWD). */
export class BecomeError extends Error {
  constructor(host: string, user: string, detail: string) {
    super(
      `become failed on ${host}: sudo requires a password for ${user} (${detail.trim()}); ` +
        `configure NOPASSWD sudo for ${user} or drop become`,
    );
    this.name = 'BecomeError';
  }
}

/** A remote path as a shell word; `~/x` expands to the remote $HOME. */
function pathWord(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shQuote(p.slice(2))}`;
  return shQuote(p);
}

const SUDO_PASSWORD = /sudo: (a password is required|a terminal is required|no tty present)/;

// ------------------------------------------------------------------ commands

interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number;
}

interface RunSpec {
  /** The shell command line (already wrapped with cd/env/timeout). */
  line: string;
  stdin?: Buffer;
  timeoutMs?: number;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** The script a command runs as: `sh -c` semantics, its own cwd/env, optional remote timeout. */
function commandLine(command: string, opts: ExecOptions, sudo: boolean): string {
  const parts: string[] = [];
  if (opts.cwd) parts.push(`cd ${pathWord(opts.cwd)} || exit 1`);
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name "${k}"`);
    // Assignments inside the script, not SSH env requests (sshd's AcceptEnv rejects those).
    parts.push(`export ${k}=${shQuote(v)}`);
  }
  parts.push(command);
  let line = `sh -c ${shQuote(parts.join('\n'))}`;
  if (sudo) line = `sudo -n ${line}`;
  if (opts.timeoutMs !== undefined) line = `timeout -k 5 ${(opts.timeoutMs / 1000).toFixed(3)} ${line}`;
  return line;
}

/** Splits a stream into lines as data arrives, holding back the incomplete last one. */
class LineSplitter {
  private rest = '';
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: string): void {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop()!;
    for (const p of parts) this.emit(p.replace(/\r$/, ''));
  }
  end(): void {
    if (this.rest) this.emit(this.rest);
    this.rest = '';
  }
}

/**
 * One long-lived `sh` on the remote side. Each command is written to its stdin followed by
 * markers (carrying `$?` on stdout) on both streams; output is read until both markers arrive.
 * Commands never read the shell's own stdin (`</dev/null` or a here-document of their input).
 */
class RemoteShell {
  private ch?: ClientChannel;
  private starting?: Promise<ClientChannel>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly nonce = randomBytes(8).toString('hex');
  private seq = 0;
  private out = Buffer.alloc(0);
  private err = Buffer.alloc(0);
  private onData?: () => void;
  private closedWith?: Error;

  constructor(
    private readonly client: Client,
    private readonly start: string,
  ) {}

  private open(): Promise<ClientChannel> {
    if (this.ch && !this.closedWith) return Promise.resolve(this.ch);
    if (this.starting) return this.starting;
    this.starting = new Promise<ClientChannel>((resolve, reject) => {
      this.client.exec(this.start, (e, ch) => {
        this.starting = undefined;
        if (e) return reject(e);
        this.ch = ch;
        this.closedWith = undefined;
        this.out = Buffer.alloc(0);
        this.err = Buffer.alloc(0);
        ch.on('data', (d: Buffer) => {
          this.out = Buffer.concat([this.out, d]);
          this.onData?.();
        });
        ch.stderr.on('data', (d: Buffer) => {
          this.err = Buffer.concat([this.err, d]);
          this.onData?.();
        });
        ch.on('close', () => {
          this.closedWith = new Error(`remote shell closed${this.err.length ? `: ${this.err.toString().trim()}` : ''}`);
          this.onData?.();
        });
        resolve(ch);
      });
    });
    return this.starting;
  }

  run(spec: RunSpec): Promise<RawResult> {
    const next = this.chain.catch(() => undefined).then(() => this.runNow(spec));
    this.chain = next;
    return next;
  }

  private async runNow(spec: RunSpec): Promise<RawResult> {
    const ch = await this.open();
    const id = `__RP_${this.nonce}_${++this.seq}`;
    const endOut = Buffer.from(`\n${id}_`);
    const endErr = Buffer.from(`\n${id}\n`);
    let script: string;
    if (spec.stdin !== undefined) {
      const eof = `__RP_IN_${this.nonce}`;
      const b64 = spec.stdin.toString('base64').replace(/.{1,76}/g, '$&\n');
      script = `base64 -d <<'${eof}' | ${spec.line}\n${b64}${eof}\n`;
    } else {
      script = `${spec.line} </dev/null\n`;
    }
    script += `printf '\\n%s_%d\\n' '${id}' "$?"; printf '\\n%s\\n' '${id}' >&2\n`;

    const outLines = spec.onLine ? new LineSplitter((l) => spec.onLine!(l, 'stdout')) : undefined;
    const errLines = spec.onLine ? new LineSplitter((l) => spec.onLine!(l, 'stderr')) : undefined;
    let outSeen = 0;
    let errSeen = 0;

    return new Promise<RawResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (r: RawResult | Error) => {
        if (timer) clearTimeout(timer);
        this.onData = undefined;
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      // Stream complete lines that certainly precede the marker (the marker needs its own
      // line, so everything up to the last newline minus a possible marker prefix is output).
      const stream = (buf: Buffer, seen: number, split: LineSplitter | undefined, marker: Buffer): number => {
        if (!split) return seen;
        const at = buf.indexOf(marker);
        // Without the marker yet, its beginning may still be the tail of the buffer.
        const safe = at >= 0 ? at : buf.length - marker.length - 24;
        if (safe <= seen) return seen;
        const lastNl = buf.lastIndexOf(0x0a, safe - 1);
        if (lastNl + 1 > seen) {
          split.push(buf.subarray(seen, lastNl + 1).toString());
          return lastNl + 1;
        }
        return seen;
      };
      const check = () => {
        const oi = this.out.indexOf(endOut);
        const ei = this.err.indexOf(endErr);
        let nl = -1;
        if (oi >= 0) nl = this.out.indexOf(0x0a, oi + endOut.length);
        if (oi >= 0 && nl >= 0 && ei >= 0) {
          const code = Number(this.out.subarray(oi + endOut.length, nl).toString());
          const stdout = this.out.subarray(0, oi);
          const stderr = this.err.subarray(0, ei);
          this.out = this.out.subarray(nl + 1);
          this.err = this.err.subarray(ei + endErr.length);
          if (outLines) {
            if (stdout.length > outSeen) outLines.push(stdout.subarray(outSeen).toString());
            outLines.end();
          }
          if (errLines) {
            if (stderr.length > errSeen) errLines.push(stderr.subarray(errSeen).toString());
            errLines.end();
          }
          finish({ stdout: Buffer.from(stdout), stderr: Buffer.from(stderr), code });
          return;
        }
        if (this.closedWith) return finish(Object.assign(this.closedWith, { stderr: this.err.toString() }));
        outSeen = stream(this.out, outSeen, outLines, endOut);
        errSeen = stream(this.err, errSeen, errLines, endErr);
      };
      this.onData = check;
      if (spec.timeoutMs !== undefined) {
        // Backstop when the remote `timeout` cannot end the command: drop the whole shell.
        timer = setTimeout(() => {
          this.kill();
          finish({ stdout: this.out, stderr: this.err, code: 124 });
        }, spec.timeoutMs + 10_000);
      }
      ch.write(script);
      check();
    });
  }

  kill(): void {
    const ch = this.ch;
    this.ch = undefined;
    this.onData = undefined;
    if (ch) {
      ch.removeAllListeners('close');
      ch.close();
    }
  }
}

/** One SSH channel per command (what `ssh host cmd` does). */
function runOnChannel(client: Client, spec: RunSpec): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    client.exec(spec.line, (e, ch) => {
      if (e) return reject(e);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const outLines = spec.onLine ? new LineSplitter((l) => spec.onLine!(l, 'stdout')) : undefined;
      const errLines = spec.onLine ? new LineSplitter((l) => spec.onLine!(l, 'stderr')) : undefined;
      let code = 255;
      let timer: NodeJS.Timeout | undefined;
      if (spec.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          code = 124;
          ch.signal('KILL');
          ch.close();
        }, spec.timeoutMs + 10_000);
      }
      ch.on('data', (d: Buffer) => {
        out.push(d);
        outLines?.push(d.toString());
      });
      ch.stderr.on('data', (d: Buffer) => {
        err.push(d);
        errLines?.push(d.toString());
      });
      ch.on('exit', (c: number | null, signal?: string) => {
        if (code !== 124) code = typeof c === 'number' ? c : signal ? 128 + 9 : 255;
      });
      ch.on('close', () => {
        if (timer) clearTimeout(timer);
        outLines?.end();
        errLines?.end();
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), code });
      });
      if (spec.stdin !== undefined) ch.end(spec.stdin);
      else ch.end();
    });
  });
}

// ------------------------------------------------------------------ connections

function hopId(c: ConnectionSpec): string {
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

// Ask each key's passphrase once per run; concurrent connections share the answer.
const passphrases = new Map<string, Promise<string | undefined>>();

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _enc, cb) {
        if (!muted) process.stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true; // everything after the question (the typed passphrase) stays off screen
  });
}

function passphraseFor(path: string): Promise<string | undefined> {
  let p = passphrases.get(path);
  if (!p) {
    const env = process.env.RANCHER_PLAY_SSH_PASSPHRASE;
    if (env !== undefined) p = Promise.resolve(env);
    else if (process.stdin.isTTY) p = promptHidden(`Passphrase for ${path}: `);
    else p = Promise.resolve(undefined);
    passphrases.set(path, p);
  }
  return p;
}

const RSA_ALGOS = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const DEFAULT_HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  ...RSA_ALGOS,
];

/** Host key algorithms with the ones known_hosts has for this host first, so a server with
 * several keys presents the one we can verify (OpenSSH does the same). */
function hostKeyAlgorithms(known: string[]): string[] {
  const first = known.flatMap((t) => (t === 'ssh-rsa' ? RSA_ALGOS : DEFAULT_HOST_KEY_ALGOS.includes(t) ? [t] : []));
  return [...new Set([...first, ...DEFAULT_HOST_KEY_ALGOS])];
}

interface PooledClient {
  client: Client;
  spec: ConnectionSpec;
  refs: number;
  /** Set when the connection dropped after it was up. */
  lost?: string;
}

export class SshPool {
  private readonly clients = new Map<string, Promise<PooledClient>>();

  constructor(private readonly opts: SshPoolOptions) {}

  /** @internal where ~/.ssh/config is read from. */
  get home(): string | undefined {
    return this.opts.home;
  }

  transport(conn: ConnectionSpec): Transport {
    return new SshTransport(this, conn, this.opts.execMode ?? 'shell');
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
    const auth = await this.authConfig(c);
    const more = await this.moreKeys(c);
    const sock: Duplex = via ? await forwardOut(via.client, via.spec, c) : await tcpConnect(c);
    let failure: UnreachableError | undefined;
    const client = new Client();
    const cfg: ConnectConfig = {
      sock: sock as ConnectConfig['sock'],
      username: c.user,
      readyTimeout: c.connect_timeout_ms,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      algorithms: { serverHostKey: hostKeyAlgorithms(knownKeyTypes(entries, c.address, c.port)) as never },
      ...auth,
      // Further IdentityFiles of ~/.ssh/config are offered in order, as ssh does, before the agent.
      ...(more.length ? {
        authHandler: [
          ...(auth.privateKey ? [{ type: 'publickey', username: c.user, key: auth.privateKey, ...(auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {}) }] : []),
          ...more.map((m) => ({ type: 'publickey', username: c.user, key: m.key })),
          ...(auth.agent ? [{ type: 'agent', username: c.user, agent: auth.agent }] : []),
        ] as ConnectConfig['authHandler'],
      } : {}),
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        const verdict = checkHostKey(entries, c.address, c.port, key);
        const id = `${c.name} (${where(c)})`;
        switch (verdict.status) {
          case 'known':
            return verify(true);
          case 'unknown':
            if (this.opts.acceptNewHostKeys) {
              addKnownHost(c.known_hosts, c.address, c.port, key).then(
                () => {
                  this.log(c.name, `recorded ${keyTypeOf(key)} host key ${fingerprint(key)} in ${c.known_hosts}`);
                  verify(true);
                },
                (e: Error) => {
                  failure = new UnreachableError(c.name, 'host-key', `cannot record host key for ${id} in ${c.known_hosts}: ${e.message}`);
                  verify(false);
                },
              );
              return;
            }
            failure = new UnreachableError(c.name, 'host-key', `host key for ${id} is not known; rerun with --accept-new-host-keys`);
            return verify(false);
          case 'changed':
            failure = new UnreachableError(
              c.name,
              'host-key',
              `host key for ${id} has changed: expected ${verdict.expected.join(' or ')} got ${verdict.got}; ` +
                `if the change is expected, remove line ${verdict.lines.join(', ')} of ${c.known_hosts}`,
            );
            return verify(false);
          case 'revoked':
            failure = new UnreachableError(c.name, 'host-key', `host key ${verdict.got} of ${id} is marked @revoked in ${c.known_hosts}`);
            return verify(false);
        }
      },
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

  /** The identity files after the first that can be used without a passphrase (an encrypted one is skipped). */
  private async moreKeys(c: ConnectionSpec): Promise<{ path: string; key: Buffer }[]> {
    const out: { path: string; key: Buffer }[] = [];
    for (const path of c.identity_files ?? []) {
      if (path === c.ssh_key_path) continue;
      const key = await readFile(path).catch(() => undefined);
      if (!key) continue;
      if (utils.parseKey(key) instanceof Error) {
        this.log(c.name, `skipping identity ${path}: not an unencrypted private key`);
        continue;
      }
      out.push({ path, key });
    }
    return out;
  }

  private async authConfig(c: ConnectionSpec): Promise<Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'>> {
    const agent = process.env.SSH_AUTH_SOCK || undefined;
    if (!c.ssh_key_path) return { agent };
    let key: Buffer;
    try {
      key = await readFile(c.ssh_key_path);
    } catch (e) {
      if (agent) return { agent };
      throw new UnreachableError(c.name, 'auth', `cannot read key ${c.ssh_key_path}: ${(e as Error).message} (and no ssh-agent)`);
    }
    const parsed = utils.parseKey(key);
    if (parsed instanceof Error) {
      if (!/passphrase/i.test(parsed.message)) {
        if (agent) return { agent };
        throw new UnreachableError(c.name, 'auth', `cannot use key ${c.ssh_key_path}: ${parsed.message}`);
      }
      const passphrase = await passphraseFor(c.ssh_key_path);
      if (passphrase === undefined) {
        if (agent) return { agent };
        throw new UnreachableError(
          c.name,
          'auth',
          `key ${c.ssh_key_path} is encrypted: set RANCHER_PLAY_SSH_PASSPHRASE, run from a terminal, or use ssh-agent`,
        );
      }
      if (utils.parseKey(key, passphrase) instanceof Error) {
        if (agent) return { agent };
        throw new UnreachableError(c.name, 'auth', `cannot decrypt key ${c.ssh_key_path}: wrong passphrase`);
      }
      return { privateKey: key, passphrase, agent };
    }
    return { privateKey: key, agent };
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

// ------------------------------------------------------------------ transport

interface Connected {
  client: Client;
  keys: string[];
  chain: PooledClient[];
  spec: ConnectionSpec;
}

class SshTransport implements Transport {
  readonly name: string;
  private conn?: Promise<Connected>;
  private shells = new Map<'user' | 'root', RemoteShell>();
  private closed = false;

  constructor(
    private readonly pool: SshPool,
    private readonly spec: ConnectionSpec,
    private readonly mode: 'shell' | 'channel',
  ) {
    this.name = spec.name;
  }

  connect(): Promise<void> {
    return this.connection().then(() => undefined);
  }

  private connection(): Promise<Connected> {
    if (!this.conn) {
      this.closed = false;
      this.conn = resolveConnection(this.spec, { home: this.pool.home }).then(async (resolved) => {
        const hops = [...resolved.jump, { ...resolved, jump: [], name: this.spec.name }];
        return { ...(await this.pool.acquire(hops, this.spec.name)), spec: resolved };
      });
      this.conn.catch(() => {
        this.conn = undefined;
      });
    }
    return this.conn;
  }

  /**
   * Runs a command; become uses a root shell (or `sudo -n` per channel). `trusted` marks our own
   * scripts (file reads/writes): in the long-lived shell they run in a subshell instead of a new
   * `sh -c`, saving a process start; user commands keep `sh -c` so a syntax error in one cannot
   * derail the shell that carries the next.
   */
  private async raw(command: string, opts: ExecOptions & { trusted?: boolean }): Promise<RawResult> {
    const conn = await this.connection();
    const { client, spec } = conn;
    const lost = () => conn.chain.find((p) => p.lost)?.lost;
    if (lost()) throw new UnreachableError(this.name, 'network', lost()!);
    const become = (opts.become ?? this.spec.become) && spec.user !== 'root';
    let r: RawResult;
    if (this.mode === 'channel') {
      const line = commandLine(command, opts, become);
      try {
        r = await runOnChannel(client, { line, stdin: toBuf(opts.stdin), timeoutMs: opts.timeoutMs, onLine: opts.onLine });
      } catch (e) {
        await new Promise((res) => setTimeout(res, 50));
        if (lost()) throw new UnreachableError(this.name, 'network', lost()!);
        throw e;
      }
      if (r.code === 255 && lost()) throw new UnreachableError(this.name, 'network', lost()!);
    } else {
      const kind = become ? 'root' : 'user';
      let shell = this.shells.get(kind);
      if (!shell) {
        shell = new RemoteShell(client, become ? 'exec sudo -n sh' : 'exec sh');
        this.shells.set(kind, shell);
      }
      const line = opts.trusted ? `(\n${command}\n)` : commandLine(command, opts, false);
      try {
        r = await shell.run({ line, stdin: toBuf(opts.stdin), timeoutMs: opts.timeoutMs, onLine: opts.onLine });
      } catch (e) {
        this.shells.delete(kind);
        // Give the socket a moment to report its close, so a dropped host reads as unreachable.
        await new Promise((res) => setTimeout(res, 50));
        if (lost()) throw new UnreachableError(this.name, 'network', lost()!);
        const stderr = (e as { stderr?: string }).stderr ?? '';
        if (become && SUDO_PASSWORD.test(stderr)) throw new BecomeError(this.name, spec.user, stderr);
        throw new Error(`${this.name}: ${(e as Error).message}`);
      }
    }
    if (become && r.code !== 0 && SUDO_PASSWORD.test(r.stderr.toString())) {
      throw new BecomeError(this.name, spec.user, r.stderr.toString());
    }
    return r;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.raw(command, opts);
    return { stdout: r.stdout.toString(), stderr: r.stderr.toString(), code: r.code };
  }

  async readFile(path: string, opts: { become?: boolean } = {}): Promise<Buffer | null> {
    const p = pathWord(path);
    // Missing only when cat says so: an unreadable path (or directory) is an error, not null.
    const r = await this.raw(`LC_ALL=C exec cat -- ${p}`, { become: opts.become, trusted: true });
    if (r.code !== 0 && /No such file or directory\s*$/.test(r.stderr.toString())) return null;
    if (r.code !== 0) throw new Error(`${this.name}: cannot read ${path}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
    return r.stdout;
  }

  async writeFile(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<void> {
    const bytes = toBuf(data)!;
    const { spec } = await this.connection();
    const asRoot = (opts.become ?? this.spec.become) || spec.user === 'root';
    // In the long-lived shell the content rides in a here-document (one round trip, no extra
    // process); a channel gets it on stdin.
    const eof = `__RP_DATA_${randomBytes(8).toString('hex')}`;
    const fill =
      this.mode === 'shell'
        ? `base64 -d > "$t" <<'${eof}' || exit 1\n${bytes.toString('base64').replace(/.{1,76}/g, '$&\n')}${eof}`
        : `cat > "$t" || exit 1`;
    const script = placeScript({ ...targetWords(path), fill, size: bytes.length, mode: opts.mode, owner: opts.owner, asRoot });
    const r =
      this.mode === 'shell'
        ? await this.raw(script, { become: opts.become, trusted: true })
        : await this.raw(script, { become: opts.become, stdin: bytes });
    if (r.code !== 0) throw new Error(`${this.name}: cannot write ${path}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
  }

  /**
   * Streams a controller file to `path` over SFTP on the connection already held (through the
   * jump chain), with parallel requests; the controller holds only the requests in flight.
   * SFTP runs as the login user: without become the file lands in a temp file beside the target;
   * with become in a private temp directory, from which root copies it beside the target. Either
   * way attributes are set before the one rename, so the target is the old file or the new one.
   */
  async upload(local: string, path: string, opts: UploadOptions = {}): Promise<UploadResult> {
    checkOwner(opts.owner); // before sending anything
    const started = Date.now();
    const total = (await stat(local)).size;
    const conn = await this.connection();
    const sudo = (opts.become ?? this.spec.become) === true && conn.spec.user !== 'root';
    const words = targetWords(path);
    let stage: string; // where SFTP writes (a path for SFTP, relative ones from the login home)
    let privDir: string | undefined;
    if (sudo) {
      const r = await this.raw('mktemp -d "${TMPDIR:-/tmp}/.rp-upload.XXXXXXXX"', { become: false, trusted: true });
      privDir = r.stdout.toString().trim();
      if (r.code !== 0 || !privDir.startsWith('/')) throw new Error(`${this.name}: cannot make a temp directory for ${path}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
      stage = `${privDir}/data`;
    } else {
      stage = sftpPath(posix.join(posix.dirname(path), words.tmpName));
    }
    // A cut connection kills no remote shell: it reads end-of-file. This guard waits for exactly
    // that (or for us to end it once the file is in place) and then removes what is left over,
    // which SFTP alone could not do after the link is gone.
    const leftovers = privDir ? `rm -rf ${shQuote(privDir)}; rm -f ${words.t}` : `rm -f ${words.t}`;
    const guard = await openGuard(conn.client, `${sudo ? 'sudo -n ' : ''}sh -c ${shQuote(`cat >/dev/null; ${leftovers}`)}`);
    try {
      const sftp = await this.sftp(conn.client);
      await new Promise<void>((resolve, reject) => {
        // fastPut never calls back when the channel ends under it (its clean-up waits for a
        // reply that cannot come): the end of the channel or the connection settles it.
        const cut = (): void => settle(new Error('the connection ended during the upload'));
        const settle = (e?: Error | null): void => {
          sftp.off('end', cut).off('close', cut);
          conn.client.off('close', cut);
          if (e) reject(e);
          else resolve();
        };
        sftp.once('end', cut).once('close', cut);
        conn.client.once('close', cut);
        sftp.fastPut(local, stage, {
          concurrency: 64,
          chunkSize: 64 * 1024,
          mode: 0o600,
          step: (done, _n, size) => opts.onProgress?.(done, size),
        }, settle);
      }).catch(async (e: Error) => {
        await new Promise((res) => setTimeout(res, 50));
        const lost = conn.chain.find((p) => p.lost)?.lost;
        if (lost) throw new UnreachableError(this.name, 'network', lost);
        throw new Error(`${this.name}: cannot upload ${path}: ${e.message}`);
      });
      const script = placeScript({
        ...words,
        fill: privDir ? `cp -- ${shQuote(stage)} "$t" || exit 1\nrm -rf ${shQuote(privDir)}` : '',
        size: total,
        mode: opts.mode,
        owner: opts.owner,
        asRoot: sudo || conn.spec.user === 'root',
      });
      const r = await this.raw(script, { become: opts.become, trusted: true });
      if (r.code !== 0) throw new Error(`${this.name}: cannot write ${path}: ${r.stderr.toString().trim() || `exit ${r.code}`}`);
    } finally {
      await guard.end();
    }
    return { bytes: total, ms: Date.now() - started };
  }

  private sftpFor?: { client: Client; session: Promise<SFTPWrapper> };

  /** One SFTP session per connection, opened on first use. */
  private sftp(client: Client): Promise<SFTPWrapper> {
    if (this.sftpFor?.client === client) return this.sftpFor.session;
    const session = new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((e, s) => {
        if (e) return reject(new Error(`SFTP not available (${e.message})`));
        s.on('close', () => {
          if (this.sftpFor?.session === session) this.sftpFor = undefined;
        });
        resolve(s);
      });
    });
    session.catch(() => {
      if (this.sftpFor?.session === session) this.sftpFor = undefined;
    });
    this.sftpFor = { client, session };
    return session;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.shells.values()) s.kill();
    this.shells.clear();
    const sftp = this.sftpFor;
    this.sftpFor = undefined;
    sftp?.session.then((s) => s.end(), () => undefined);
    const c = this.conn;
    this.conn = undefined;
    const got = await c?.catch(() => undefined);
    if (got) await this.pool.release(got.keys);
  }
}

function toBuf(d: string | Buffer | undefined): Buffer | undefined {
  return d === undefined ? undefined : typeof d === 'string' ? Buffer.from(d) : d;
}

/** The target and a temp name beside it, as shell words. */
function targetWords(path: string): { p: string; t: string; tmpName: string } {
  const dir = posix.dirname(path);
  const tmpName = `.${posix.basename(path)}.rp-${randomBytes(6).toString('hex')}.tmp`;
  const t = dir === '.' ? shQuote(tmpName) : `${pathWord(dir)}/${shQuote(tmpName)}`;
  return { p: pathWord(path), t, tmpName };
}

/** `user` or `user:group` with plain names only: it is put in a shell command. */
function checkOwner(owner: string | undefined): void {
  if (owner !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/.test(owner)) throw new Error(`invalid owner "${owner}"`);
}

/** A remote path as SFTP sees it: relative paths (and `~/x`) start at the login home. */
function sftpPath(p: string): string {
  if (p === '~') return '.';
  return p.startsWith('~/') ? p.slice(2) : p;
}

/**
 * The script that puts a file in place: `fill` writes the temp file "$t" beside the target "$p";
 * only a temp file of the full size replaces the target, its mode and owner set before the
 * rename, and it is removed on any failure.
 */
function placeScript(o: { p: string; t: string; fill: string; size: number; mode?: number; owner?: string; asRoot: boolean }): string {
  checkOwner(o.owner);
  const mode = o.mode !== undefined ? o.mode.toString(8).padStart(4, '0') : undefined;
  // A connection that drops mid-upload ends stdin early and `cat` succeeds on the prefix: only
  // a temp file of the full size may replace the destination. Removed before saying so: with the
  // connection gone, writing to stderr kills the shell (SIGPIPE) before its EXIT trap runs.
  const size = `[ "$(wc -c < "$t")" -eq ${o.size} ] || { rm -f "$t"; echo "upload cut short" >&2; exit 1; }`;
  return [
    `p=${o.p}; t=${o.t}`,
    `trap 'rm -f "$t"' EXIT`,
    `umask 077`,
    o.fill,
    size,
    mode
      ? `chmod ${mode} "$t" || exit 1`
      : `if [ -e "$p" ]; then chmod --reference="$p" "$t"; else chmod 0644 "$t"; fi || exit 1`,
    o.owner
      ? `chown ${shQuote(o.owner)} "$t" || exit 1`
      : o.asRoot
        ? `if [ -e "$p" ]; then chown --reference="$p" "$t" 2>/dev/null; fi`
        : '', // a plain user cannot give files away: the temp file is already theirs
    `mv -f "$t" "$p"`,
  ].filter(Boolean).join('\n');
}

/** A remote command that runs until we end its stdin (or the connection drops). `end` waits for
 * it to finish, so its clean-up is done when `end` returns. */
function openGuard(client: Client, line: string): Promise<{ end(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    client.exec(line, (e, ch) => {
      if (e) return reject(e);
      let closed = false;
      const done = new Promise<void>((res) => ch.on('close', () => { closed = true; res(); }));
      ch.on('data', () => undefined);
      ch.stderr.on('data', () => undefined);
      resolve({
        end: async () => {
          if (!closed) ch.end();
          // A dead connection never reports the close: do not hang on it.
          await Promise.race([done, new Promise((res) => setTimeout(res, 10_000).unref())]);
        },
      });
    });
  });
}
