// The run laid out once, after loading and before any check or connection: the hosts each play
// targets (its pattern, then --limit), each host's merged vars by precedence and each task's
// params rendered for it. The static checks, the prechecks, secret collection and the executor
// all read this one plan.
import { InputError, type InputProblem } from '../errors.js';
import { inventorySource, limitSelection, selectHosts } from '../model/inventory.js';
import { playbookSource } from '../model/playbook.js';
import { renderString, TemplateError } from '../model/template.js';
import { defineTemplatedVars, mergedVars, templateScope, templatedVars } from '../model/vars.js';
import { ParamRenders } from './params.js';
import { sliceMembers, type Slice } from './slice.js';
import { serialBatches } from './batches.js';
import type { BatchSize, Inventory, Play, Playbook, SourcePos, Vars } from '../types.js';

export interface PlayPlan {
  index: number;
  play: Play;
  /** Target hosts, in inventory order; empty when the pattern is bad (see `problems`). */
  hosts: string[];
  /** `hosts` cut by the play's `serial:` (one batch of all of them without it; none without hosts). */
  batches: string[][];
  problems: InputProblem[];
}

export interface PlanOptions {
  /** -e vars (the highest precedence). */
  extraVars?: Vars;
  /** --limit patterns. */
  limit?: string[];
  /** --slice K/N: only the hosts of that slice (see slice.ts). */
  slice?: Slice;
}

export class Plan {
  readonly plays: PlayPlan[];
  readonly extraVars: Vars;
  /** Host patterns that matched nothing (Ansible's warnings; the play or pattern is skipped). */
  readonly warnings: string[] = [];
  /** Each task's params per host, rendered once against `scope` (see params.ts). */
  readonly params = new ParamRenders((host, playIndex) => this.scope(host, playIndex));
  private readonly memo = new Map<string, Vars>();
  private readonly runtime = new Map<string, readonly string[]>();
  private readonly varProblemsSeen = new Set<string>();
  /** Vars defined by templates that do not render (a missing name, a cycle): exit 5 like any bad input. */
  readonly varProblems: InputProblem[] = [];
  private readonly scopes = new Map<string, Vars>();

  constructor(readonly playbook: Playbook, readonly inventory: Inventory, opts: PlanOptions = {}) {
    this.extraVars = opts.extraVars ?? {};
    const warn = (w: string): void => {
      if (!this.warnings.includes(w)) this.warnings.push(w);
    };
    let allowed: Set<string> | undefined;
    let limitProblems: InputProblem[] = [];
    try {
      const l = limitSelection(inventory, opts.limit, warn);
      if (l) allowed = new Set(l);
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      limitProblems = e.problems;
      allowed = new Set();
    }
    // --slice: only this slice's share of the hosts --limit selects (all of them without it).
    const inSlice = opts.slice ? sliceMembers(allowed ? [...allowed] : [...inventory.hosts.keys()], opts.slice) : undefined;
    this.plays = playbook.plays.map((play, index) => {
      try {
        const selected = selectHosts(inventory, play.hosts, play.hostsPos ?? play.pos, 'hosts', warn);
        const limited = allowed ? selected.filter((h) => allowed!.has(h)) : selected;
        const hosts = inSlice ? limited.filter((h) => inSlice.has(h)) : limited;
        const problems = index === 0 ? [...limitProblems] : [];
        const serial = this.serialSizes(play, problems);
        return { index, play, hosts, batches: serial === null ? [] : serialBatches(hosts, serial), problems };
      } catch (e) {
        if (e instanceof InputError) return { index, play, hosts: [], batches: [], problems: [...(index === 0 ? limitProblems : []), ...e.problems] };
        throw e;
      }
    });
  }

  /**
   * `serial:` with its templates rendered, as ansible-playbook does before cutting batches: with
   * the play-level vars (defaults, playbook, play, -e; no host's vars: a batch is cut before any
   * host is picked). A template that renders to no size is bad input; null then.
   */
  private serialSizes(play: Play, problems: InputProblem[]): BatchSize[] | undefined | null {
    if (!play.serial?.some((s) => typeof s === 'string' && s.includes('{{'))) return play.serial;
    const pb = this.playbook;
    const scope: Vars = { ...pb.defaults, ...pb.vars, ...play.vars, ...this.extraVars };
    // Vars defined by other vars render as they do everywhere else (a name nothing defines stays as written).
    defineTemplatedVars(scope, templatedVars(scope, scope).now);
    const pos = play.serialPos ?? play.pos;
    const out: BatchSize[] = [];
    for (const size of play.serial) {
      if (typeof size !== 'string' || !size.includes('{{')) {
        out.push(size);
        continue;
      }
      let text: string;
      try {
        text = renderString(size, scope, { pos, key: 'serial' });
      } catch (e) {
        if (!(e instanceof TemplateError)) throw e;
        problems.push({ pos, key: 'serial', message: e.message });
        return null;
      }
      const t = text.trim();
      if (/^[0-9]+$/.test(t)) out.push(Number(t));
      else if (/^[0-9]+%$/.test(t)) out.push(t);
      else {
        problems.push({ pos, key: 'serial', message: `${JSON.stringify(size)} renders to ${JSON.stringify(text)}: must be a host count or a percentage like "30%"` });
        return null;
      }
    }
    return out;
  }

  /** Every host some play targets. */
  targets(): string[] {
    return [...new Set(this.plays.flatMap((p) => p.hosts))];
  }

  /**
   * A host's merged vars (schema defaults < inventory < groups < host < playbook < play < -e),
   * with that play's vars when `playIndex` is given; vars defined by templates of other vars are
   * rendered here, once per host and play (those that need a run-time value are listed by
   * `runtimeVars`). Callers copy before adding to it.
   */
  vars(host: string, playIndex?: number): Readonly<Vars> {
    const key = `${playIndex ?? '-'}\0${host}`;
    let v = this.memo.get(key);
    if (!v) {
      const pb = this.playbook;
      const playVars = playIndex === undefined ? {} : pb.plays[playIndex]?.vars ?? {};
      v = mergedVars(this.inventory, host, pb.vars, playVars, this.extraVars, pb.defaults);
      // -e values are taken as given: the executor lays them over the facts again.
      const scope = templateScope(this.inventory, host, v, {});
      const { now, later } = templatedVars(v, scope, this.extraVars, this.runtimeNames());
      defineTemplatedVars(scope, now);
      for (const name of now) {
        try {
          v[name] = scope[name];
        } catch (e) {
          if (!(e instanceof TemplateError)) throw e;
          this.varProblem(host, playIndex, name, e.message);
        }
      }
      this.memo.set(key, v);
      this.runtime.set(key, later);
    }
    return v;
  }

  /** Names that exist only at run time: registered results, and what facts-setting tasks may set. */
  private runtimeNames(): ReadonlySet<string> {
    if (!this.runtimeNameSet) {
      this.runtimeNameSet = new Set(['item']);
      for (const play of this.playbook.plays) {
        for (const t of [...play.tasks, ...play.handlers]) if (t.register) this.runtimeNameSet.add(t.register);
      }
    }
    return this.runtimeNameSet;
  }

  private runtimeNameSet?: Set<string>;

  /** The templated vars of a host's play that refer to run-time values: a task's scope renders them when read. */
  runtimeVars(host: string, playIndex?: number): readonly string[] {
    this.vars(host, playIndex);
    return this.runtime.get(`${playIndex ?? '-'}\0${host}`) ?? [];
  }

  /** Where the value a host sees for `name` is defined: its file position, or `-e NAME`. */
  varOrigin(host: string, playIndex: number | undefined, name: string): SourcePos | string | undefined {
    const pb = this.playbook;
    const inv = this.inventory;
    const has = (v: Vars | undefined) => !!v && Object.prototype.hasOwnProperty.call(v, name);
    if (has(this.extraVars)) return `-e ${name}`;
    const pbSrc = playbookSource(pb);
    const invSrc = inventorySource(inv);
    if (playIndex !== undefined && has(pb.plays[playIndex]?.vars)) return pbSrc?.posOf(['plays', playIndex, 'vars', name]);
    if (has(pb.vars)) return pbSrc?.posOf(['vars', name]);
    const h = inv.hosts.get(host);
    if (has(h?.vars)) return invSrc?.posOf(['hosts', host, 'vars', name]);
    for (const g of [...(h?.groups ?? [])].sort().reverse()) {
      if (has(inv.groups.get(g)?.vars)) return invSrc?.posOf(['groups', g, 'vars', name]);
    }
    if (has(inv.vars)) return invSrc?.posOf(['vars', name]);
    return undefined;
  }

  private varProblem(host: string, playIndex: number | undefined, name: string, message: string): void {
    const at = this.varOrigin(host, playIndex, name);
    const pos = typeof at === 'object' ? at : undefined;
    const id = `${pos ? `${pos.file}:${pos.line}:${pos.col}` : name}|${message}`;
    if (this.varProblemsSeen.has(id)) return;
    this.varProblemsSeen.add(id);
    this.varProblems.push({ pos, key: `vars.${name}`, message: `${message} (host ${host})` });
  }

  /** What a host's templates see in a play before anything ran (no registered results, no facts); once per host and play. */
  scope(host: string, playIndex: number): Readonly<Vars> {
    const key = `${playIndex}\0${host}`;
    let v = this.scopes.get(key);
    if (!v) {
      v = templateScope(this.inventory, host, this.vars(host, playIndex), {});
      this.scopes.set(key, v);
    }
    return v;
  }
}
