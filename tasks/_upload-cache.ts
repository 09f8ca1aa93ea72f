// How `copy` knows a big file it uploaded is still the same without reading it again: after an
// upload it records, on the controller, the source's size, mtime, ctime and inode and the destination's
// size, mtime, ctime and inode. A later run that finds both sides as recorded has nothing to
// hash; any difference (a write, `touch -r`, a replaced file: each moves ctime or the inode)
// falls back to hashing both sides. The record is a cache, not state: a dry run may fill it and
// deleting it costs one hash of each side.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { defineFact, type ExecResult, type TaskContext } from '../runner/sdk/index.js';

/** The destination's metadata, no checksum: one `stat`. */
export interface RemoteIdentity {
  exists: boolean;
  mode?: number;
  modeText?: string;
  user?: string;
  group?: string;
  size?: number;
  /** mtime and ctime with nanoseconds, as stat prints them ("1796229833.754102980"). */
  mtime?: string;
  ctime?: string;
  ino?: string;
}

export const fileIdentity = defineFact<{ path: string }, RemoteIdentity>({
  id: 'file-identity',
  command: ({ path }, q) => `if [ -e ${q(path)} ]; then stat -c '%a %U %G %s %.9Y %.9Z %i' ${q(path)}; else echo absent; fi`,
  parse(r: ExecResult, { path }) {
    if (r.code !== 0) throw new Error(`cannot inspect ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
    const line = r.stdout.trim();
    if (line === 'absent') return { exists: false };
    const [modeText = '', user = '', group = '', size = '', mtime = '', ctime = '', ino = ''] = line.split(' ');
    // A stat without nanoseconds (not GNU) prints something else: no identity, so no cache hit.
    const ns = /^\d+\.\d{9}$/;
    return {
      exists: true, mode: parseInt(modeText, 8), modeText, user, group, size: Number(size),
      ...(ns.test(mtime) && ns.test(ctime) && /^\d+$/.test(ino) ? { mtime, ctime, ino } : {}),
    };
  },
});

export interface LocalIdentity {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
  dev: string;
}

export async function localIdentity(path: string): Promise<LocalIdentity> {
  const s = await stat(path, { bigint: true });
  return { size: Number(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs), ino: String(s.ino), dev: String(s.dev) };
}

interface Entry {
  v: 1;
  source: string;
  local: LocalIdentity;
  remote: { size: number; mtime: string; ctime: string; ino: string };
}

/** `$XDG_CACHE_HOME/rancher-play/uploads`, else `~/.cache/rancher-play/uploads`. */
function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache'), 'rancher-play', 'uploads');
}

function entryFile(ctx: TaskContext, dest: string): string {
  const key = createHash('sha256').update(`${ctx.host.address}\0${ctx.host.name}\0${dest}`).digest('hex');
  return join(cacheDir(), `${key}.json`);
}

/** True when `dest` (as `remote` says) holds what `source` (as `local` says) held when we last
 * uploaded or compared it. */
export function sameAsRecorded(ctx: TaskContext, dest: string, source: string, local: LocalIdentity, remote: RemoteIdentity): boolean {
  if (!remote.exists || remote.mtime === undefined) return false;
  let e: Entry;
  try {
    e = JSON.parse(readFileSync(entryFile(ctx, dest), 'utf8')) as Entry;
  } catch {
    return false;
  }
  return e.v === 1 && e.source === source
    && e.local.size === local.size && e.local.mtimeNs === local.mtimeNs && e.local.ctimeNs === local.ctimeNs && e.local.ino === local.ino && e.local.dev === local.dev
    && e.remote.size === remote.size && e.remote.mtime === remote.mtime && e.remote.ctime === remote.ctime && e.remote.ino === remote.ino;
}

/** Records that `dest` now holds `source`'s content (temp file + rename; a failure only costs a
 * hash next time). */
export function record(ctx: TaskContext, dest: string, source: string, local: LocalIdentity, remote: RemoteIdentity): void {
  if (!remote.exists || remote.mtime === undefined || remote.ctime === undefined || remote.ino === undefined) return;
  const entry: Entry = { v: 1, source, local, remote: { size: remote.size ?? -1, mtime: remote.mtime, ctime: remote.ctime, ino: remote.ino } };
  const file = entryFile(ctx, dest);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(cacheDir(), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}
