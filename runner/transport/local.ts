// Runs on the controller itself (`connection: local`, controller tasks). The same shell core as
// SSH (runner/transport/shell.ts): the same command line, the same atomic write, the same lines.
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ExecOptions, ExecResult, WriteOptions } from '../task.js';
import type { Transport, UploadOptions, UploadResult } from './transport.js';
import { shQuote } from '../quote.js';
import { childGroup, tempFile } from './cleanup.js';
import { LineSplitter, checkOwner, commandInput, pathWord, placeScript, targetWords, type CommandInput } from './shell.js';

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/** The command line `sh -c` runs here and its stdin: the shared ones, under sudo for become unless already root. */
export function shellLine(command: string, opts: ExecOptions = {}, root = isRoot()): CommandInput {
  return commandInput(command, opts, { sudo: opts.become === true && !root });
}

/** A path as the shell would see it: `~/x` is under $HOME, as pathWord makes it in scripts. */
function localPath(p: string): string {
  const home = process.env.HOME || homedir();
  if (p === '~') return home;
  return p.startsWith('~/') ? join(home, p.slice(2)) : p;
}

export class LocalTransport implements Transport {
  constructor(
    public readonly name: string = 'localhost',
    private readonly become = false,
  ) {}

  async connect(): Promise<void> {}

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const { line, stdin } = shellLine(command, { ...opts, become: opts.become ?? this.become });
    return new Promise((resolve) => {
      // detached: own process group, so a timeout kills the whole pipeline, not just `sh`.
      const child = spawn('sh', ['-c', line], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
      // Ended with this process if it exits first (a second Ctrl-C): it runs in its own group.
      const release = child.pid ? childGroup(child.pid) : () => undefined;
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const split = opts.onLine
        ? { stdout: new LineSplitter((l) => opts.onLine!(l, 'stdout')), stderr: new LineSplitter((l) => opts.onLine!(l, 'stderr')) }
        : undefined;
      child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c; split?.stdout.push(c); });
      child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c; split?.stderr.push(c); });
      const killGroup = (): void => {
        try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
      };
      const timer = opts.timeoutMs ? setTimeout(() => { timedOut = true; killGroup(); }, opts.timeoutMs) : undefined;
      child.stdin.on('error', () => { /* command did not read its stdin */ });
      if (stdin !== undefined) child.stdin.end(stdin);
      else child.stdin.end();
      let done = false;
      const finish = (code: number): void => {
        if (done) return;
        done = true;
        release();
        if (timer) clearTimeout(timer);
        split?.stdout.end();
        split?.stderr.end();
        resolve({ stdout, stderr, code: timedOut ? 124 : code });
      };
      child.on('error', (e) => { stderr += String(e.message); finish(127); });
      child.on('close', (code, signal) => finish(code ?? (signal ? 128 + 9 : 1)));
    });
  }

  private asRoot(become: boolean | undefined): boolean {
    return (become ?? this.become) && !isRoot();
  }

  async readFile(path: string, opts: { become?: boolean } = {}): Promise<Buffer | null> {
    if (this.asRoot(opts.become)) {
      const p = pathWord(path);
      const r = await this.exec(`if [ -e ${p} ]; then base64 < ${p}; else echo __ENOENT__; fi`, { become: true });
      if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr.trim()}`);
      if (r.stdout.trim() === '__ENOENT__') return null;
      return Buffer.from(r.stdout, 'base64');
    }
    try {
      return await readFile(localPath(path));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async writeFile(path: string, data: string | Buffer, opts: WriteOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const words = targetWords(path);
    const release = tempFile(join(dirname(localPath(path)), words.tmpName));
    try {
      await this.place(path, words, 'cat > "$t" || exit 1', bytes.length, opts, bytes);
    } finally {
      release();
    }
  }

  /** The same as writeFile for a controller file, copied as a stream (constant memory). */
  async upload(local: string, path: string, opts: UploadOptions = {}): Promise<UploadResult> {
    checkOwner(opts.owner); // before copying anything
    const started = Date.now();
    const total = (await stat(local)).size;
    const words = targetWords(path);
    // Removed by the exit hook if this process ends mid-copy (the placing script removes it
    // on every failure it lives to see).
    const release = tempFile(join(dirname(localPath(path)), words.tmpName));
    try {
      if (this.asRoot(opts.become)) {
        // root reads the source itself: no bytes pass through this process.
        await this.place(path, words, `cp -- ${shQuote(local)} "$t" || exit 1`, total, opts);
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
        // Staged under the temp name the placing script then finishes and renames.
        const staged = join(dirname(localPath(path)), words.tmpName);
        try {
          await pipeline(createReadStream(local), count, createWriteStream(staged, { mode: 0o600, flags: 'wx' }));
        } catch (e) {
          await rm(staged, { force: true });
          throw e;
        }
        await this.place(path, words, '', total, opts);
      }
    } finally {
      release();
    }
    return { bytes: total, ms: Date.now() - started };
  }

  /** Runs the shared placing script (through sudo for become when not root). */
  private async place(path: string, words: { p: string; t: string }, fill: string, size: number, opts: WriteOptions, stdin?: Buffer): Promise<void> {
    const become = this.asRoot(opts.become);
    // The replaced file's attributes from here when this process may look: the script then
    // needs no GNU-only `--reference` (a controller need not be Linux).
    // (Not for `~` under sudo: there it is root's home, as over SSH.)
    const prev = become && path.startsWith('~') ? undefined : await stat(localPath(path)).catch(() => undefined);
    const keep = prev && { mode: prev.mode & 0o7777, owner: `${prev.uid}:${prev.gid}` };
    const script = placeScript({ ...words, fill, size, mode: opts.mode, owner: opts.owner, asRoot: become || isRoot(), keep });
    const r = await this.exec(script, { become, stdin });
    if (r.code !== 0) throw new Error(`cannot write ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  async close(): Promise<void> {}
}
