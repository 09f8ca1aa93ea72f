// `copy`: put a file on the target from inline `content` or a controller file `src`; writes only
// when content, mode or owner differ.
import { defineTask, type Probe, type Applied } from '../runner/index.js';
import { modeSchema, probeFile, writeWanted, type FileWant } from './_file.js';

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
  async probe(ctx, p): Promise<Probe<FileWant>> {
    let content: Buffer;
    if (p.content !== undefined) content = Buffer.from(p.content);
    else {
      const src = ctx.resolve(p.src ?? '');
      const b = await ctx.readLocal(src);
      if (b === null) return { changed: false, status: 'failed', msg: `src ${src} not found on the controller` };
      content = b;
    }
    const want: FileWant = { dest: p.dest, content, mode: p.mode, owner: p.owner };
    const f = await probeFile(ctx, want);
    if (!f.changes.length) return { changed: false, msg: `${p.dest} up to date` };
    return { changed: true, msg: `${p.dest}: ${f.changes.join(', ')}`, diff: f.diff, state: want };
  },
  async apply(ctx, _p, probe): Promise<Applied | void> {
    await writeWanted(ctx, probe.state!);
  },
});
