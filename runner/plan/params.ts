// Each task's params rendered once per host, against the host's vars as the plan has them, one
// top-level param at a time: the prechecks, the secret scan and the executor all read these.
// Rendering is lazy (an item whose `when` is false is not rendered unless a precheck asks) and
// pure given the values of the names a template reads, so a rendering can be reused at run time
// as long as none of those names has been given a value since (a registered result, a fact).
import { renderValue, templateReads } from '../model/template.js';
import type { TaskItem, Vars } from '../types.js';

/** One top-level param of one item for one host: its value, or what rendering it threw. */
export type Rendered = { value: unknown } | { error: unknown };

const define = (o: Vars, k: string, value: unknown): void => {
  // defineProperty, so a `__proto__` key stays a plain key.
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
};

/** The value, or the error rendering threw (rethrown, so every reader sees the same message). */
export function valueOf(r: Rendered): unknown {
  if ('error' in r) throw r.error;
  return r.value;
}

/** The names a param's templates read; undefined when that does not decide its value. */
function readsOf(value: unknown, into: Set<string>): boolean {
  if (typeof value === 'string') {
    let names: string[] | undefined;
    try {
      names = templateReads(value);
    } catch {
      return false; // a syntax error: rendering reports it, every time
    }
    if (!names) return false;
    for (const n of names) into.add(n);
    return true;
  }
  if (Array.isArray(value)) return value.every((v) => readsOf(v, into));
  if (value !== null && typeof value === 'object') return Object.values(value).every((v) => readsOf(v, into));
  return true;
}

export class ParamRenders {
  private readonly memo = new Map<TaskItem, Map<string, Map<string, Rendered>>>();
  private readonly reads = new Map<TaskItem, Map<string, Set<string> | undefined>>();

  /** `scope`: a host's template scope in a play before the run (no registered results, no facts). */
  constructor(private readonly scope: (host: string, playIndex: number) => Vars) {}

  /** Param `key` of `item` for `host`, rendered against the plan's scope (once). */
  one(playIndex: number, item: TaskItem, host: string, key: string): Rendered {
    let byHost = this.memo.get(item);
    if (!byHost) this.memo.set(item, (byHost = new Map()));
    const hk = `${playIndex}\0${host}`;
    let byKey = byHost.get(hk);
    if (!byKey) byHost.set(hk, (byKey = new Map()));
    let r = byKey.get(key);
    if (!r) {
      try {
        r = { value: renderValue(item.params[key], this.scope(host, playIndex), { pos: item.pos, key: `${item.id}.${key}` }) };
      } catch (error) {
        r = { error };
      }
      byKey.set(key, r);
    }
    return r;
  }

  /** All of `item`'s params for `host`; throws the first error in key order, as rendering them at once would. */
  all(playIndex: number, item: TaskItem, host: string): Vars {
    const out: Vars = {};
    for (const k of Object.keys(item.params)) define(out, k, valueOf(this.one(playIndex, item, host, k)));
    return out;
  }

  /**
   * The params the executor runs with: the plan's rendering of each param unless a name it reads
   * has a value now that the plan's scope did not have (`changed`), or its value depends on more
   * than names (a controller file); those are rendered here against the run's `scope`.
   */
  atRun(playIndex: number, item: TaskItem, host: string, scope: Vars, changed: (name: string) => boolean): Vars {
    const out: Vars = {};
    for (const [k, raw] of Object.entries(item.params)) {
      const reads = this.readsOf(item, k);
      const reuse = reads !== undefined && ![...reads].some(changed);
      define(out, k, reuse ? valueOf(this.one(playIndex, item, host, k)) : renderValue(raw, scope, { pos: item.pos, key: `${item.id}.${k}` }));
    }
    return out;
  }

  private readsOf(item: TaskItem, key: string): Set<string> | undefined {
    let byKey = this.reads.get(item);
    if (!byKey) this.reads.set(item, (byKey = new Map()));
    if (!byKey.has(key)) {
      const names = new Set<string>();
      byKey.set(key, readsOf(item.params[key], names) ? names : undefined);
    }
    return byKey.get(key);
  }
}
