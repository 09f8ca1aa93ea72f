// The SSH transport for one host: commands through the host's long-lived remote shells (one for
// the login user, one `sudo -n sh` for become), small files inside the same shell (base64), big
// controller files over SFTP on the same connection. Command lines and the atomic write are the
// shared shell core's.
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import type { ConnectionSpec } from '../../types.js';
import type { ExecOptions, ExecResult, WriteOptions } from '../../task.js';
import { UnreachableError, type Transport, type UploadOptions, type UploadResult } from '../transport.js';
import { shQuote } from '../../quote.js';
import { resolveConnection } from '../ssh-config.js';
import { checkOwner, commandInput, commandLine, hereDocFill, pathWord, placeScript, targetWords } from '../shell.js';
import { RemoteShell, type RawResult } from './shell.js';
import type { Client, PooledClient, SshPool } from './pool.js';

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

const SUDO_PASSWORD = /sudo: (a password is required|a terminal is required|no tty present)/;

interface Connected {
  client: Client;
  keys: string[];
  chain: PooledClient[];
  spec: ConnectionSpec;
}

export class SshTransport implements Transport {
  readonly name: string;
  private conn?: Promise<Connected>;
  private shells = new Map<'user' | 'root', RemoteShell>();
  private closed = false;

  constructor(
    private readonly pool: SshPool,
    private readonly spec: ConnectionSpec,
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
   * Runs a command; become uses the root shell. `trusted` marks our own scripts (file reads
   * and writes): in the long-lived shell they run in a subshell instead of a new
   * `sh -c`, saving a process start; user commands keep `sh -c` so a syntax error in one cannot
   * derail the shell that carries the next.
   */
  private async raw(command: string, opts: ExecOptions & { trusted?: boolean }): Promise<RawResult> {
    const conn = await this.connection();
    const { client, spec } = conn;
    const lost = () => conn.chain.find((p) => p.lost)?.lost;
    if (lost()) throw new UnreachableError(this.name, 'network', lost()!);
    const become = (opts.become ?? this.spec.become) && spec.user !== 'root';
    const kind = become ? 'root' : 'user';
    let shell = this.shells.get(kind);
    if (!shell) {
      shell = new RemoteShell(client, become ? 'exec sudo -n sh' : 'exec sh');
      this.shells.set(kind, shell);
    }
    const { line, stdin } = opts.trusted ? { line: `(\n${command}\n)`, stdin: toBuf(opts.stdin) } : commandInput(command, opts, { timeout: true });
    let r: RawResult;
    try {
      r = await shell.run({ line, stdin, timeoutMs: opts.timeoutMs, onLine: opts.onLine });
    } catch (e) {
      this.shells.delete(kind);
      // Give the socket a moment to report its close, so a dropped host reads as unreachable.
      await new Promise((res) => setTimeout(res, 50));
      if (lost()) throw new UnreachableError(this.name, 'network', lost()!);
      const stderr = (e as { stderr?: string }).stderr ?? '';
      if (become && SUDO_PASSWORD.test(stderr)) throw new BecomeError(this.name, spec.user, stderr);
      throw new Error(`${this.name}: ${(e as Error).message}`);
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
    // The content rides in a here-document inside the shell (one round trip, no extra process).
    const script = placeScript({ ...targetWords(path), fill: hereDocFill(bytes), size: bytes.length, mode: opts.mode, owner: opts.owner, asRoot });
    const r = await this.raw(script, { become: opts.become, trusted: true });
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
    // Opened one after the other: SFTP's session asked for while the guard's is being set up
    // waited ~45 ms for it in the lab (sshd), against ~5 ms asked for after.
    const guard = await openGuard(conn.client, commandLine(`cat >/dev/null; ${leftovers}`, {}, { sudo }));
    let placed = false;
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
          // Requests as big as OpenSSH's sftp-server takes (255 KiB of data), 8 MiB in flight:
          // a quarter of the requests, acknowledgements and file reads of 64 KiB ones, for
          // less CPU (system time most) at the same window.
          concurrency: 32,
          chunkSize: 255 * 1024,
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
      placed = true;
    } finally {
      // After a failure the caller must not hear of it before the leftovers are gone. In place,
      // nothing is left (the temp file was renamed, a private directory removed by the script):
      // the guard is told to end and not waited for, a round trip saved.
      if (placed) guard.end().catch(() => undefined);
      else await guard.end();
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

  /** A channel from this host to `host:port` (ssh -L without a listener): the API server behind
   * the bastion, reached as this host reaches it. Refusals read like the pool's. */
  async openTcp(host: string, port: number): Promise<ClientChannel> {
    const { client, chain } = await this.connection();
    const lost = chain.find((p) => p.lost)?.lost;
    if (lost) throw new UnreachableError(this.name, 'network', lost);
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (e, ch) => {
        if (e) return reject(new Error(`${this.name}: cannot open ${host}:${port} from ${this.name}: ${e.message.replace(/^\(SSH\) Channel open failure: /, '') || 'channel open failed'}`));
        resolve(ch);
      });
    });
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

/** A remote path as SFTP sees it: relative paths (and `~/x`) start at the login home. */
function sftpPath(p: string): string {
  if (p === '~') return '.';
  return p.startsWith('~/') ? p.slice(2) : p;
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
