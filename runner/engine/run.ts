// The `run`/`check`/`validate` pipeline: load and check everything first (exit 5, nothing
// connected), then execute and render. Kept apart from the CLI so tests can call it directly.
import { existsSync } from 'node:fs';
import type { Inventory, Playbook, RunEvent, RunOptions, TaskItem, Vars } from '../types.js';
import { EXIT, InputError, formatProblem, type InputProblem } from '../errors.js';
import { applyConnectionFlags, limitSelection, loadInventory, resolveInventory } from '../model/inventory.js';
import { loadPlaybook } from '../model/playbook.js';
import { nulPaths } from '../model/nul.js';
import { Plan } from '../plan/index.js';
import { staticProblems } from '../plan/checks.js';
import { Registry } from './registry.js';
import { secretValues, redactText } from '../model/vars.js';
import { templateRefs } from '../model/template.js';
import { maskRotatedSecrets, redactUrlCredentials } from './redact.js';
import { builtinTasks } from '../../tasks/index.js';
// The executor and the renderers (and through them p-limit, the transports, diff) are loaded
// when a run starts: `validate` needs neither.
import { suggestion } from '../model/suggest.js';
import type { RendererKind } from '../render/index.js';
import { customTaskDirs, loadCustomTasks } from './loader.js';
import { precheckContext } from './context.js';

export interface Loaded {
  inventory: Inventory;
  playbook: Playbook;
  registry: Registry;
  plan: Plan;
}

/** Registry with the built-in tasks plus custom tasks (`--tasks-dir`, or tasks/ beside the playbook). */
export async function buildRegistry(opts: { tasksDir?: string; playbook?: string } = {}): Promise<Registry> {
  const registry = new Registry();
  for (const t of builtinTasks) registry.add(t, `builtin:${t.id}`);
  if (opts.tasksDir && !existsSync(opts.tasksDir)) {
    throw new InputError([{ key: '--tasks-dir', message: `directory ${opts.tasksDir} does not exist` }]);
  }
  for (const d of customTaskDirs({ tasksDir: opts.tasksDir, playbook: opts.playbook })) await loadCustomTasks(d, registry);
  return registry;
}

/** Everything checked before connecting; throws InputError listing every problem. */
export async function loadAll(
  playbookFile: string,
  inventoryFile: string,
  opt: Pick<RunOptions, 'extraVars' | 'limit' | 'tasksDir'> & Partial<Pick<RunOptions, 'user' | 'privateKey' | 'become' | 'startAtTask' | 'tags' | 'skipTags' | 'slice'>>,
): Promise<Loaded> {
  const problems: InputProblem[] = [];
  let inventory: Inventory | undefined;
  try {
    inventory = loadInventory(inventoryFile);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    problems.push(...e.problems);
  }
  const registry = await buildRegistry({ tasksDir: opt.tasksDir, playbook: playbookFile });
  let playbook: Playbook | undefined;
  try {
    playbook = loadPlaybook(playbookFile, registry, inventory);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    problems.push(...e.problems);
  }
  if (problems.length || !inventory || !playbook) throw new InputError(problems);
  // A --limit that leaves no host is an error before anything else, as in ansible-playbook.
  limitSelection(inventory, opt.limit);
  const plan = new Plan(playbook, inventory, { extraVars: opt.extraVars, limit: opt.limit, slice: opt.slice });
  // The prechecks start first: what they ask of the controller's tools (rke --version) runs
  // while the static pass does.
  const pre = prechecks(plan, registry);
  pre.catch(() => undefined); // (awaited below; a static pass that throws must not leave it unhandled)
  problems.push(...staticProblems(playbook, inventory, { plan }));
  problems.push(...(await pre));
  if (opt.startAtTask !== undefined && (await import('./executor.js')).tasksToRun(playbook, { startAtTask: opt.startAtTask }).every((t) => t.length === 0)) {
    const names = playbook.plays.flatMap((p) => p.tasks.map((t) => t.name));
    problems.push({ key: '--start-at-task', message: `no task named "${opt.startAtTask}"${suggestion(opt.startAtTask, names)}` });
  }
  if (problems.length) throw new InputError(problems);
  applyConnectionFlags(inventory, opt);
  // ~/.ssh/config is applied before anything connects, so a ProxyCommand we cannot honour (or a
  // config ssh rejects) is exit 5 with nothing connected.
  await resolveInventory(inventory, plan.targets());
  return { inventory, playbook, registry, plan };
}

/** Each task's `precheck` on its rendered params, for every host where they render without
 * run-time values. All are started before any is awaited (one may wait on a program); the
 * problems come in the order of plays, hosts and tasks all the same. */
async function prechecks(plan: Plan, registry: Registry): Promise<InputProblem[]> {
  const { playbook: pb } = plan;
  const steps: { item: TaskItem; host: string; nul: (string | number)[][]; msgs: string[] | Promise<string[]> }[] = [];
  for (const { index: playIndex, play, hosts } of plan.plays) {
    for (const host of hosts) {
      const scope = plan.scope(host, playIndex);
      const varSource = (name: string) => {
        const o = plan.varOrigin(host, playIndex, name);
        return typeof o === 'object' ? `${o.file}:${o.line}:${o.col}` : o;
      };
      for (const item of [...play.tasks, ...play.handlers]) {
        const task = registry.get(item.id);
        if (!task) continue;
        if (!allKnown(item.params, scope)) continue;
        let params: Vars;
        try {
          params = plan.params.all(playIndex, item, host);
        } catch {
          continue; // reported by the static pass
        }
        // A var may bring the NUL byte the playbook's own text cannot.
        const nul = nulPaths(params);
        const msgs = task.precheck ? task.precheck(params, { ...precheckContext(host, scope, pb.dir), varSource }) : [];
        steps.push({ item, host, nul, msgs });
      }
    }
  }
  const answers = await Promise.all(steps.map((s) => s.msgs));
  const out: InputProblem[] = [];
  const seen = new Set<string>();
  steps.forEach(({ item, host, nul }, i) => {
    for (const at of nul) {
      const k = `${item.pos.line}:${item.pos.col}|nul|${at.join('.')}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ pos: item.pos, key: [item.id, ...at].join('.'), message: `holds a NUL byte once rendered (host ${host})` });
    }
    for (const m of answers[i]!) {
      const k = `${item.pos.line}:${item.pos.col}|${m}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ pos: item.pos, key: item.id, message: `${m} (host ${host})` });
    }
  });
  return out;
}

function allKnown(value: unknown, scope: Vars): boolean {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return true;
    try {
      return templateRefs(value).every((r) => Object.prototype.hasOwnProperty.call(scope, r));
    } catch {
      return false;
    }
  }
  if (Array.isArray(value)) return value.every((v) => allKnown(v, scope));
  if (value && typeof value === 'object') return Object.values(value).every((v) => allKnown(v, scope));
  return true;
}

/** Every secret value that could appear in output (secret vars of every host, secret task params). */
export function secretsOf(loaded: Loaded): string[] {
  const { inventory: inv, registry, plan } = loaded;
  const values = new Set<string>();
  // Any host's secret vars may reach the output (hostvars); a task's params only as rendered for
  // the hosts its play runs it on.
  for (const host of inv.hosts.keys()) for (const v of secretValues(plan.vars(host), inv.secrets)) values.add(v);
  for (const { index: playIndex, play, hosts } of plan.plays) {
    for (const item of [...play.tasks, ...play.handlers]) {
      const names = registry.get(item.id)?.secretParams ?? [];
      for (const host of hosts) {
        for (const n of names) {
          const r = plan.params.one(playIndex, item, host, n);
          // An error: a run-time value, and the raw template text is not a secret.
          const v = 'value' in r ? r.value : item.params[n];
          for (const s of secretValues({ x: v }, new Set(['x']))) values.add(s);
        }
      }
    }
  }
  return [...values].sort((a, b) => b.length - a.length);
}

export interface RunIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on the first SIGINT. */
  signal?: AbortSignal;
  /** Force a renderer (tests). */
  renderer?: RendererKind;
}

export function printProblems(e: InputError, stderr: NodeJS.WritableStream): void {
  for (const p of e.problems) stderr.write(`${redactUrlCredentials(formatProblem(p))}\n`);
  stderr.write(`${e.problems.length} problem${e.problems.length === 1 ? '' : 's'} found; nothing was run\n`);
}

/** Host patterns that matched nothing, in ansible-playbook's words (the run goes on). */
export function printWarnings(plan: Plan, stderr: NodeJS.WritableStream): void {
  for (const w of plan.warnings) stderr.write(`[WARNING]: ${w}\n`);
}

/** `run` and `check`: returns the exit code. */
export async function runPlaybook(playbookFile: string, inventoryFile: string, opt: RunOptions & { json?: boolean }, io: RunIo): Promise<number> {
  let loaded: Loaded;
  try {
    loaded = await loadAll(playbookFile, inventoryFile, opt);
  } catch (e) {
    if (e instanceof InputError) {
      printProblems(e, io.stderr);
      return EXIT.input;
    }
    throw e;
  }
  printWarnings(loaded.plan, io.stderr);
  const secrets = secretsOf(loaded);
  const mask = (s: string): string => redactUrlCredentials(redactText(s, secrets));
  // Longest first, as secretsOf orders them (a secret containing another is masked whole).
  const addSecrets = (values: string[]): void => {
    const fresh = values.filter((v) => !secrets.includes(v));
    if (!fresh.length) return;
    secrets.push(...fresh);
    secrets.sort((a, b) => b.length - a.length);
  };
  const [{ execute, exitCodeFor }, { createRenderer, pickRenderer, useColor }] = await Promise.all([import('./executor.js'), import('../render/index.js')]);
  const kind = io.renderer ?? pickRenderer(false, io.stdout, io.env);
  const renderer = await createRenderer(opt.json ? 'json' : kind, {
    out: io.stdout, diff: opt.diff, verbose: opt.verbose, color: !opt.json && useColor(io.stdout, io.env), mask,
  });
  const emit = (e: RunEvent): void => renderer.event(e.event === 'task' && e.diff ? { ...e, diff: e.diff.map((d) => maskRotatedSecrets(d, mask)) } : e);
  const result = await execute({ ...loaded, options: opt, emit, signal: io.signal, addSecrets });
  await renderer.end();
  if (result.interrupted) return EXIT.interrupted;
  return exitCodeFor(result.recap);
}
