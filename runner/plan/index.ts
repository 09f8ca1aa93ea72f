// The run laid out once, after loading and before any check or connection: the hosts each play
// targets (its pattern, then --limit) and each host's merged vars by precedence. The static
// checks, the prechecks, secret collection and the executor all read this one plan.
import { InputError, type InputProblem } from '../errors.js';
import { applyLimit, selectHosts } from '../model/inventory.js';
import { mergedVars } from '../model/vars.js';
import { sliceMembers, type Slice } from './slice.js';
import type { Inventory, Play, Playbook, Vars } from '../types.js';

export interface PlayPlan {
  index: number;
  play: Play;
  /** Target hosts, in inventory order; empty when the pattern is bad (see `problems`). */
  hosts: string[];
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
  private readonly memo = new Map<string, Vars>();

  constructor(readonly playbook: Playbook, readonly inventory: Inventory, opts: PlanOptions = {}) {
    this.extraVars = opts.extraVars ?? {};
    let inSlice: Set<string> | undefined;
    const sliced = (hosts: string[]): string[] => {
      if (!opts.slice) return hosts;
      inSlice ??= sliceMembers(inventory, opts.slice, opts.limit);
      return hosts.filter((h) => inSlice!.has(h));
    };
    this.plays = playbook.plays.map((play, index) => {
      try {
        return { index, play, hosts: sliced(applyLimit(inventory, selectHosts(inventory, play.hosts, play.pos), opts.limit)), problems: [] };
      } catch (e) {
        if (e instanceof InputError) return { index, play, hosts: [], problems: e.problems };
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
