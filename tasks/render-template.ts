// `render-template`: Handlebars `src` (controller file) → `dest`, written atomically and only
// when content/mode/owner differ; optional `validate` command runs on a temp copy first, so a
// bad render never replaces a good file. `delegate: controller` writes on the controller.
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { defineTask, renderTemplate, type Probe, type Applied } from '../runner/sdk/index.js';
import { modeSchema, parseMode, probeFile, writeWanted, type FileWant } from './_file.js';
import { shippedTemplate } from './templates/index.js';

export default defineTask({
  id: 'render-template',
  summary: 'Render a Handlebars template to dest (validated, atomic, only when different)',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['src', 'dest'],
    properties: {
      src: { type: 'string', description: 'Template file on the controller, relative to the playbook directory (or a shipped template name).' },
      dest: { type: 'string', description: 'Destination path (on the host, or the controller with delegate: controller).' },
      mode: modeSchema,
      owner: { type: 'string', description: 'user or user:group.' },
      validate: { type: 'string', description: 'Command run on the rendered temp file before it replaces dest; %s is the temp path.' },
      vars: { type: 'object', description: 'Extra variables for this template only.' },
      delegate: { type: 'string', enum: ['controller'], description: 'Write the file on the controller instead of the host.' },
    },
  },
  async probe(ctx, p): Promise<Probe<FileWant>> {
    const path = ctx.resolve(p.src);
    const text = (await ctx.readLocal(path))?.toString('utf8') ?? (await shippedTemplate(p.src, (f) => ctx.readLocal(f)));
    if (text === null) return { changed: false, status: 'failed', msg: `template ${path} not found on the controller` };
    const scope = { ...ctx.vars, ...(p.vars ?? {}), __dir: ctx.playbookDir };
    const rendered = renderTemplate(text, scope, `render-template ${p.src}`);
    const dest = ctx.resolve(p.dest);
    const want: FileWant = { dest, content: Buffer.from(rendered), mode: p.mode, owner: p.owner };
    const f = await probeFile(ctx, want);
    if (!f.changes.length) return { changed: false, msg: `${dest} up to date` };
    return { changed: true, msg: `${dest}: ${f.changes.join(', ')}`, diff: f.diff, state: want };
  },
  async apply(ctx, p, probe): Promise<Applied | void> {
    const want = probe.state!;
    if (!p.validate) return void (await writeWanted(ctx, want));
    const tmp = join(dirname(want.dest), `.${basename(want.dest)}.rp-validate-${randomBytes(4).toString('hex')}`);
    await ctx.writeFile(tmp, want.content, { mode: want.mode ? parseMode(want.mode) : 0o600, owner: want.owner });
    const cmd = p.validate.includes('%s') ? p.validate.split('%s').join(ctx.quote(tmp)) : `${p.validate} ${ctx.quote(tmp)}`;
    const r = await ctx.run(cmd);
    if (r.code !== 0) {
      await ctx.run(`rm -f ${ctx.quote(tmp)}`);
      const why = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      return { status: 'failed', msg: `validate failed (rc=${r.code}), ${want.dest} left unchanged: ${why}` };
    }
    const mv = await ctx.run(`mv -f ${ctx.quote(tmp)} ${ctx.quote(want.dest)}`);
    if (mv.code !== 0) {
      await ctx.run(`rm -f ${ctx.quote(tmp)}`);
      return { status: 'failed', msg: `cannot replace ${want.dest}: ${mv.stderr.trim()}` };
    }
  },
});
