// Shared by the benchmarks (bench/run.mjs, bench/transfer.mjs, bench/startup.mjs): building
// dist/, running and sampling processes, medians, what machine this ran on.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(5);
}

export function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Newest mtime under a source dir (to decide whether dist/ is stale). */
function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

export function ensureBuild() {
  const cli = join(ROOT, 'dist', 'runner', 'cli', 'index.js');
  const lab = join(ROOT, 'dist', 'lab', 'lab.js');
  const bundle = join(ROOT, 'dist', 'cli.cjs');
  const src = Math.max(...['runner', 'tasks', 'lab'].map((d) => newest(join(ROOT, d))));
  if (existsSync(cli) && existsSync(lab) && statSync(cli).mtimeMs >= src) {
    if (!existsSync(bundle) || statSync(bundle).mtimeMs < statSync(cli).mtimeMs) cliBundle();
    return;
  }
  console.log('bench: building (tsc)…');
  // tsc emits even when some file has type errors; what matters is that dist/ is there.
  const r = sh(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.json')]);
  if (!existsSync(cli) || !existsSync(lab)) die(`build failed:\n${r.out.slice(-3000)}`);
  if (r.code !== 0) console.log('bench: tsc reported type errors (dist/ was emitted anyway)');
  // The prebuilt validators, as `npm run build` makes them (without, start-up compiles them).
  const v = sh(process.execPath, [join(ROOT, 'scripts', 'validators.mjs')]);
  if (v.code !== 0) console.log(`bench: scripts/validators.mjs failed; schemas compile at run time:\n${v.out.slice(-1000)}`);
  cliBundle();
}

/** dist/cli.cjs and its code cache, as `npm run build` makes them (without, bin/ runs dist/). */
function cliBundle() {
  const b = sh(process.execPath, [join(ROOT, 'scripts', 'cli-bundle.mjs')]);
  if (b.code !== 0) console.log(`bench: scripts/cli-bundle.mjs failed; bin/rancher-play.js runs dist/:\n${b.out.slice(-1000)}`);
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Summed RSS (KiB) of pid and all its descendants, from /proc. */
export function treeRss(root) {
  const kids = new Map();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      (kids.get(ppid) ?? kids.set(ppid, []).get(ppid)).push(Number(p));
    } catch { /* gone */ }
  }
  let sum = 0;
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop();
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]);
    } catch { /* gone */ }
    todo.push(...(kids.get(pid) ?? []));
  }
  return sum;
}

/** Runs a command to its end: wall time (ms), exit code, output, and the peak RSS (KiB) of its
 * process tree sampled from /proc every `sampleMs` (0: no sampling). */
export function sampled(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', reject);
    let peakKiB = 0;
    const iv = opts.sampleMs ? setInterval(() => { peakKiB = Math.max(peakKiB, treeRss(child.pid)); }, opts.sampleMs) : undefined;
    child.on('close', (code) => {
      if (iv) clearInterval(iv);
      resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, peakKiB, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/**
 * The lab's API as the benchmarks use it: labUp/labDown from the build, and labExec (run a
 * command inside a lab host) from the lab's test hooks, which the build leaves out — loaded
 * from the source with tsx (a dev dependency, as the benchmarks run from a checkout).
 */
export async function loadLab() {
  const lab = await import(join(ROOT, 'dist', 'lab', 'lab.js'));
  const { tsImport } = await import('tsx/esm/api');
  const { labExec } = await tsImport(join(ROOT, 'lab', 'testing.ts'), import.meta.url);
  return { ...lab, labExec };
}

export const TIME = '/usr/bin/time';

/**
 * sampled(), plus the CPU time (user + system, ms) of the command and the children it waited
 * for, from /usr/bin/time (NaN without it). On a machine shared with other work, waiting for a
 * core inflates the wall time, far less the CPU time. The sampled tree includes time(1) itself
 * (about 2 MB).
 */
export async function cpuTimed(cmd, args, opts = {}) {
  if (!existsSync(TIME)) return { ...(await sampled(cmd, args, opts)), cpuMs: NaN };
  const out = join(opts.tmp ?? tmpdir(), `time-${process.pid}-${process.hrtime.bigint()}`);
  const r = await sampled(TIME, ['-f', '%U %S', '-o', out, cmd, ...args], opts);
  try {
    const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    return { ...r, cpuMs: (user + sys) * 1000 };
  } finally {
    rmSync(out, { force: true });
  }
}

export function machine() {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    kernel: release(),
  };
}

export const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
export const fmtS = (ms) => `${(ms / 1000).toFixed(2)}s`;
export const fmtMB = (kib) => `${(kib / 1024).toFixed(0)} MB`;

/** Results as JSON, written beside the target and renamed (never half a file). */
export function writeJson(file, value) {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
  console.log(`bench: results written to ${file}`);
}

/** The end of every benchmark script: a failure prints its stack and exits 1. */
export function runMain(main) {
  main().catch((e) => {
    console.error(`bench: ${e.stack ?? e}`);
    process.exit(1);
  });
}

/** `--help`: the script's header comment (its first `lines` lines after the shebang), then exit. */
export function usage(metaUrl, lines) {
  console.log(readFileSync(fileURLToPath(metaUrl), 'utf8').split('\n').slice(1, 1 + lines).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}
