// backup-kubeconfig: after `rke up`, keeps copies of what an upgrade or restore needs — the
// kubeconfig, the .rkestate and the cluster config — in <dir>/<UTC timestamp>/ with a SHA256SUMS
// file (sha256sum format), files 0600 in a 0700 directory, the newest `keep` kept. A new copy is
// made only when the newest backup differs. `verify: true` checks the newest backup instead.
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { defineTask, type TaskContext } from '../runner/task.js';
import { rkeOutputs } from './rke-up.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['config'],
  properties: {
    config: { type: 'string', description: 'The cluster config (rancher-cluster.yml) that rke up used, on the controller.' },
    dir: { type: 'string', description: 'Backup root on the controller (default: backups/ beside the config).' },
    keep: { type: 'integer', minimum: 1, default: 5, description: 'How many backups to keep (oldest removed first).' },
    verify: { type: 'boolean', default: false, description: "Verify the newest backup's SHA256SUMS and modes instead of creating one." },
    upload: {
      type: 'object',
      additionalProperties: false,
      properties: { host: { type: 'string' }, path: { type: 'string' } },
      description: 'Not yet supported: copy the backup to another host (fails clearly when set).',
    },
  },
} as const;

const STAMP = /^\d{8}T\d{6}Z(-\d+)?$/;
const SUMS = 'SHA256SUMS';

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export function sumsText(files: { name: string; data: Buffer }[]): string {
  return files.map((f) => `${sha256(f.data)}  ${f.name}\n`).join('');
}

/** `hex  name` lines (sha256sum output) → name → hex. */
export function parseSums(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const r = /^([0-9a-f]{64}) [ *](.+)$/.exec(line.trim());
    if (r) m.set(r[2]!, r[1]!);
  }
  return m;
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function backups(ctx: TaskContext, root: string): Promise<string[]> {
  const r = await ctx.run(`[ -d ${ctx.quote(root)} ] && ls -1 ${ctx.quote(root)} || true`);
  return r.stdout.split('\n').filter((n) => STAMP.test(n)).sort();
}

interface State {
  files: { name: string; data: Buffer }[];
  prune: string[];
  create: boolean;
}

export default defineTask({
  id: 'backup-kubeconfig',
  summary: 'Back up kube_config_<name>.yml, <name>.rkestate and the cluster config with SHA256SUMS (0600/0700), keep N',
  schema,
  runsOn: 'controller',
  precheck(params) {
    return params.upload ? ['backup-kubeconfig.upload is not supported yet: copy the backup directory yourself'] : [];
  },
  async probe(ctx, params) {
    const config = ctx.resolve(params.config);
    const root = params.dir ? ctx.resolve(params.dir) : join(dirname(config), 'backups');
    const keep = params.keep ?? 5;
    const q = ctx.quote;
    const list = await backups(ctx, root);

    if (params.verify) {
      const newest = list.at(-1);
      if (!newest) return { changed: false, status: 'failed', msg: `no backup in ${root} to verify` };
      const dir = join(root, newest);
      const sums = await ctx.readLocal(join(dir, SUMS));
      if (!sums) return { changed: false, status: 'failed', msg: `${dir}/${SUMS} is missing: this backup cannot be trusted` };
      const problems: string[] = [];
      const expected = parseSums(sums.toString('utf8'));
      if (expected.size === 0) problems.push(`${dir}/${SUMS} lists no files`);
      for (const [name, hex] of expected) {
        const data = await ctx.readLocal(join(dir, name));
        if (!data) problems.push(`${name} is missing`);
        else if (sha256(data) !== hex) problems.push(`${name} does not match its checksum (changed or corrupt)`);
      }
      const modes = await ctx.run(`stat -c '%a %n' ${q(dir)} ${q(dir)}/*`);
      for (const line of modes.stdout.split('\n').filter(Boolean)) {
        const [mode, path] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
        const want = path === dir ? '700' : '600';
        if (mode !== want) problems.push(`${path} has mode ${mode}, expected ${want}`);
      }
      if (problems.length) return { changed: false, status: 'failed', msg: `backup ${dir}: ${problems.join('; ')}` };
      return { changed: false, msg: `backup ${dir} verified (${expected.size} files match ${SUMS})`, data: { backup: dir } };
    }

    const out = rkeOutputs(config);
    const files: { name: string; data: Buffer }[] = [];
    const missing: string[] = [];
    for (const p of [out.kubeconfig, out.rkestate, config]) {
      const data = await ctx.readLocal(p);
      if (data) files.push({ name: basename(p), data });
      else missing.push(p);
    }
    if (missing.length) {
      if (ctx.check) return { changed: true, msg: `would back up into ${root}/<timestamp>/ (${missing.map((m) => basename(m)).join(', ')} not created yet)` };
      return { changed: false, status: 'failed', msg: `cannot back up: ${missing.join(', ')} missing (run rke-up first)` };
    }
    const want = sumsText(files);
    const newest = list.at(-1);
    const current = newest ? await ctx.readLocal(join(root, newest, SUMS)) : null;
    const create = current?.toString('utf8') !== want;
    const after = create ? [...list, 'new'] : list;
    const prune = after.length > keep ? after.slice(0, after.length - keep) : [];
    if (!create && prune.length === 0) {
      return { changed: false, msg: `newest backup ${join(root, newest!)} already matches`, data: { backup: join(root, newest!) } };
    }
    return {
      changed: true,
      msg: [create ? `would back up ${files.map((f) => f.name).join(', ')} into ${root}/<timestamp>/` : '',
        prune.length ? `would remove ${prune.length} old backup(s)` : ''].filter(Boolean).join('; '),
      state: { files, prune, create } satisfies State,
    };
  },
  async apply(ctx, params, probe) {
    const { files, prune, create } = probe.state as State;
    const config = ctx.resolve(params.config);
    const root = params.dir ? ctx.resolve(params.dir) : join(dirname(config), 'backups');
    const q = ctx.quote;
    let made: string | undefined;
    if (create) {
      // Names sort in creation order: within one second (or after a clock step back) the newest
      // name gets the next zero-padded suffix.
      const newest = (await backups(ctx, root)).at(-1);
      let name = stamp();
      if (newest && newest >= name) {
        const m = /^(.*Z)(?:-(\d+))?$/.exec(newest)!;
        name = `${m[1]}-${String(Number(m[2] ?? 0) + 1).padStart(3, '0')}`;
      }
      made = join(root, name);
      const mk = await ctx.run(`mkdir -p -m 700 ${q(root)} && mkdir -m 700 ${q(made)}`);
      if (mk.code !== 0) return { status: 'failed', msg: `cannot create ${made}: ${mk.stderr.trim()}` };
      for (const f of files) await ctx.writeFile(join(made, f.name), f.data, { mode: 0o600 });
      // Checksums last: a backup without SHA256SUMS is visibly incomplete.
      await ctx.writeFile(join(made, SUMS), sumsText(files), { mode: 0o600 });
    }
    for (const old of prune) if (STAMP.test(old)) await ctx.run(`rm -rf ${q(join(root, old))}`);
    const msg = [made ? `backed up ${files.length} files into ${made}` : '', prune.length ? `removed ${prune.length} old backup(s)` : '']
      .filter(Boolean).join('; ');
    return { msg, data: made ? { backup: made } : {} };
  },
});
