// Loads custom tasks (`tasks/*.ts` beside the playbook, or --tasks-dir) with no build step.
// jiti (babel type-stripping, pure JS) rather than tsx (native esbuild binary) or Node's own
// type stripping (Node >= 22.6): it runs on plain Node 20 and esbuild can bundle it into the
// single-file CLI. Compiles go through a content-keyed cache (./task-compiler.ts), so babel is
// loaded only when a file changed.
// `rancher-play` and `rancher-play/testing` are virtual modules bound to THIS copy of the
// package, so a task dir needs no node_modules and `defineTask` is the one the engine knows.
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { InputError, type InputProblem } from '../errors.js';
import type { Registry } from './registry.js';
import { isTask, type AnyTask } from '../task.js';
import { compileSchema } from '../model/schema.js';
import { cachedTransform, CompilerNeeded, loadCompiler, takeCompilerMiss } from './task-compiler.js';

const TASK_FILE = /\.(ts|mts|js|mjs)$/;
const SKIP_FILE = /(\.test\.[cm]?[jt]s|\.d\.[cm]?ts)$/;

/** How a path is shown in messages: relative to the cwd when inside it. */
function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r && !r.startsWith('..') ? r : path;
}

/** True for rancher-play's own built-in tasks dir (`tasks/` of the package, or `dist/tasks/`),
 * which must not be loaded again as custom tasks when rancher-play runs from its repository.
 * Decided by the package.json beside it, not by where this module sits: a bundle has no dir. */
function isBuiltinDir(dir: string): boolean {
  const owner = (pkgDir: string): boolean => {
    try {
      return (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'rancher-play';
    } catch {
      return false;
    }
  };
  const parent = dirname(dir);
  return owner(parent) || (basename(parent) === 'dist' && owner(dirname(parent)));
}

/** Task files of `dir`: top level only; tests, declarations and `_helpers` are not tasks. */
export function taskFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => TASK_FILE.test(f) && !SKIP_FILE.test(f) && !f.startsWith('_') && !f.startsWith('.'))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/**
 * The directories custom tasks are looked up in: `--tasks-dir` when given, otherwise `tasks/`
 * beside the playbook, then `tasks/` and `playbooks/tasks/` under the current directory.
 * Only existing directories are returned, each once.
 */
export function customTaskDirs(opts: { tasksDir?: string; playbook?: string; cwd?: string } = {}): string[] {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.tasksDir) return [resolve(cwd, opts.tasksDir)];
  const candidates = [
    ...(opts.playbook ? [join(dirname(resolve(cwd, opts.playbook)), 'tasks')] : []),
    join(cwd, 'tasks'),
    join(cwd, 'playbooks', 'tasks'),
  ];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const d of candidates) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    const real = realpathSync(d);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(d);
  }
  return out;
}

/** Turns a loader failure into a `file:line:column` problem instead of a stack trace. */
export function loadProblem(file: string, e: unknown): InputProblem {
  const err = e instanceof Error ? e : new Error(String(e));
  // jiti reports parse errors as "<Code>: <message> \n <file>:<line>:<col>".
  const parse = /^(\w*Error): ([\s\S]*?)\s*\n\s*(\S.*):(\d+):(\d+)\s*$/.exec(err.message);
  if (parse) {
    const message = parse[2]!.replace(/\s*\(\d+:\d+\)\s*$/, '').trim();
    return { pos: { file: shown(parse[3]!), line: Number(parse[4]), col: Number(parse[5]) }, message: `syntax error: ${message}` };
  }
  const firstLine = err.message.split('\n')[0]!.trim();
  if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
    return { key: shown(file), message: `cannot load: ${firstLine} (install it beside the task, or use a relative import)` };
  }
  // A throw while the module runs: point at the task file's line from the stack, when there.
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const frame = new RegExp(`${escaped}:(\\d+):(\\d+)`).exec(err.stack ?? '');
  if (frame) return { pos: { file: shown(file), line: Number(frame[1]), col: Number(frame[2]) }, message: `error while loading: ${firstLine}` };
  return { key: shown(file), message: `error while loading: ${firstLine}` };
}

/**
 * An importer of TypeScript/ESM files under `dir`, as custom tasks see the world:
 * `'rancher-play'`, `'rancher-play/testing'` (and `extra`) are this process's modules.
 * By default babel is loaded only on a cache miss, and the import is then retried: modules
 * that were evaluated before the miss are evaluated again, as every load (moduleCache off) does.
 * `compiler: 'loaded'` loads it up front, for files that must be evaluated exactly once.
 */
export async function taskImporter(
  dir: string,
  opts: { extra?: Record<string, unknown>; compiler?: 'lazy' | 'loaded' } = {},
): Promise<(file: string) => Promise<unknown>> {
  const [{ createJiti }, api, testing] = await Promise.all([import('jiti'), import('../sdk/index.js'), import('../sdk/testing.js')]);
  if (opts.compiler === 'loaded') await loadCompiler();
  const jiti = createJiti(join(dir, '_index.js'), {
    // jiti's path-keyed cache is off (ours is content-keyed); moduleCache off: edits show at once.
    fsCache: false,
    moduleCache: false,
    interopDefault: false,
    transform: cachedTransform,
    virtualModules: { 'rancher-play': api, 'rancher-play/testing': testing, ...opts.extra },
  });
  return async (file) => {
    try {
      return await jiti.import(file);
    } catch (e) {
      if (!(e instanceof CompilerNeeded) && !takeCompilerMiss()) throw e;
      takeCompilerMiss();
      await loadCompiler();
      return jiti.import(file);
    }
  };
}

/** The tasks a module exports: its default export and named exports made by `defineTask`. */
function exportedTasks(mod: unknown): AnyTask[] {
  if (typeof mod !== 'object' || mod === null) return [];
  const out: AnyTask[] = [];
  for (const value of Object.values(mod as Record<string, unknown>)) {
    if (isTask(value) && !out.includes(value)) out.push(value);
  }
  return out;
}

/** Shape checks for what the compiler cannot check in plain .js tasks, and a schema ajv compiles. */
function shapeProblems(task: AnyTask): string[] {
  const t = task as unknown as Record<string, unknown>;
  const out: string[] = [];
  if (typeof t.summary !== 'string' || !t.summary.trim()) out.push('summary must be a non-empty string');
  if (typeof t.probe !== 'function') out.push('probe must be a function');
  if (t.apply !== undefined && typeof t.apply !== 'function') out.push('apply must be a function');
  if (t.runsOn !== undefined && t.runsOn !== 'host' && t.runsOn !== 'controller') out.push('runsOn must be "host" or "controller"');
  if (typeof t.schema !== 'object' || t.schema === null) out.push('schema must be a JSON Schema object');
  else {
    const compiled = compileSchema(t.schema);
    if (typeof compiled === 'string') out.push(`schema is not a valid JSON Schema: ${compiled}`);
  }
  return out;
}

function builtinShown(id: string, source: string): string {
  return source.startsWith('builtin') ? `the built-in task in rancher-play's tasks/${id}.ts` : `${shown(source)}`;
}

/**
 * Load every custom task file in `dir` into `registry` (source = the file's path).
 * All problems across files are collected and thrown as one InputError (exit 5): syntax errors
 * with file:line:column, files that export no task, ids that shadow a built-in or each other.
 * A missing directory, or this package's own built-in tasks directory, loads nothing.
 */
export async function loadCustomTasks(dir: string, registry: Registry): Promise<void> {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) return;
  if (isBuiltinDir(realpathSync(abs))) return;
  const files = taskFiles(abs);
  if (!files.length) return;

  const load = await taskImporter(abs);
  const problems: InputProblem[] = [];
  for (const file of files) {
    let mod: unknown;
    try {
      mod = await load(file);
    } catch (e) {
      problems.push(loadProblem(file, e));
      continue;
    }
    const tasks = exportedTasks(mod);
    if (!tasks.length) {
      problems.push({
        key: shown(file),
        message: "exports no task: write `export default defineTask({ id, summary, schema, probe, apply })` with defineTask imported from 'rancher-play'",
      });
      continue;
    }
    for (const task of tasks) {
      const shape = shapeProblems(task);
      if (shape.length) {
        problems.push(...shape.map((message) => ({ key: shown(file), message: `task "${task.id}": ${message}` })));
        continue;
      }
      const prev = registry.source(task.id);
      if (prev !== undefined) {
        problems.push({
          key: shown(file),
          message: prev.startsWith('builtin')
            ? `task "${task.id}" shadows ${builtinShown(task.id, prev)}; rename the custom task`
            : `task "${task.id}" is defined twice: in ${shown(prev)} and in ${shown(file)}`,
        });
        continue;
      }
      registry.add(task, file);
    }
  }
  if (problems.length) throw new InputError(problems);
}
