// `copy`: put a file on the target from inline `content` or a controller file `src`; writes only
// when content, mode or owner differ. A big `src` is hashed and uploaded as a stream, so its size
// is bounded by the disks, not by the controller's memory.
import { stat } from 'node:fs/promises';
import { defineTask, type Probe, type Applied, type TaskContext } from '../runner/sdk/index.js';
import { formatBytes, formatRate } from '../runner/sdk/index.js';
import { isPrivateMode, modeSchema, probeFile, sha256File, STREAM_MIN_BYTES, writeWanted, type FileWant, type SourceWant } from './_file.js';
import type { FileState } from './_facts.js';
import { fileState } from './_facts.js';
import { fileIdentity, localIdentity, record, sameAsRecorded } from './_upload-cache.js';

/** Content recorded as uploaded and unchanged on both sides since: no checksum was computed. */
const RECORDED = 'same-as-recorded-upload';

/**
 * A big controller file: the destination's metadata first (one stat, no checksum); nothing is
 * hashed when it does not exist (it is uploaded anyway), when the sizes differ, or when both
 * sides are as our last upload left them. Otherwise both sides are hashed, at the same time.
 */
async function probeBig(ctx: TaskContext, src: string, dest: string, attrs: { dest: string; mode?: string; owner?: string }): Promise<{ want: SourceWant; state: FileState }> {
  const [local, remote] = await Promise.all([localIdentity(src), ctx.fact(fileIdentity, { path: dest })]);
  const want = (sha256: string): SourceWant => ({ ...attrs, source: { path: src, size: local.size, sha256 } });
  const meta: FileState = { exists: remote.exists, mode: remote.mode, modeText: remote.modeText, user: remote.user, group: remote.group };
  if (!remote.exists) return { want: want(''), state: meta };
  if (remote.size !== local.size) return { want: want('size differs'), state: { ...meta, sha256: 'other size' } };
  if (sameAsRecorded(ctx, dest, src, local, remote)) return { want: want(RECORDED), state: { ...meta, sha256: RECORDED } };
  const [sum, full] = await Promise.all([sha256File(src), ctx.fact(fileState, { path: dest })]);
  // Equal content found by hashing is recorded too: the next run stats only.
  if (sum === full.sha256) record(ctx, dest, src, local, remote);
  return { want: want(sum), state: full };
}

export default defineTask({
  id: 'copy',
  summary: 'Copy inline content or a controller file to dest (atomic, only when different)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['dest'],
    oneOf: [{ required: ['content'] }, { required: ['src'] }],
    properties: {
      content: { type: 'string', description: 'File content (exclusive with src).' },
      src: { type: 'string', description: 'Controller file, relative to the playbook directory.' },
      dest: { type: 'string', description: 'Absolute path on the target.' },
      mode: modeSchema,
      owner: { type: 'string', description: 'user or user:group.' },
    },
  },
  async probe(ctx, p): Promise<Probe<FileWant | SourceWant>> {
    const attrs: { dest: string; mode?: string; owner?: string } = { dest: p.dest, mode: p.mode, owner: p.owner };
    let want: FileWant | SourceWant;
    if (p.content !== undefined) want = { ...attrs, content: Buffer.from(p.content) };
    else {
      const src = ctx.resolve(p.src ?? '');
      const st = await stat(src).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      if (st === null) return { changed: false, status: 'failed', msg: `src ${src} not found on the controller` };
      if (st.isDirectory()) return { changed: false, status: 'failed', msg: `src ${src} is a directory` };
      // A private source (a key, a kubeconfig) stays private: without `mode:` it keeps its own,
      // and a private mode also keeps its content out of every diff.
      if (p.mode === undefined && isPrivateMode(st.mode & 0o7777)) attrs.mode = `0${(st.mode & 0o777).toString(8).padStart(3, '0')}`;
      if (st.size >= STREAM_MIN_BYTES) {
        const { want: w, state } = await probeBig(ctx, src, p.dest, attrs);
        const f = await probeFile(ctx, w, state);
        if (!f.changes.length) return { changed: false, msg: `${p.dest} up to date` };
        return { changed: true, msg: `${p.dest}: ${f.changes.join(', ')}`, diff: f.diff, state: w };
      } else {
        const b = await ctx.readLocal(src);
        if (b === null) return { changed: false, status: 'failed', msg: `src ${src} not found on the controller` };
        want = { ...attrs, content: b };
      }
    }
    const f = await probeFile(ctx, want);
    if (!f.changes.length) return { changed: false, msg: `${p.dest} up to date` };
    return { changed: true, msg: `${p.dest}: ${f.changes.join(', ')}`, diff: f.diff, state: want };
  },
  async apply(ctx, _p, probe): Promise<Applied | void> {
    const want = probe.state!;
    const before = 'source' in want ? await localIdentity(want.source.path) : undefined;
    const sent = await writeWanted(ctx, want);
    if ('source' in want && before) {
      // Remember what was uploaded, so that the next run needs no hashing (unless the source
      // changed while it was being sent).
      const [remote, after] = await Promise.all([ctx.fact(fileIdentity, { path: want.dest }), localIdentity(want.source.path)]);
      if (JSON.stringify(after) === JSON.stringify(before)) record(ctx, want.dest, want.source.path, before, remote);
    }
    // Plain and JSON output have no progress bar: the result says how the transfer went.
    if (sent) return { msg: `${probe.msg} (${formatBytes(sent.bytes)} in ${(sent.ms / 1000).toFixed(1)}s, ${formatRate(sent.bytes, sent.ms)})` };
  },
});
