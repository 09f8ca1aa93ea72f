// Runs on the controller itself (`connection: local`, controller tasks). Same contract as SSH:
// env via quoted assignments, cwd via `cd`, become via `sudo -n`, atomic writes.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, chown, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join } from 'node:path';
import { userInfo } from 'node:os';
import type { ExecOptions, ExecResult, WriteOptions } from '../task.js';
import type { Transport, UploadOptions, UploadResult } from './transport.js';
import { shQuote } from '../quote.js';

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** Builds the `sh -c` command line: env assignments, `cd`, then the command, optionally under sudo. */
export function shellLine(command: string, opts: ExecOptions = {}, root = isRoot()): string {
  const env = Object.entries(opts.env ?? {})
    .map(([k, v]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name "${k}"`);
      return `export ${k}=${shQuote(v)}; `;
    })
    .join('');
  const cd = opts.cwd ? `cd ${shQuote(opts.cwd)} && ` : '';
  const line = `${env}${cd}${command}`;
  if (opts.become && !root) return `sudo -n sh -c ${shQuote(line)}`;
  return line;
}

export class LocalTransport implements Transport {
  constructor(
    public readonly name: string = 'localhost',
    private readonly become = false,
  ) {}

  async connect(): Promise<void> {}

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const line = shellLine(command, { ...opts, become: opts.become ?? this.become });
    return new Promise((resolve) => {
      // detached: own process group, so a timeout kills the whole pipeline, not just `sh`.
      const child = spawn('sh', ['-c', line], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const partial = { stdout: '', stderr: '' };
      const feed = (stream: 'stdout' | 'stderr', chunk: string): void => {
        if (stream === 'stdout') stdout += chunk;
        else stderr += chunk;
        if (!opts.onLine) return;
        const lines = (partial[stream] + chunk).split('\n');
        partial[stream] = lines.pop() ?? '';
        for (const l of lines) opts.onLine(l, stream);
      };
      child.stdout.setEncoding('utf8').on('data', (c: string) => feed('stdout', c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => feed('stderr', c));
      const killGroup = (): void => {
        try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      };
      const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; killGroup(); }, opts.timeoutMs) : undefined;
      child.stdin.on('error', () => { /* command did not read its stdin */ });
      if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
      else child.stdin.end();
      const finish = (code: number): void => {
        if (timer) clearTimeout(timer);
        if (opts.onLine) {
          if (partial.stdout) opts.onLine(partial.stdout, 'stdout');
          if (partial.stderr) opts.onLine(partial.stderr, 'stderr');
        }
        resolve({ stdout, stderr, code: timedOut ? 124 : code });
      };
      child.on('error', (e) => { stderr += String(e.message); finish(127); });
      child.on('close', (code, signal) => finish(code ?? (signal ? 128 + 9 : 1)));
    });
  }

  async readFile(path: string, opts: { become?: boolean } = {}): Promise<Buffer | null> {
    if ((opts.become ?? this.become) && !isRoot()) {
      const r = await this.exec(`if [ -e ${shQuote(path)} ]; then base64 < ${shQuote(path)}; else echo __ENOENT__; fi`, { become: true });
      if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr.trim()}`);
      if (r.stdout.trim() === '__ENOENT__') return null;
      return Buffer.from(r.stdout, 'base64');
    }
    try {
      return await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async writeFile(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<void> {
    if ((opts.become ?? this.become) && !isRoot()) {
      return this.placeAsRoot(path, 'cat > "$t"', opts, data);
    }
    await placeLocal(path, opts, (tmp) => writeFile(tmp, data, { mode: 0o600, flag: 'wx' }));
  }

  /** The same as writeFile for a controller file, copied as a stream (constant memory). */
  async upload(local: string, path: string, opts: UploadOptions = {}): Promise<UploadResult> {
    const started = Date.now();
    const total = (await stat(local)).size;
    if ((opts.become ?? this.become) && !isRoot()) {
      // root reads the source itself: no bytes pass through this process.
      await this.placeAsRoot(path, `cp -- ${shQuote(local)} "$t"`, opts);
      opts.onProgress?.(total, total);
    } else {
      let done = 0;
      const count = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          done += chunk.length;
          opts.onProgress?.(done, total);
          cb(null, chunk);
        },
      });
      await placeLocal(path, opts, (tmp) => pipeline(createReadStream(local), count, createWriteStream(tmp, { mode: 0o600, flags: 'wx' })));
    }
    return { bytes: total, ms: Date.now() - started };
  }

  /** Write as root through sudo: `fill` makes the temp file "$t" beside the target, then mv
   * (atomic on one filesystem). */
  private async placeAsRoot(path: string, fill: string, opts: WriteOptions, stdin?: string | Buffer): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.rp-${randomBytes(4).toString('hex')}`);
    // As for a plain write: without a wanted mode the target keeps its own (0644 when new).
    const mode = opts.mode !== undefined
      ? ` && chmod ${(opts.mode & 0o7777).toString(8)} "$t"`
      : ` && { if [ -e ${shQuote(path)} ]; then chmod --reference=${shQuote(path)} "$t"; else chmod 0644 "$t"; fi; }`;
    const own = opts.owner ? ` && chown ${shQuote(opts.owner)} "$t"` : '';
    const r = await this.exec(`t=${shQuote(tmp)}; umask 077; ${fill}${mode}${own} && mv -f "$t" ${shQuote(path)} || { rm -f "$t"; exit 1; }`, { become: true, stdin });
    if (r.code !== 0) throw new Error(`cannot write ${path}: ${r.stderr.trim()}`);
  }

  async close(): Promise<void> {}
}

/** Temp file beside `path` made by `fill`, given the wanted mode and owner, renamed over `path`.
 * Without an explicit mode/owner a replaced file keeps its own (as the SSH transport does):
 * rewriting a 0600 credentials file must not leave it world-readable. */
async function placeLocal(path: string, opts: WriteOptions, fill: (tmp: string) => Promise<unknown>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.rp-${randomBytes(4).toString('hex')}`);
  const prev = await stat(path).catch(() => undefined);
  const mode = opts.mode ?? (prev ? prev.mode & 0o7777 : 0o644);
  try {
    await fill(tmp);
    await chmod(tmp, mode); // umask would otherwise narrow it
    if (opts.owner) await chownByName(tmp, opts.owner);
    else if (prev && isRoot() && (prev.uid !== userInfo().uid || prev.gid !== userInfo().gid)) await chown(tmp, prev.uid, prev.gid);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** chown by user[:group] name; uses `id`/`getent` so names work without native bindings. */
async function chownByName(path: string, owner: string): Promise<void> {
  const [user, group] = owner.split(':');
  const t = new LocalTransport();
  const uid = await lookupId(t, `id -u ${shQuote(user ?? '')}`, user ?? '');
  const gid = group
    ? await lookupId(t, `getent group ${shQuote(group)} | cut -d: -f3`, group)
    : await lookupId(t, `id -g ${shQuote(user ?? '')}`, user ?? '');
  if (uid === userInfo().uid && gid === userInfo().gid) return;
  await chown(path, uid, gid);
}

async function lookupId(t: LocalTransport, cmd: string, name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const r = await t.exec(cmd);
  const n = Number(r.stdout.trim());
  if (r.code !== 0 || r.stdout.trim() === '' || Number.isNaN(n)) throw new Error(`unknown user or group "${name}"`);
  return n;
}
