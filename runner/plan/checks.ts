// The checks that need the inventory as well as the playbook, done on the plan before anything
// connects (exit 5): every template and `when` refers only to variables that will exist, and the
// merged vars of every target host satisfy the playbook's vars_schema.
import { InputError, type InputProblem } from '../errors.js';
import { eachString, itemPath, loadPlaybook, playbookSource, sortProblems, validateVarsSchema } from '../model/playbook.js';
import { renderValue, templateRefs } from '../model/template.js';
import { templateScope } from '../model/vars.js';
import { evalWhen, exprRefs } from '../model/expr.js';
import type { Registry } from '../engine/registry.js';
import type { Inventory, Playbook, SourcePos, TaskItem, Vars } from '../types.js';
import { Plan } from './index.js';

export interface StaticCheckOptions {
  /** -e vars. */
  extraVars?: Vars;
  /** --limit patterns. */
  limit?: string[];
  /** The run's plan, when the caller has built it already. */
  plan?: Plan;
  /** Extra names known to exist at run time (facts set by tasks, engine-provided names). */
  knownVars?: Iterable<string>;
}

/**
 * Checks that need the inventory, done before anything connects: vars_schema per host, and every
 * template / `when` referring only to variables that will exist (merged vars, host, groups,
 * hostvars, names registered by tasks of the playbook, and `knownVars`).
 */
export function staticProblems(pb: Playbook, inv: Inventory, opts: StaticCheckOptions = {}): InputProblem[] {
  const plan = opts.plan ?? new Plan(pb, inv, opts);
  const problems: InputProblem[] = [];
  const src = playbookSource(pb);
  const registered = new Set<string>(['host', 'groups', 'hostvars', '__dir', ...(opts.knownVars ?? [])]);
  for (const play of pb.plays) for (const t of [...play.tasks, ...play.handlers]) if (t.register) registered.add(t.register);

  const hostVars = new Map<string, Vars>();
  for (const { index, play, hosts, problems: bad } of plan.plays) {
    problems.push(...bad);
    const seen = new Set<string>();
    for (const host of hosts) {
      const vars = plan.vars(host, index);
      if (!hostVars.has(host)) hostVars.set(host, plan.vars(host));
      const has = (name: string) => registered.has(name) || Object.prototype.hasOwnProperty.call(vars, name);
      for (const t of [...play.tasks, ...play.handlers]) {
        const base = itemPath(t);
        // An item whose `when` is already false from the inventory and playbook vars (`ca_cert is
        // defined` without a ca_cert) never runs on this host: its params need not render.
        if (staticallySkipped(t, host, vars, registered, inv)) continue;
        eachString(t.params, [...base, t.id], (s, path) => {
          if (!s.includes('{{')) return;
          let refs: string[];
          try {
            refs = templateRefs(s);
          } catch {
            return; // syntax problems were reported at load time
          }
          for (const r of refs) {
            if (has(r)) continue;
            const key = [t.id, ...path.slice(base.length + 1)].join('.');
            const id = `${key}|${r}`;
            if (seen.has(id)) continue;
            seen.add(id);
            problems.push({ pos: src?.valuePosOf(path) ?? t.pos, key, message: `missing variable "${r}" (host ${host})` });
          }
        });
        if (t.delegate_to?.includes('{{')) problems.push(...delegateToProblems(t, host, vars, has, seen, inv, src?.valuePosOf([...base, 'delegate_to']) ?? t.pos));
        if (t.when && !t.when.includes('{{')) {
          let refs: string[] = [];
          try {
            refs = exprRefs(t.when);
          } catch {
            refs = [];
          }
          for (const r of refs) {
            if (has(r)) continue;
            const id = `${t.id}.when|${r}|${base.join('.')}`;
            if (seen.has(id)) continue;
            seen.add(id);
            problems.push({
              pos: src?.valuePosOf([...base, 'when']) ?? t.pos,
              key: `${t.id}.when`,
              message: `"${r}" is not defined (host ${host}); test it with "${r} is defined"`,
            });
          }
        }
      }
    }
  }
  problems.push(...plan.varProblems);
  problems.push(...validateVarsSchema(pb, hostVars));
  return problems;
}

/** `t.when` reads only vars known before the run (no registered result) and is false for `host`. */
function staticallySkipped(t: TaskItem, host: string, vars: Vars, registered: Set<string>, inv: Inventory): boolean {
  if (!t.when || t.when.includes('{{')) return false;
  const scope = templateScope(inv, host, vars, {});
  // Every name in it, guarded ones (`x is defined`) too: a registered result is unknown until run time.
  const names = t.when.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  if (names.some((r) => registered.has(r) && !Object.prototype.hasOwnProperty.call(scope, r))) return false;
  try {
    return !evalWhen(t.when, scope);
  } catch {
    return false;
  }
}

/**
 * A templated `delegate_to`: its variables exist, and where it renders without run-time values
 * (registered results, facts) it names an inventory host.
 */
function delegateToProblems(t: TaskItem, host: string, vars: Vars, has: (n: string) => boolean, seen: Set<string>, inv: Inventory, pos: SourcePos): InputProblem[] {
  const key = `${t.id}.delegate_to`;
  let refs: string[];
  try {
    refs = templateRefs(t.delegate_to!);
  } catch {
    return []; // reported at load time
  }
  const missing = refs.filter((r) => !has(r));
  const fresh = (id: string): boolean => !seen.has(id) && !!seen.add(id);
  if (missing.length) {
    return missing.filter((r) => fresh(`${key}|${r}|${t.pos.line}`)).map((r) => ({ pos, key, message: `missing variable "${r}" (host ${host})` }));
  }
  const scope = templateScope(inv, host, vars, {});
  if (!refs.every((r) => Object.prototype.hasOwnProperty.call(scope, r))) return [];
  let to: string;
  try {
    to = String(renderValue(t.delegate_to, scope)).trim();
  } catch {
    return [];
  }
  if (to === 'localhost' || inv.hosts.has(to) || !fresh(`${key}|=${to}|${t.pos.line}`)) return [];
  return [{ pos, key, message: `"${t.delegate_to}" is "${to}" for host ${host}: no such host in the inventory` }];
}

/** loadPlaybook plus staticProblems: everything `validate` checks, thrown as one InputError. */
export function validatePlaybook(file: string, registry: Registry, inv: Inventory, opts: StaticCheckOptions = {}): Playbook {
  const pb = loadPlaybook(file, registry, inv);
  const problems = staticProblems(pb, inv, opts);
  if (problems.length) throw new InputError(sortProblems(problems));
  return pb;
}
