// Shared by the cli-*/engine-* tests: run the CLI in a child process (through tsx, so no build
// is needed) and make throwaway projects with `connection: local` hosts in a temp dir.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = `const { main } = await import(${JSON.stringify(join(root, 'runner', 'cli', 'index.ts'))}); process.exitCode = await main(process.argv.slice(1));`;

/** The built CLI when dist/ is newer than every source (3x faster to start), else the sources via tsx. */
function newest(dir: string): number {
  let m = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) m = Math.max(m, newest(p));
    else if (e.name.endsWith('.ts')) m = Math.max(m, statSync(p).mtimeMs);
  }
  return m;
}
// tsx by its path: a test may run the CLI from a directory outside the repository.
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const built = join(root, 'dist', 'runner', 'cli', 'index.js');
const useDist = existsSync(built) && statSync(built).mtimeMs >= Math.max(newest(join(root, 'runner')), newest(join(root, 'tasks')));
const argvFor = (args: string[]): string[] => (useDist
  ? [join(root, 'bin', 'rancher-play.js'), ...args]
  // `--`: else node takes the CLI's own --help/--version for itself.
  : ['--import', tsxLoader, '--input-type=module', '-e', entry, '--', ...args]);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  const r = spawnSync(process.execPath, argvFor(args), {
    cwd: opts.cwd ?? root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...opts.env }, maxBuffer: 32 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Async variant (for tests that signal the child). */
export function cliAsync(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return spawn(process.execPath, argvFor(args), {
    cwd: opts.cwd ?? root, env: { ...process.env, NO_COLOR: '1', ...opts.env },
  });
}

/** The command line that runs the CLI, for `script -qec` (pseudo-TTY). */
export function cliShell(args: string[]): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, ...argvFor(args)].map(q).join(' ');
}

const made: string[] = [];
// Temp projects hold keys and secrets: gone when the test file's process ends, pass or fail.
process.once('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A temp directory under the system's, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

export interface Project {
  dir: string;
  /** Where tasks write (the tests' observable side effects). */
  work: string;
  inventory: string;
  write(rel: string, text: string): string;
}

/** A temp project: inventory with `hosts` local hosts (h1..hN) in group `web`. */
export function project(hosts = 2, extraInventory = ''): Project {
  const dir = tempDir('rp-cli-');
  const work = join(dir, 'work');
  mkdirSync(work);
  const write = (rel: string, text: string): string => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    return p;
  };
  const names = Array.from({ length: hosts }, (_, i) => `h${i + 1}`);
  const inventory = write('inventory.yml', [
    'hosts:',
    ...names.map((n) => `  ${n}: { connection: local }`),
    'groups:',
    `  web: { hosts: [${names.join(', ')}] }`,
    'vars:',
    `  work: ${work}`,
    extraInventory,
  ].join('\n'));
  return { dir, work, inventory, write };
}

export interface JsonTaskEvent {
  event: 'task';
  play: string;
  task: string;
  id: string;
  host: string;
  status: string;
  changed: boolean;
  msg: string;
  check?: boolean;
  diff?: unknown;
  duration_ms: number;
  start_ms: number;
  end_ms: number;
}
export interface JsonRecap {
  event: 'recap';
  hosts: Record<string, { ok: number; changed: number; failed: number; skipped: number; unreachable: number }>;
}

/** Parses --json output line by line; throws on any line that is not one JSON object. */
export function events(stdout: string): { tasks: JsonTaskEvent[]; recap: JsonRecap } {
  const lines = stdout.split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((l) => JSON.parse(l) as JsonTaskEvent | JsonRecap);
  const last = parsed[parsed.length - 1];
  if (!last || last.event !== 'recap') throw new Error(`last event is not a recap:\n${stdout}`);
  return { tasks: parsed.filter((e): e is JsonTaskEvent => e.event === 'task'), recap: last };
}

export const totalChanged = (r: JsonRecap): number => Object.values(r.hosts).reduce((n, c) => n + c.changed, 0);
