// The shell core both transports share, so a task behaves the same on the controller and over
// SSH: the command line a command runs as, the script that puts a file in place atomically, and
// how output is cut into lines. Where the two once differed, this follows what a remote login
// shell does (what Ansible users expect).
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { ExecOptions } from '../task.js';
import { shQuote } from '../quote.js';

/** A path as a shell word; `~` and `~/x` expand to the shell's $HOME. */
export function pathWord(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shQuote(p.slice(2))}`;
  return shQuote(p);
}

export interface LineOptions {
  /** Run under `sudo -n` (the caller decides: a root login needs no sudo). */
  sudo?: boolean;
  /** Wrap in `timeout` when `opts.timeoutMs` is set (a remote command cannot be killed from here). */
  timeout?: boolean;
}

/** A command line and the bytes its stdin carries. */
export interface CommandInput {
  line: string;
  stdin?: Buffer;
}

/**
 * How a command runs, on the controller and over SSH alike: `sh -c` semantics, its own cwd (a
 * failed `cd` runs nothing) and env, optionally under `sudo -n` and `timeout`. Environment
 * values travel on stdin ahead of the command's own input, one base64 line each, read by the
 * shell before the command starts: a process list (`ps`, /proc/PID/cmdline, readable by every
 * user) shows the names, never the values. They are not SSH env requests either (sshd's
 * AcceptEnv rejects those).
 */
export function commandInput(command: string, opts: ExecOptions = {}, how: LineOptions = {}): CommandInput {
  const parts: string[] = [];
  const head: string[] = [];
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`invalid environment variable name "${k}"`);
    if (v.includes('\0')) throw new Error(`environment variable ${k} holds a NUL byte`);
    // `read` takes one line (a shell reads a pipe byte by byte, so the command's own input
    // stays); `echo .` keeps trailing newlines through the command substitution.
    parts.push(`IFS= read -r __rp_v || exit 1; ${k}=$(printf '%s' "$__rp_v" | base64 -d; echo .) || exit 1; ${k}=\${${k}%.}; export ${k}`);
    head.push(Buffer.from(v).toString('base64'));
  }
  if (head.length) parts.push('unset __rp_v');
  if (opts.cwd) parts.push(`cd ${pathWord(opts.cwd)} || exit 1`);
  parts.push(command);
  let line = `sh -c ${shQuote(parts.join('\n'))}`;
  if (how.sudo) line = `sudo -n ${line}`;
  if (how.timeout && opts.timeoutMs !== undefined) line = `timeout -k 5 ${(opts.timeoutMs / 1000).toFixed(3)} ${line}`;
  const own = opts.stdin === undefined ? undefined : typeof opts.stdin === 'string' ? Buffer.from(opts.stdin) : opts.stdin;
  if (!head.length) return { line, stdin: own };
  return { line, stdin: Buffer.concat([Buffer.from(`${head.join('\n')}\n`), own ?? Buffer.alloc(0)]) };
}

/** The command line alone, for a command that has no environment to pass. */
export function commandLine(command: string, opts: ExecOptions = {}, how: LineOptions = {}): string {
  if (opts.env && Object.keys(opts.env).length) throw new Error('commandLine: environment values go over stdin (commandInput)');
  return commandInput(command, opts, how).line;
}

/** Splits a stream into lines as data arrives, holding back the incomplete last one; a CRLF
 * line ending counts as a line ending. */
export class LineSplitter {
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

/** The target and a temp name beside it, as shell words. */
export function targetWords(path: string): { p: string; t: string; tmpName: string } {
  const dir = posix.dirname(path);
  const tmpName = `.${posix.basename(path)}.rp-${randomBytes(6).toString('hex')}.tmp`;
  const t = dir === '.' ? shQuote(tmpName) : `${pathWord(dir)}/${shQuote(tmpName)}`;
  return { p: pathWord(path), t, tmpName };
}

/** `user` or `user:group` with plain names only: it is put in a shell command. */
export function checkOwner(owner: string | undefined): void {
  if (owner !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/.test(owner)) throw new Error(`invalid owner "${owner}"`);
}

export interface PlaceOptions {
  /** Target and temp file as shell words (from targetWords). */
  p: string;
  t: string;
  /** Commands that write the temp file "$t" (empty when it is already there). */
  fill: string;
  /** Bytes the temp file must hold. */
  size: number;
  mode?: number;
  owner?: string;
  /** Runs as root: a replaced file keeps its owner too. */
  asRoot: boolean;
  /** The replaced file's mode and `uid:gid` when the caller knows them already; found with GNU
   * `--reference` otherwise (fine on the Linux targets, not on every controller). */
  keep?: { mode: number; owner: string };
}

/**
 * The script that puts a file in place: `fill` writes the temp file "$t" beside the target "$p";
 * only a temp file of the full size replaces the target, its mode and owner set before the
 * rename (without a wanted mode/owner a replaced file keeps its own: rewriting a 0600
 * credentials file must not leave it world-readable), and it is removed on any failure.
 */
export function placeScript(o: PlaceOptions): string {
  checkOwner(o.owner);
  const mode = o.mode !== undefined ? octal(o.mode) : undefined;
  // A connection that drops mid-upload ends stdin early and `cat` succeeds on the prefix: only
  // a temp file of the full size may replace the destination. Removed before saying so: with the
  // connection gone, writing to stderr kills the shell (SIGPIPE) before its EXIT trap runs.
  const size = `[ "$(wc -c < "$t")" -eq ${o.size} ] || { rm -f "$t"; echo "upload cut short" >&2; exit 1; }`;
  return [
    `p=${o.p}; t=${o.t}`,
    // `mv` would put the file inside a directory of that name: refuse, as rename(2) does.
    `if [ -d "$p" ]; then echo "$p: is a directory" >&2; exit 1; fi`,
    `trap 'rm -f "$t"' EXIT`,
    `umask 077`,
    o.fill,
    size,
    mode
      ? `chmod ${mode} "$t" || exit 1`
      : o.keep
        ? `chmod ${octal(o.keep.mode)} "$t" || exit 1`
        : `if [ -e "$p" ]; then chmod --reference="$p" "$t"; else chmod 0644 "$t"; fi || exit 1`,
    o.owner
      ? `chown ${shQuote(o.owner)} "$t" || exit 1`
      : !o.asRoot
        ? '' // a plain user cannot give files away: the temp file is already theirs
        : o.keep
          ? `chown ${shQuote(o.keep.owner)} "$t" 2>/dev/null`
          : `if [ -e "$p" ]; then chown --reference="$p" "$t" 2>/dev/null; fi`,
    `mv -f "$t" "$p"`,
  ].filter(Boolean).join('\n');
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** A here-document that decodes to `bytes` into "$t" (content inside the script: one round trip). */
export function hereDocFill(bytes: Buffer): string {
  const eof = `__RP_DATA_${randomBytes(8).toString('hex')}`;
  return `base64 -d > "$t" <<'${eof}' || exit 1\n${base64Lines(bytes)}${eof}`;
}

/** base64 in lines of 76 (what `base64 -d` reads everywhere). */
export function base64Lines(bytes: Buffer): string {
  return bytes.toString('base64').replace(/.{1,76}/g, '$&\n');
}
