// `rancher-play test [PATH...]`: runs custom-task tests (uvu) with what rancher-play carries — the
// task loader (jiti) and its own uvu — so a project needs nothing else installed. `'rancher-play'`,
// `'rancher-play/testing'`, `'uvu'` and `'uvu/assert'` resolve to the running rancher-play's
// copies (in a checkout, an npm install and the one-file bundle alike).
// Each file runs in its own process (the CLI itself, `test --worker FILE`): uvu keeps its suites
// in globals, and a test may chdir, exit or leave handles open without touching the others.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, formatProblem, InputError } from '../errors.js';
import { isBundled } from '../engine/embedded.js';
import { customTaskDirs, loadProblem, taskImporter } from '../engine/loader.js';
import { findPackageDir } from '../engine/task-compiler.js';

const TEST_FILE = /\.test\.[cm]?[jt]s$/;

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** What a worker reports for its file. */
export interface FileResult {
  passed: number;
  failed: number;
  skipped: number;
  /** The file (or a module it imports) did not load; the problem was printed. */
  loadError?: boolean;
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r && !r.startsWith('..') ? r : path;
}

function testsIn(dir: string): string[] {
  return readdirSync(dir).filter((f) => TEST_FILE.test(f)).sort().map((f) => join(dir, f)).filter((f) => statSync(f).isFile());
}

/**
 * The test files to run: each PATH (a file, or a directory's `*.test.ts`), or with none the test
 * files of the tasks directories `run` would load (`--tasks-dir`, else tasks/ and playbooks/tasks/).
 */
export function testFiles(paths: string[], tasksDir?: string, cwd = process.cwd()): string[] {
  if (paths.length) {
    const problems = paths.filter((p) => !existsSync(resolve(cwd, p)));
    if (problems.length) throw new InputError(problems.map((p) => ({ key: p, message: 'no such file or directory' })));
    return paths.flatMap((p) => {
      const abs = resolve(cwd, p);
      return statSync(abs).isDirectory() ? testsIn(abs) : [abs];
    });
  }
  if (tasksDir && !existsSync(resolve(cwd, tasksDir))) {
    throw new InputError([{ key: '--tasks-dir', message: `directory ${tasksDir} does not exist` }]);
  }
  const dirs = customTaskDirs({ tasksDir, cwd });
  if (!dirs.length) throw new InputError([{ key: 'tasks/', message: 'no tasks directory here (tasks/ or playbooks/tasks/); give test files or --tasks-dir' }]);
  return dirs.flatMap(testsIn);
}

function packageDir(): string {
  const root = findPackageDir(dirname(fileURLToPath(import.meta.url)), 'rancher-play');
  if (!root) throw new Error('cannot find rancher-play\'s package directory');
  return root;
}

/** The script that starts this rancher-play: the bundle file itself, or the package's bin script. */
function selfScript(): string {
  return isBundled() ? fileURLToPath(import.meta.url) : join(packageDir(), 'bin', 'rancher-play.js');
}

/**
 * How the user starts this rancher-play from the current directory, for printed hints:
 * `node rancher-play.mjs` (the bundle), `npx rancher-play` (installed in this project),
 * `rancher-play` (installed globally) or `node …/bin/rancher-play.js` (a checkout).
 */
export function invocation(cwd = process.cwd()): string {
  if (isBundled()) return `node ${shown(selfScript())}`;
  const root = packageDir();
  const parts = root.split(sep);
  const nm = parts.lastIndexOf('node_modules');
  if (nm < 0) return `node ${shown(selfScript())}`;
  const project = parts.slice(0, nm).join(sep) || sep;
  const inProject = cwd === project || cwd.startsWith(project.endsWith(sep) ? project : project + sep);
  return inProject ? 'npx rancher-play' : 'rancher-play';
}

function runFile(file: string, io: Io): Promise<FileResult> {
  return new Promise((done) => {
    let result: FileResult | undefined;
    const child = spawn(process.execPath, [...process.execArgv, selfScript(), 'test', '--worker', file], {
      stdio: ['inherit', 'pipe', 'pipe', 'ipc'],
    });
    // Piped rather than inherited so the output also reaches a caller's streams (not only fd 1/2).
    child.stdout!.on('data', (d: Buffer) => io.stdout.write(d));
    child.stderr!.on('data', (d: Buffer) => io.stderr.write(d));
    child.on('message', (m) => { result = m as FileResult; });
    child.on('close', (code, signal) => {
      if (result) return done(result);
      io.stderr.write(`${shown(file)}: the test process ended (${signal ?? `exit ${code}`}) before its tests finished\n`);
      done({ passed: 0, failed: 1, skipped: 0 });
    });
  });
}

/** Exit code: 0 all passed, 1 a test failed, 5 a file did not load (or bad PATHs). Last line `N passed, N failed`. */
export async function testCommand(paths: string[], opts: { tasksDir?: string }, io: Io): Promise<number> {
  let files: string[];
  try {
    files = testFiles(paths, opts.tasksDir);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    for (const p of e.problems) io.stderr.write(`${formatProblem(p)}\n`);
    io.stdout.write('0 passed, 0 failed\n');
    return EXIT.input;
  }
  if (!files.length) {
    io.stderr.write('no test files (*.test.ts) found\n');
    io.stdout.write('0 passed, 0 failed\n');
    return EXIT.input;
  }
  const total: FileResult = { passed: 0, failed: 0, skipped: 0 };
  let unloadable = 0;
  for (const file of files) {
    const r = await runFile(file, io);
    total.passed += r.passed;
    total.failed += r.failed;
    total.skipped += r.skipped;
    if (r.loadError) unloadable += 1;
  }
  io.stdout.write('\n');
  if (total.skipped) io.stdout.write(`${total.skipped} skipped\n`);
  if (unloadable) io.stdout.write(`${unloadable} file${unloadable > 1 ? 's' : ''} did not load (counted as failed)\n`);
  io.stdout.write(`${total.passed} passed, ${total.failed} failed\n`);
  if (unloadable) return EXIT.input;
  return total.failed ? 1 : EXIT.ok;
}

const ANSI = /\u001b\[[0-9;]*m/g;

/** Drops stack frames inside rancher-play (its runner, dependencies, the bundle): the author's are what matter. */
function withoutOwnFrames(text: string): string {
  const own = isBundled() ? [fileURLToPath(import.meta.url)] : ['dist', 'runner', 'node_modules'].map((d) => join(packageDir(), d) + sep);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const plain = line.replace(ANSI, '');
    if (/^\s+at /.test(plain) && own.some((p) => plain.includes(p))) {
      // Keep colour codes (the grey block opens and closes on frame lines).
      const codes = line.match(ANSI)?.join('') ?? '';
      if (out.length) out[out.length - 1] += codes;
      continue;
    }
    out.push(line);
  }
  return out.join('\n');
}

type UvuRun = () => Promise<[errors: string | true, ran: number, skipped: number, total: number]>;
type UvuGlobals = { UVU_DEFER?: number; UVU_QUEUE?: (string | null | UvuRun)[][]; UVU_INDEX?: number };

/** The worker: load one test file with uvu deferred, run its suites, report counts to the parent. */
export async function testWorker(file: string, io: Io): Promise<number> {
  const g = globalThis as typeof globalThis & UvuGlobals;
  // Deferred ("CLI") mode: suites queue themselves instead of running on a timer.
  g.UVU_DEFER = 1;
  g.UVU_QUEUE = [[shown(file)]];
  g.UVU_INDEX = 0;
  const [uvu, assert] = await Promise.all([import('uvu'), import('uvu/assert')]);
  const report = (r: FileResult): number => {
    if (process.send) process.send(r);
    else io.stdout.write(`${r.passed} passed, ${r.failed} failed\n`);
    return r.loadError ? EXIT.input : r.failed ? 1 : EXIT.ok;
  };
  const abs = resolve(file);
  // Babel loaded up front: a test file must not be imported twice (its tests would register twice).
  const load = await taskImporter(dirname(abs), { extra: { uvu, 'uvu/assert': assert }, compiler: 'loaded' });
  try {
    await load(abs);
  } catch (e) {
    io.stderr.write(`${formatProblem(loadProblem(abs, e))}\n`);
    return report({ passed: 0, failed: 1, skipped: 0, loadError: true });
  }
  const r: FileResult = { passed: 0, failed: 0, skipped: 0 };
  for (const group of g.UVU_QUEUE) {
    const name = group.shift();
    if (typeof name === 'string') io.stdout.write(`${name}\n`);
    for (const run of group as UvuRun[]) {
      const [errors, ran, skipped, count] = await run();
      r.passed += ran;
      r.failed += count - ran;
      r.skipped += skipped;
      if (typeof errors === 'string') io.stdout.write(`\n${withoutOwnFrames(errors)}\n`);
      // uvu returns no message when a before/after hook threw: say so rather than nothing.
      else if (ran < count) io.stdout.write(`  ${count - ran} test(s) did not pass: a before/after hook threw\n`);
    }
  }
  return report(r);
}
