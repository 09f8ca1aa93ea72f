// fetch: copy a file from the target host to the controller (Ansible's fetch, flat), optionally
// with literal replacements (an RKE2 kubeconfig's https://127.0.0.1:6443 → https://FQDN:6443).
// Written atomically (temp file + rename) with `mode` (default 0600: kubeconfigs and tokens are
// credentials), only when the content or mode differ. Content is shown in --diff only when
// `secret: false`.
import { chmod, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { defineTask } from '../runner/sdk/index.js';
import { hidden, modeSchema } from './_file.js';

interface State { dest: string; content: string; mode: number; write: boolean }

export default defineTask({
  id: 'fetch',
  summary: 'Copy a file from the host to the controller (0600 by default), with optional literal replacements; only when different',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['src', 'dest'],
    properties: {
      src: { type: 'string', description: 'Absolute path on the target (read with the task\'s become).' },
      dest: { type: 'string', description: 'Path on the controller (relative to the playbook directory).' },
      mode: { ...modeSchema, default: '0600' },
      replace: {
        type: 'array', default: [],
        items: {
          type: 'object', additionalProperties: false, required: ['from', 'to'],
          properties: { from: { type: 'string', minLength: 1 }, to: { type: 'string' } },
        },
        description: 'Literal replacements applied in order, e.g. { from: "https://127.0.0.1:6443", to: "https://rancher.example.com:6443" }.',
      },
      secret: { type: 'boolean', default: true, description: 'Keep the content out of --diff and messages.' },
    },
  },
  async probe(ctx, p) {
    const q = ctx.quote;
    const r = await ctx.run(`if [ -e ${q(p.src)} ]; then cat ${q(p.src)}; else echo 'No such file or directory' >&2; exit 3; fi`);
    // A dry run ahead of the task that creates the file (a server's first start) predicts the fetch.
    if (r.code === 3 && ctx.check) return { changed: true, msg: `would fetch ${ctx.host.name}:${p.src} to ${ctx.resolve(p.dest)} (not there yet)` };
    if (r.code !== 0) return { changed: false, status: 'failed', msg: `cannot read ${p.src} on ${ctx.host.name}: ${r.stderr.trim() || `exit ${r.code}`}` };
    let content = r.stdout;
    for (const { from, to } of p.replace) content = content.split(from).join(to);
    const dest = ctx.resolve(p.dest);
    const mode = parseInt(String(p.mode), 8);
    const before = (await ctx.readLocal(dest))?.toString('utf8') ?? null;
    const curMode = before === null ? undefined : (await stat(dest)).mode & 0o777;
    const contentDiffers = before !== content;
    if (!contentDiffers && curMode === mode) return { changed: false, msg: `${dest} up to date` };
    const show = (t: string | null) => (t === null ? null : p.secret ? hidden(t) : t);
    return {
      changed: true,
      msg: `${dest}: ${before === null ? 'create' : contentDiffers ? 'update' : `mode ${curMode?.toString(8)} → ${p.mode}`} from ${ctx.host.name}:${p.src}`,
      diff: contentDiffers ? [{ path: dest, before: show(before), after: show(content) }] : undefined,
      state: { dest, content, mode, write: true } satisfies State,
    };
  },
  async apply(_ctx, _p, probe) {
    const s = probe.state as State;
    await mkdir(dirname(s.dest), { recursive: true, mode: 0o700 });
    const tmp = `${s.dest}.tmp-${process.pid}`;
    await writeFile(tmp, s.content, { mode: s.mode });
    await chmod(tmp, s.mode);
    await rename(tmp, s.dest);
  },
});
