// Playbook loading: YAML → structural schema → per-task id and params checks → Play/TaskItem
// model. Every problem found is collected (not just the first) and thrown as one InputError, so
// a user fixes a file in one pass. Nothing here touches a host.
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { InputError, type InputProblem } from '../errors.js';
import { loadYamlFile, type YamlPath, type YamlSource } from './yamlsrc.js';
import { compileSchema, playbookStructureSchema, TASK_ITEM_KEYS, validateAt } from './schema.js';
import { didYouMean, suggestion } from './suggest.js';
import { nulPaths } from './nul.js';
import { checkTemplate, TemplateError } from './template.js';
import { ExprError, parseExpr } from './expr.js';
import { selectHosts } from './inventory.js';
import { schemaDefaults } from './vars.js';
import type { Registry } from '../engine/registry.js';
import type { Inventory, Play, Playbook, SourcePos, TaskItem, Vars } from '../types.js';

const sources = new WeakMap<Playbook, YamlSource>();
/** Where each task item's params sit in the source, for later (static) checks. */
const itemPaths = new WeakMap<TaskItem, YamlPath>();
/** Where a task item sits in the playbook's YAML (for positions of its values). */
export const itemPath = (t: TaskItem): YamlPath => itemPaths.get(t) ?? [];

export function playbookSource(pb: Playbook): YamlSource | undefined {
  return sources.get(pb);
}

const COMMON = new Set<string>(TASK_ITEM_KEYS);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** Taggable._load_tags: a string is a comma-separated list; list items are kept as written. */
function tagList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(',').map((t) => t.trim());
  return asList(v);
}

/** Walk every string inside a value, with its path. */
export function eachString(v: unknown, path: YamlPath, f: (s: string, path: YamlPath) => void, depth = 0): void {
  if (depth > 100) return;
  if (typeof v === 'string') f(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => eachString(x, [...path, i], f, depth + 1));
  else if (isObj(v)) for (const [k, x] of Object.entries(v)) eachString(x, [...path, k], f, depth + 1);
}

function templateSyntaxProblems(value: unknown, base: YamlPath, keyBase: (string | number)[], src: YamlSource): InputProblem[] {
  const out: InputProblem[] = [];
  eachString(value, base, (s, path) => {
    if (!s.includes('{{')) return;
    const key = [...keyBase, ...path.slice(base.length)].join('.');
    try {
      checkTemplate(s, { pos: src.valuePosOf(path), key });
    } catch (e) {
      if (e instanceof TemplateError) out.push(e.toProblem());
      else throw e;
    }
  });
  return out;
}

export function loadPlaybook(file: string, registry: Registry, inv?: Inventory): Playbook {
  const src = loadYamlFile(file);
  const problems: InputProblem[] = [];
  const raw = src.value as Record<string, unknown>;

  // Structure first; parts that are malformed are skipped below, but every problem is reported.
  problems.push(...validateAt(playbookStructureSchema(), raw, src));

  const pbVars: Vars = isObj(raw.vars) ? { ...raw.vars } : {};
  problems.push(...templateSyntaxProblems(pbVars, ['vars'], ['vars'], src));
  let varsSchema: Record<string, unknown> | undefined;
  if (isObj(raw.vars_schema)) {
    varsSchema = raw.vars_schema;
    const compiled = compileSchema(varsSchema);
    if (typeof compiled === 'string') problems.push({ pos: src.posOf(['vars_schema']), key: 'vars_schema', message: `is not a valid JSON Schema: ${compiled}` });
  }

  const plays: Play[] = [];
  const rawPlays = Array.isArray(raw.plays) ? raw.plays : [];
  rawPlays.forEach((rp, pi) => {
    if (!isObj(rp)) return;
    const base: YamlPath = ['plays', pi];
    const hosts = asList(rp.hosts);
    const hostsPos = src.posOf([...base, 'hosts']);
    if (inv && hosts.length) {
      // A malformed pattern is an error here; one that matches nothing only warns (in the plan).
      try {
        selectHosts(inv, hosts, hostsPos, 'hosts');
      } catch (e) {
        if (e instanceof InputError) problems.push(...e.problems);
        else throw e;
      }
    }
    const playVars: Vars = isObj(rp.vars) ? { ...rp.vars } : {};
    problems.push(...templateSyntaxProblems(playVars, [...base, 'vars'], [...base, 'vars'], src));

    const handlerItems = Array.isArray(rp.handlers) ? rp.handlers : [];
    const handlers = handlerItems
      .map((item, j) => taskItem(item, [...base, 'handlers', j], src, registry, problems, inv))
      .filter((t): t is TaskItem => t !== undefined);
    const handlerNames = new Set<string>();
    handlers.forEach((h) => {
      if (handlerNames.has(h.name)) problems.push({ pos: h.pos, key: 'name', message: `handler "${h.name}" is defined twice in this play` });
      handlerNames.add(h.name);
    });

    const taskItems = Array.isArray(rp.tasks) ? rp.tasks : [];
    const tasks = taskItems
      .map((item, j) => taskItem(item, [...base, 'tasks', j], src, registry, problems, inv))
      .filter((t): t is TaskItem => t !== undefined);
    if (rp.strategy === 'free') problems.push(...freeProblems(rp, [...tasks, ...handlers], base, src));

    for (const t of [...tasks, ...handlers]) {
      const path = itemPaths.get(t)!;
      t.notify.forEach((n, k) => {
        if (handlerNames.has(n)) return;
        const notifyIsList = Array.isArray(getAt(raw, [...path, 'notify']));
        problems.push({
          pos: src.valuePosOf(notifyIsList ? [...path, 'notify', k] : [...path, 'notify']),
          key: `${t.id}.notify`,
          message: `no handler named "${n}" in this play${suggestion(n, handlerNames)}`,
        });
      });
    }

    const play: Play = {
      name: typeof rp.name === 'string' ? rp.name : hosts.join(','),
      hosts,
      hostsPos,
      strategy: rp.strategy === 'free' ? 'free' : 'linear',
      tasks,
      handlers,
      vars: playVars,
      pos: src.posOf(base),
    };
    const serial = batchSizes(rp.serial);
    if (serial) {
      play.serial = serial;
      play.serialPos = src.posOf([...base, 'serial']);
    }
    if (typeof rp.max_fail_percentage === 'number') play.max_fail_percentage = rp.max_fail_percentage;
    if (typeof rp.any_errors_fatal === 'boolean') play.any_errors_fatal = rp.any_errors_fatal;
    plays.push(play);
  });

  if (problems.length) throw new InputError(sortProblems(problems));
  const pb: Playbook = {
    file,
    dir: dirname(resolvePath(file)),
    name: typeof raw.name === 'string' ? raw.name : basename(file).replace(/\.ya?ml$/, ''),
    vars: pbVars,
    defaults: schemaDefaults(varsSchema),
    plays,
  };
  if (varsSchema) pb.vars_schema = varsSchema;
  sources.set(pb, src);
  return pb;
}

/**
 * `serial:` as a list of sizes; undefined when absent or malformed (the schema reports it). A
 * template (`"{{ batch }}"`) stays as written: the plan renders it with the play's vars.
 */
function batchSizes(v: unknown): (number | string)[] | undefined {
  const ok = (x: unknown): x is number | string =>
    (typeof x === 'number' && Number.isInteger(x) && x >= 0) || (typeof x === 'string' && (/^[0-9]+%$/.test(x) || x.includes('{{')));
  if (ok(v)) return [v];
  if (Array.isArray(v) && v.length && v.every(ok)) return v;
  return undefined;
}

/** Ansible only warns and runs these per host under the free strategy; here they are refused. */
function freeProblems(rp: Record<string, unknown>, items: TaskItem[], base: YamlPath, src: YamlSource): InputProblem[] {
  const out: InputProblem[] = [];
  for (const k of ['max_fail_percentage', 'any_errors_fatal'] as const) {
    if (rp[k] !== undefined && rp[k] !== false) {
      out.push({ pos: src.posOf([...base, k]), key: k, message: 'needs strategy: linear (with strategy: free each host runs on its own, so one host\'s failure cannot stop the others)' });
    }
  }
  for (const t of items) {
    for (const k of ['run_once', 'any_errors_fatal'] as const) {
      if (t[k] !== true) continue;
      out.push({ pos: src.posOf([...itemPath(t), k]), key: `${t.id}.${k}`, message: 'needs strategy: linear (with strategy: free every host runs its own list)' });
    }
  }
  return out;
}

function getAt(v: unknown, path: YamlPath): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[String(seg)];
  }
  return cur;
}

export function sortProblems(ps: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return ps
    .filter((p) => {
      const k = `${p.pos?.line}:${p.pos?.col}:${p.key}:${p.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => (a.pos?.line ?? 0) - (b.pos?.line ?? 0) || (a.pos?.col ?? 0) - (b.pos?.col ?? 0));
}

function taskItem(item: unknown, base: YamlPath, src: YamlSource, registry: Registry, problems: InputProblem[], inv?: Inventory): TaskItem | undefined {
  if (!isObj(item)) return undefined; // reported by the structural schema
  const pos = src.posOf(base);
  const keys = Object.keys(item);
  const idKeys = keys.filter((k) => !COMMON.has(k));
  const known = idKeys.filter((k) => registry.get(k) !== undefined);
  const unknown = idKeys.filter((k) => registry.get(k) === undefined);
  // Only for messages: sorting the ids (localeCompare sets up ICU's collator) costs more than
  // validating a whole playbook of known tasks.
  const candidates = unknown.length ? [...registry.ids(), ...COMMON] : [];

  for (const k of unknown) {
    const hint = suggestion(k, candidates);
    const guess = didYouMean(k, candidates);
    // With a valid task id present, an extra unknown key is more likely a misspelt option.
    const message = known.length && guess !== undefined && COMMON.has(guess)
      ? `unknown key "${k}"${hint}`
      : `unknown task "${k}"${hint}`;
    problems.push({ pos: src.posOf([...base, k]), key: k, message });
  }
  if (idKeys.length === 0) {
    problems.push({ pos, key: base.join('.'), message: `has no task: expected exactly one task id key (one of: ${registry.ids().join(', ')})` });
    return undefined;
  }
  if (known.length > 1) {
    problems.push({ pos: src.posOf([...base, known[1]!]), key: known[1], message: `a task item has exactly one task id; found ${known.map((k) => `"${k}"`).join(' and ')}` });
    return undefined;
  }
  if (known.length === 0) return undefined;

  const id = known[0]!;
  const task = registry.get(id)!;
  const rawParams = item[id] ?? {};
  problems.push(...validateAt(task.schema, rawParams, src, { base: [...base, id], keyPrefix: [id], allowTemplates: true }));
  problems.push(...templateSyntaxProblems(rawParams, [...base, id], [id], src));
  for (const at of nulPaths(rawParams)) {
    problems.push({ pos: src.valuePosOf([...base, id, ...at]), key: [id, ...at].join('.'), message: 'holds a NUL byte (no command line or file name can carry one)' });
  }

  let when: string | undefined;
  if (typeof item.when === 'boolean') when = String(item.when);
  else if (typeof item.when === 'string') {
    when = item.when;
    const wpos = src.valuePosOf([...base, 'when']);
    if (when.includes('{{')) {
      problems.push({ pos: wpos, key: `${id}.when`, message: 'is an expression; write it without {{ }}' });
    } else {
      try {
        parseExpr(when);
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
        problems.push({ pos: wpos, key: `${id}.when`, message: `syntax error at column ${e.col}: ${e.message}` });
      }
    }
  }

  const t: TaskItem = {
    id,
    name: typeof item.name === 'string' && item.name ? item.name : id,
    params: isObj(rawParams) ? { ...rawParams } : (rawParams as Vars),
    tags: tagList(item.tags),
    notify: asList(item.notify),
    ignore_errors: item.ignore_errors === true,
    retries: typeof item.retries === 'number' ? item.retries : 0,
    delay_s: typeof item.delay === 'number' ? item.delay : 0,
    pos,
  };
  if (when !== undefined) t.when = when;
  if (typeof item.register === 'string') t.register = item.register;
  if (typeof item.timeout === 'number') t.timeout_s = item.timeout;
  if (typeof item.become === 'boolean') t.become = item.become;
  if (typeof item.check_mode === 'boolean') t.check_mode = item.check_mode;
  for (const k of ['changed_when', 'failed_when'] as const) {
    const v = item[k];
    if (typeof v === 'boolean') t[k] = v;
    else if (typeof v === 'string') {
      t[k] = v;
      try {
        parseExpr(v);
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
        problems.push({ pos: src.valuePosOf([...base, k]), key: `${id}.${k}`, message: `syntax error at column ${e.col}: ${e.message}` });
      }
    }
  }
  if (typeof item.run_once === 'boolean') t.run_once = item.run_once;
  if (typeof item.throttle === 'number') t.throttle = item.throttle;
  if (typeof item.any_errors_fatal === 'boolean') t.any_errors_fatal = item.any_errors_fatal;
  if (typeof item.delegate_to === 'string' && item.delegate_to) {
    t.delegate_to = item.delegate_to;
    problems.push(...delegateProblems(t, task, src.valuePosOf([...base, 'delegate_to']), inv));
  }
  itemPaths.set(t, base);
  return t;
}

/**
 * `delegate_to`: an inventory host (or the implicit `localhost`), checked now unless it is a
 * template. A task that runs on the controller stays there: only `localhost` is accepted. A
 * task's own `delegate` param says the same thing another way: one of the two.
 */
function delegateProblems(t: TaskItem, task: { runsOn?: string }, pos: SourcePos, inv?: Inventory): InputProblem[] {
  const to = t.delegate_to!;
  const key = `${t.id}.delegate_to`;
  if (to.includes('{{')) {
    try {
      checkTemplate(to, { pos, key });
    } catch (e) {
      if (e instanceof TemplateError) return [e.toProblem()];
      throw e;
    }
  }
  if (isObj(t.params) && t.params.delegate !== undefined) {
    return [{ pos, key, message: `and ${t.id}.delegate both say where the task runs: keep one` }];
  }
  if (to.includes('{{')) return [];
  if (task.runsOn === 'controller' && to !== 'localhost') {
    return [{ pos, key, message: `${t.id} runs on the controller, so it can only be delegated to localhost` }];
  }
  if (inv && to !== 'localhost' && !inv.hosts.has(to)) {
    return [{ pos, key, message: `no host "${to}" in the inventory${suggestion(to, [...inv.hosts.keys()])}` }];
  }
  return [];
}

// ------------------------------------------------------------ static checks

/** vars_schema checked against each host's merged vars; problems point at `vars_schema`. */
export function validateVarsSchema(pb: Playbook, hostVars: Map<string, Vars>): InputProblem[] {
  if (!pb.vars_schema) return [];
  const src = sources.get(pb);
  const pos = src?.posOf(['vars_schema']);
  const v = compileSchema(pb.vars_schema);
  if (typeof v === 'string') return [{ pos, key: 'vars_schema', message: `is not a valid JSON Schema: ${v}` }];
  // One problem per distinct message, listing the hosts it applies to.
  const byMessage = new Map<string, string[]>();
  for (const [host, vars] of hostVars) {
    if (v(vars)) continue;
    for (const e of v.errors ?? []) {
      const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
      const what = e.keyword === 'required'
        ? `missing required variable "${(e.params as { missingProperty: string }).missingProperty}"`
        : `variable "${at}" ${e.message ?? 'is invalid'}`;
      const hosts = byMessage.get(what) ?? [];
      if (!hosts.includes(host)) hosts.push(host);
      byMessage.set(what, hosts);
    }
  }
  const out: InputProblem[] = [];
  for (const [what, hosts] of byMessage) {
    out.push({ pos, key: 'vars_schema', message: `${what} (${hosts.length === 1 ? 'host' : 'hosts'} ${hosts.join(', ')})` });
  }
  return out;
}

