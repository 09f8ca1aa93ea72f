// `command`: run a shell command. Not idempotent by itself — `creates`/`removes` make it so
// (like Ansible). Like every task it only probes in check mode, so a command runs under --check
// only with `check_mode: false` on its item; `changed_when`/`failed_when` are judged by the
// executor over the result (rc, stdout, stderr) and change only the report.
import { defineTask, type Probe, type Applied, type TaskContext } from '../runner/sdk/index.js';

interface CommandParams {
  cmd: string;
  chdir?: string;
  env?: Record<string, string>;
  changed_when?: string | boolean;
  failed_when?: string;
}

async function runCommand(ctx: TaskContext, p: CommandParams): Promise<Applied> {
  const r = await ctx.run(p.cmd, { cwd: p.chdir, env: p.env, onLine: (l) => ctx.log(l) });
  const data = { rc: r.code, stdout: r.stdout.replace(/\n$/, ''), stderr: r.stderr.replace(/\n$/, '') };
  if (r.code !== 0) {
    const why = data.stderr.split('\n').filter(Boolean).slice(-3).join(' | ') || data.stdout.split('\n').slice(-1)[0] || '';
    return { status: 'failed', msg: `rc=${r.code}${why ? `: ${why}` : ''}`, data };
  }
  const firstLine = data.stdout.split('\n')[0] ?? '';
  return { changed: true, msg: firstLine ? `rc=${r.code}: ${firstLine.slice(0, 120)}` : `rc=${r.code}`, data };
}

export default defineTask({
  id: 'command',
  summary: 'Run a shell command (idempotent with creates/removes; changed_when decides "changed")',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['cmd'],
    properties: {
      cmd: { type: 'string', description: 'Command line, run with sh -c.' },
      creates: { type: 'string', description: 'Skip when this path exists (relative to chdir).' },
      removes: { type: 'string', description: 'Skip when this path does not exist.' },
      chdir: { type: 'string', description: 'Working directory.' },
      env: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra environment variables.' },
      changed_when: {
        anyOf: [{ type: 'string' }, { type: 'boolean' }],
        description: 'Expression over rc, stdout, stderr deciding whether the run changed something (default true). Changes only the report: under --check the command still runs only with `check_mode: false` on its item.',
      },
      failed_when: { type: 'string', description: 'Expression over rc, stdout, stderr deciding failure (default rc != 0).' },
    },
  },
  async probe(ctx, p): Promise<Probe> {
    const test = async (path: string): Promise<boolean> => {
      const r = await ctx.run(`test -e ${ctx.quote(path)}`, { cwd: p.chdir });
      return r.code === 0;
    };
    if (p.creates && (await test(p.creates))) return { changed: false, msg: `skipped: ${p.creates} exists`, data: { rc: 0, stdout: '', stderr: '' } };
    if (p.removes && !(await test(p.removes))) return { changed: false, msg: `skipped: ${p.removes} does not exist`, data: { rc: 0, stdout: '', stderr: '' } };
    return { changed: true, msg: `would run: ${p.cmd}` };
  },
  async apply(ctx, p): Promise<Applied | void> {
    return runCommand(ctx, p);
  },
});
