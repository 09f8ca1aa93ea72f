// The run laid out once, after loading and before any check or connection: the hosts each play
// targets (its pattern, then --limit) and each host's merged vars by precedence. The static
// checks, the prechecks, secret collection and the executor all read this one plan.
import { InputError, type InputProblem } from '../errors.js';
import { limitSelection, selectHosts } from '../model/inventory.js';
import { mergedVars } from '../model/vars.js';
import { sliceMembers, type Slice } from './slice.js';
import { serialBatches } from './batches.js';
import type { Inventory, Play, Playbook, Vars } from '../types.js';

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
  private readonly memo = new Map<string, Vars>();

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
        return { index, play, hosts, batches: serialBatches(hosts, play.serial), problems: index === 0 ? limitProblems : [] };
      } catch (e) {
        if (e instanceof InputError) return { index, play, hosts: [], batches: [], problems: [...(index === 0 ? limitProblems : []), ...e.problems] };
        throw e;
      }
    });
  }

  /** Every host some play targets. */
  targets(): string[] {
    return [...new Set(this.plays.flatMap((p) => p.hosts))];
  }

  /**
   * A host's merged vars (schema defaults < inventory < groups < host < playbook < play < -e),
   * with that play's vars when `playIndex` is given. Computed once per host and play; callers
   * copy before adding to it.
   */
  vars(host: string, playIndex?: number): Readonly<Vars> {
    const key = `${playIndex ?? '-'}\0${host}`;
    let v = this.memo.get(key);
    if (!v) {
      const pb = this.playbook;
      const playVars = playIndex === undefined ? {} : pb.plays[playIndex]?.vars ?? {};
      v = mergedVars(this.inventory, host, pb.vars, playVars, this.extraVars, pb.defaults);
      this.memo.set(key, v);
    }
    return v;
  }
}
