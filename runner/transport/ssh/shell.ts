// One long-lived remote `sh` per host (and per root shell) that carries every command as a
// framed script, so a command costs a round trip instead of an SSH session setup.
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import type { Client } from './pool.js';
import { LineSplitter, base64Lines } from '../shell.js';

export interface RawResult {
  stdout: Buffer;
  stderr: Buffer;
  code: number;
}

export interface RunSpec {
  /** The shell command line (already wrapped with cd/env/timeout). */
  line: string;
  stdin?: Buffer;
  timeoutMs?: number;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/**
 * One long-lived `sh` on the remote side. Each command is written to its stdin followed by
 * markers (carrying `$?` on stdout) on both streams; output is read until both markers arrive.
 * Commands never read the shell's own stdin (`</dev/null` or a here-document of their input).
 */
export class RemoteShell {
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
      script = `base64 -d <<'${eof}' | ${spec.line}\n${base64Lines(spec.stdin)}${eof}\n`;
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
