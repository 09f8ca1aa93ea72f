// backup-kubeconfig: after `rke up`, keeps copies of what an upgrade or restore needs — the
// kubeconfig, the .rkestate and the cluster config — in <dir>/<UTC timestamp>/ with a SHA256SUMS
// file (sha256sum format), files 0600 in a 0700 directory, the newest `keep` kept. A new copy is
// made only when the newest backup differs. `verify: true` checks the newest backup instead.
// `upload: { dest }` with `delegate: host`, in a play whose hosts are the backup hosts, copies
// the newest (checksum-verified) controller backup to <dest>/<same timestamp>/ on each of them,
// 0600 files in 0700 directories, keeping the newest `keep` there too; ok when that copy already
// matches its SHA256SUMS.
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { defineTask, type Applied, type Probe, type TaskContext } from '../runner/sdk/index.js';
import { rkeOutputs, type RkeState } from './rke-up.js';
import { RKE_FEATURES, rkeHas } from './_support-matrix.js';
import { sha256 } from './_file.js';

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
      required: ['dest'],
      properties: {
        dest: { type: 'string', description: 'Backup root on the backup host (absolute); each backup lands in <dest>/<timestamp>/.' },
      },
      description: 'Copy the newest controller backup (from `dir`) to the target host of the play instead of making one; ' +
        'needs `delegate: host`. Use it in a play on the backup host(s) after the play that makes the backup. ' +
        '`keep` applies there as well.',
    },
    delegate: {
      type: 'string', enum: ['host'],
      description: 'host: run on the target host of the play (only with upload); without it the task runs on the controller.',
    },
  },
} as const;

const STAMP = /^\d{8}T\d{6}Z(-\d+)?$/;
const SUMS = 'SHA256SUMS';

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
    const out: string[] = [];
    if (params.upload && params.delegate !== 'host') {
      out.push('backup-kubeconfig.upload needs delegate: host (the upload runs on the backup hosts the play targets)');
    }
    if (params.delegate === 'host' && !params.upload) {
      out.push('backup-kubeconfig.delegate: host is only for upload (backups are made on the controller)');
    }
    if (params.upload && params.verify) out.push('backup-kubeconfig: upload and verify cannot be combined');
    if (params.upload && !params.upload.dest.startsWith('/')) out.push(`backup-kubeconfig.upload.dest must be an absolute path, got "${params.upload.dest}"`);
    return out;
  },
  async probe(ctx, params) {
    const config = ctx.resolve(params.config);
    const root = params.dir ? ctx.resolve(params.dir) : join(dirname(config), 'backups');
    const keep = params.keep;
    const q = ctx.quote;
    if (params.upload) return probeUpload(ctx, root, params.upload.dest.replace(/\/+$/, '') || '/', keep);
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
    // RKE before v0.2.0 writes no .rkestate (its state lives in the cluster): rke-up's record says
    // which RKE built the cluster.
    let last: Partial<RkeState> = {};
    try {
      last = JSON.parse((await ctx.readLocal(out.state))?.toString('utf8') ?? '{}') as Partial<RkeState>;
    } catch {
      last = {};
    }
    const noState = typeof last.rke_version === 'string' && /^v?\d/.test(last.rke_version) && !rkeHas(last.rke_version, 'rkestate');
    for (const p of [out.kubeconfig, out.rkestate, config]) {
      const data = await ctx.readLocal(p);
      if (data) files.push({ name: basename(p), data });
      else if (!(noState && p === out.rkestate)) missing.push(p);
    }
    if (noState && !files.some((f) => f.name === basename(out.rkestate))) {
      ctx.log(`RKE ${last.rke_version} keeps no ${basename(out.rkestate)} (from ${RKE_FEATURES.rkestate.since}: ${RKE_FEATURES.rkestate.source}); backing up the rest`);
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
    if (params.upload) return applyUpload(ctx, probe.state as Upload);
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


interface Upload {
  dest: string;
  name: string;
  files: { name: string; data: Buffer }[];
  sums: string;
  copy: boolean;
  /** Why the copy is (re)made: shown after apply too. */
  why: string[];
  prune: string[];
}

/** The newest backup on the controller, read with `readdir` because the task's commands run on
 * the backup host in upload mode. */
async function localBackups(root: string): Promise<string[]> {
  try {
    return (await readdir(root)).filter((n) => STAMP.test(n)).sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function probeUpload(ctx: TaskContext, root: string, dest: string, keep: number): Promise<Probe<State | Upload>> {
  const name = (await localBackups(root)).at(-1);
  if (!name) {
    if (ctx.check) return { changed: true, msg: `would upload the newest backup from ${root} to ${ctx.host.name}:${dest}/ (none made yet)` };
    return { changed: false, status: 'failed' as const, msg: `no backup in ${root} to upload to ${ctx.host.name}: back up first` };
  }
  const src = join(root, name);
  const sums = await ctx.readLocal(join(src, SUMS));
  if (!sums) return { changed: false, status: 'failed' as const, msg: `${src}/${SUMS} is missing: not uploading a backup that cannot be trusted` };
  const listed = parseSums(sums.toString('utf8'));
  const files: { name: string; data: Buffer }[] = [];
  for (const [f, hex] of listed) {
    const data = await ctx.readLocal(join(src, f));
    if (!data || sha256(data) !== hex) {
      return { changed: false, status: 'failed' as const, msg: `${src}/${f} ${data ? 'does not match its checksum' : 'is missing'}: not uploading a corrupt backup` };
    }
    files.push({ name: f, data });
  }
  if (files.length === 0) return { changed: false, status: 'failed' as const, msg: `${src}/${SUMS} lists no files` };

  // The remote copy is current when its SHA256SUMS is the same, every file matches it and the
  // modes are 0700/0600; anything else is copied again.
  const q = ctx.quote;
  const target = `${dest}/${name}`;
  const why: string[] = [];
  const remoteSums = await ctx.readFile(`${target}/${SUMS}`);
  if (remoteSums === null) why.push('not there');
  else if (remoteSums !== sums.toString('utf8')) why.push(`${SUMS} differs`);
  else {
    const check = await ctx.run(`cd ${q(target)} && sha256sum -c --quiet ${SUMS}`);
    if (check.code !== 0) why.push(`files do not match ${SUMS}`);
    const modes = await ctx.run(`stat -c '%a %n' ${q(target)} ${files.map((f) => q(`${target}/${f.name}`)).join(' ')} ${q(`${target}/${SUMS}`)}`);
    for (const line of modes.stdout.split('\n').filter(Boolean)) {
      const [mode, path] = [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)];
      const want = path === target ? '700' : '600';
      if (mode !== want) why.push(`${path} has mode ${mode}`);
    }
  }
  const ls = await ctx.run(`[ -d ${q(dest)} ] && ls -1 ${q(dest)} || true`);
  const remote = ls.stdout.split('\n').filter((n) => STAMP.test(n));
  const after = [...new Set([...remote, name])].sort();
  const prune = after.length > keep ? after.slice(0, after.length - keep).filter((n) => n !== name) : [];
  const copy = why.length > 0;
  if (!copy && prune.length === 0) {
    return { changed: false, msg: `${ctx.host.name}:${target} already matches ${src}`, data: { backup: src, uploaded: target } };
  }
  return {
    changed: true,
    msg: [copy ? `would upload ${src} to ${ctx.host.name}:${target} (${why.join('; ')})` : '',
      prune.length ? `would remove ${prune.length} old backup(s) on ${ctx.host.name}` : ''].filter(Boolean).join('; '),
    state: { dest, name, files, sums: sums.toString('utf8'), copy, why, prune } satisfies Upload,
  };
}

async function applyUpload(ctx: TaskContext, u: Upload): Promise<Applied> {
  const q = ctx.quote;
  const target = `${u.dest}/${u.name}`;
  if (u.copy) {
    const mk = await ctx.run(`mkdir -p -m 700 ${q(u.dest)} && mkdir -p -m 700 ${q(target)} && chmod 700 ${q(target)} && rm -f ${q(`${target}/${SUMS}`)}`);
    if (mk.code !== 0) return { status: 'failed' as const, msg: `cannot create ${ctx.host.name}:${target}: ${mk.stderr.trim()}` };
    for (const f of u.files) await ctx.writeFile(`${target}/${f.name}`, f.data, { mode: 0o600 });
    // Checksums last: a copy without SHA256SUMS is visibly incomplete (and is redone next run).
    await ctx.writeFile(`${target}/${SUMS}`, u.sums, { mode: 0o600 });
  }
  for (const old of u.prune) if (STAMP.test(old)) await ctx.run(`rm -rf ${q(`${u.dest}/${old}`)}`);
  const msg = [u.copy ? `uploaded ${u.files.length} files to ${ctx.host.name}:${target} (${u.why.join('; ')})` : '',
    u.prune.length ? `removed ${u.prune.length} old backup(s) on ${ctx.host.name}` : ''].filter(Boolean).join('; ');
  return { msg, data: { uploaded: target } };
}
