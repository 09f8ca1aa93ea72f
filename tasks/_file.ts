// Shared by copy and render-template: what a file looks like now, and writing it only when
// content, mode or owner differ. One round trip for the metadata; content read only when needed.
// Big controller files are never held in memory: hashed and uploaded as streams.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { FileDiff, TaskContext } from '../runner/sdk/index.js';
import { fileState, type FileState } from './_facts.js';

export interface FileWant {
  dest: string;
  content: Buffer;
  /** Octal string like "0644". */
  mode?: string;
  owner?: string;
}

/** A controller file too big to hold in memory, known by its size and sha256. */
export interface LocalSource {
  path: string;
  size: number;
  sha256: string;
}

/** A file wanted on the target with the content of a controller file (streamed). */
export interface SourceWant {
  dest: string;
  source: LocalSource;
  mode?: string;
  owner?: string;
}

/** From this size on a controller file is streamed instead of read into memory (smaller ones
 * ride in the same round trip as the write, and keep a text diff). */
export const STREAM_MIN_BYTES = 1 << 20;

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** sha256 of a controller file, read as a stream. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

export interface FileProbe {
  exists: boolean;
  changes: string[];
  diff?: FileDiff[];
}

export const modeSchema = {
  type: 'string', pattern: '^0?[0-7]{3,4}$',
  description: 'File mode as an octal string, e.g. "0644" (quote it: YAML reads 0644 as a number).',
} as const;

export function parseMode(mode: string): number {
  return parseInt(mode, 8);
}

const isText = (b: Buffer): boolean => !b.includes(0) && b.length < 1 << 20;

/** A file nobody but its owner may read holds credentials (kubeconfig, keys, the cluster config
 * with an embedded TLS key): its content must never reach a diff, whatever the output mode. */
export function isPrivateMode(mode: number): boolean {
  return (mode & 0o004) === 0 && (mode & 0o040) === 0;
}

/** What a diff shows of a private file: its size only. */
export function hidden(content: Buffer | string | number): string {
  return `(secret, ${typeof content === 'number' ? content : Buffer.byteLength(content)} bytes)\n`;
}

/** `known`: the destination's state when the caller has it already (a streamed source reads its
 * metadata first and hashes only where that cannot tell). */
export async function probeFile(ctx: TaskContext, want: FileWant | SourceWant, known?: FileState): Promise<FileProbe> {
  const content = 'content' in want ? want.content : undefined;
  const size = content ? content.length : (want as SourceWant).source.size;
  const st = known ?? await ctx.fact(fileState, { path: want.dest });
  const exists = st.exists;
  const changes: string[] = [];
  let diff: FileDiff[] | undefined;
  const mode = st.modeText ?? '';
  const user = st.user ?? '';
  const group = st.group ?? '';
  // The mode the file will have: the wanted one, else the current one (kept by writeFile), else 0644.
  const finalMode = want.mode ? parseMode(want.mode) : exists ? parseInt(mode, 8) : 0o644;
  const secret = isPrivateMode(finalMode) || (exists && isPrivateMode(parseInt(mode, 8)));
  const after = secret ? hidden(size) : content && isText(content) ? content.toString('utf8') : '(binary)';
  if (!exists) {
    changes.push('create');
    diff = [{ path: want.dest, before: null, after }];
  } else {
    const wantSum = content ? sha256(content) : (want as SourceWant).source.sha256;
    if (st.sha256 !== wantSum) {
      changes.push('content');
      // A private file is not even read: only its size would be shown.
      const cur = !secret && content && isText(content) ? await ctx.readFile(want.dest) : null;
      diff = [{ path: want.dest, before: secret ? '(secret, previous content)\n' : cur ?? '(binary)', after }];
    }
    if (want.mode && parseMode(want.mode) !== parseInt(mode, 8)) changes.push(`mode ${mode} → ${want.mode.replace(/^0?/, '0')}`);
    if (want.owner) {
      const [wu, wg] = want.owner.split(':');
      if (wu !== user || (wg !== undefined && wg !== group)) changes.push(`owner ${user}:${group} → ${want.owner}`);
    }
  }
  return { exists, changes, diff };
}

/** Puts the wanted file in place; for a streamed source, says how many bytes went at what rate. */
export async function writeWanted(ctx: TaskContext, want: FileWant | SourceWant): Promise<{ bytes: number; ms: number } | void> {
  const opts = { mode: want.mode ? parseMode(want.mode) : undefined, owner: want.owner };
  if ('source' in want) return ctx.upload(want.source.path, want.dest, opts);
  await ctx.writeFile(want.dest, want.content, opts);
}
