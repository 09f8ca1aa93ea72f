// `when:` expressions: a small hand-written recursive-descent parser and tree-walking evaluator.
// No eval, no new Function, no function calls, no method access: an expression can only read
// own properties of the vars it is given, so hostile playbooks cannot reach JS internals.
//
// Grammar (lowest precedence first):
//   or    := and (("or" | "||") and)*
//   and   := not (("and" | "&&") not)*
//   not   := ("not" | "!") not | test
//   test  := value (cmpop value | "in" value | "not" "in" value | "is" ["not"] (defined|undefined|truthy|none))?
//   value := primary ("." name | "[" or "]")*
//   primary := string | number | true | false | null | name | "(" or ")" | "[" [or ("," or)*] "]"
import type { Vars } from '../types.js';
import { FORBIDDEN_NAMES } from './template.js';

export class ExprError extends Error {
  /** 1-based column in the expression source. */
  constructor(message: string, public readonly col: number, public readonly source: string) {
    super(message);
    this.name = 'ExprError';
  }
}

export type Expr =
  | { kind: 'lit'; value: string | number | boolean | null; col: number }
  | { kind: 'list'; items: Expr[]; col: number }
  | { kind: 'var'; name: string; col: number }
  | { kind: 'member'; object: Expr; prop: Expr; col: number }
  | { kind: 'not'; arg: Expr; col: number }
  | { kind: 'logic'; op: 'and' | 'or'; left: Expr; right: Expr; col: number }
  | { kind: 'cmp'; op: '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in'; left: Expr; right: Expr; col: number }
  | { kind: 'is'; test: 'defined' | 'undefined' | 'truthy' | 'none'; negate: boolean; arg: Expr; col: number };

type Tok =
  | { t: 'str'; v: string; col: number }
  | { t: 'num'; v: number; col: number }
  | { t: 'name'; v: string; col: number }
  | { t: 'op'; v: string; col: number }
  | { t: 'end'; col: number };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '<', '>', '!', '(', ')', '[', ']', ',', '.'];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const col = i + 1;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let s = '';
      for (;;) {
        if (j >= src.length) throw new ExprError('unterminated string', col, src);
        const d = src[j]!;
        if (d === c) break;
        if (d === '\\' && j + 1 < src.length) {
          const e = src[j + 1]!;
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          j += 2;
          continue;
        }
        s += d;
        j++;
      }
      out.push({ t: 'str', v: s, col });
      i = j + 1;
      continue;
    }
    const num = /^-?(?:\d+\.\d+|\d+)(?![\w])/.exec(src.slice(i));
    if (num && (c !== '-' || !prevIsValue(out))) {
      out.push({ t: 'num', v: Number(num[0]), col });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (name) {
      out.push({ t: 'name', v: name[0], col });
      i += name[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ t: 'op', v: op, col });
      i += op.length;
      continue;
    }
    throw new ExprError(`unexpected character ${JSON.stringify(c)}`, col, src);
  }
  out.push({ t: 'end', col: src.length + 1 });
  return out;
}

function prevIsValue(toks: Tok[]): boolean {
  const p = toks[toks.length - 1];
  return !!p && (p.t === 'num' || p.t === 'str' || p.t === 'name' || (p.t === 'op' && (p.v === ')' || p.v === ']')));
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'true', 'false', 'null', 'none', 'True', 'False', 'None']);
const MAX_DEPTH = 64;

class Parser {
  private i = 0;
  private depth = 0;
  constructor(private readonly toks: Tok[], private readonly src: string) {}

  private peek(): Tok { return this.toks[this.i]!; }
  private next(): Tok { return this.toks[this.i++]!; }
  private isOp(v: string): boolean { const t = this.peek(); return t.t === 'op' && t.v === v; }
  private isName(v: string): boolean { const t = this.peek(); return t.t === 'name' && t.v === v; }
  private fail(msg: string, tok: Tok = this.peek()): never { throw new ExprError(msg, tok.col, this.src); }
  private describe(t: Tok): string {
    return t.t === 'end' ? 'end of expression' : t.t === 'str' ? `string ${JSON.stringify(t.v)}` : `"${String(t.v)}"`;
  }

  parse(): Expr {
    if (this.peek().t === 'end') this.fail('empty expression');
    const e = this.or();
    const t = this.peek();
    if (t.t !== 'end') this.fail(`unexpected ${this.describe(t)}`);
    return e;
  }

  private nest<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail('expression nested too deeply');
    try { return f(); } finally { this.depth--; }
  }

  private or(): Expr {
    let left = this.and();
    while (this.isName('or') || this.isOp('||')) {
      const col = this.next().col;
      left = { kind: 'logic', op: 'or', left, right: this.and(), col };
    }
    return left;
  }

  private and(): Expr {
    let left = this.not();
    while (this.isName('and') || this.isOp('&&')) {
      const col = this.next().col;
      left = { kind: 'logic', op: 'and', left, right: this.not(), col };
    }
    return left;
  }

  private not(): Expr {
    if (this.isName('not') || this.isOp('!')) {
      const col = this.next().col;
      return this.nest(() => ({ kind: 'not', arg: this.not(), col }));
    }
    return this.test();
  }

  private test(): Expr {
    const left = this.value();
    const t = this.peek();
    if (t.t === 'op' && ['==', '!=', '<', '<=', '>', '>='].includes(t.v)) {
      this.next();
      return { kind: 'cmp', op: t.v as '==', left, right: this.value(), col: t.col };
    }
    if (this.isName('in')) {
      this.next();
      return { kind: 'cmp', op: 'in', left, right: this.value(), col: t.col };
    }
    if (this.isName('not')) {
      this.next();
      if (!this.isName('in')) this.fail('expected "in" after "not"');
      this.next();
      return { kind: 'cmp', op: 'not in', left, right: this.value(), col: t.col };
    }
    if (this.isName('is')) {
      this.next();
      let negate = false;
      if (this.isName('not')) { this.next(); negate = true; }
      const w = this.next();
      const word = w.t === 'name' ? w.v.toLowerCase() : '';
      if (word !== 'defined' && word !== 'undefined' && word !== 'truthy' && word !== 'none') {
        this.fail('expected defined, undefined, truthy or none after "is"', w);
      }
      return { kind: 'is', test: word, negate, arg: left, col: t.col };
    }
    return left;
  }

  private value(): Expr {
    let e = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        const dot = this.next();
        const n = this.next();
        if (n.t === 'name') e = { kind: 'member', object: e, prop: { kind: 'lit', value: n.v, col: n.col }, col: dot.col };
        else if (n.t === 'num' && Number.isInteger(n.v) && n.v >= 0) e = { kind: 'member', object: e, prop: { kind: 'lit', value: n.v, col: n.col }, col: dot.col };
        else this.fail('expected a name after "."', n);
      } else if (this.isOp('[')) {
        const b = this.next();
        const prop = this.nest(() => this.or());
        if (!this.isOp(']')) this.fail('expected "]"');
        this.next();
        e = { kind: 'member', object: e, prop, col: b.col };
      } else if (this.isOp('(')) {
        this.fail('function calls are not allowed');
      } else {
        return e;
      }
    }
  }

  private primary(): Expr {
    const t = this.next();
    switch (t.t) {
      case 'str': return { kind: 'lit', value: t.v, col: t.col };
      case 'num': return { kind: 'lit', value: t.v, col: t.col };
      case 'name': {
        if (t.v === 'true' || t.v === 'True') return { kind: 'lit', value: true, col: t.col };
        if (t.v === 'false' || t.v === 'False') return { kind: 'lit', value: false, col: t.col };
        if (t.v === 'null' || t.v === 'none' || t.v === 'None') return { kind: 'lit', value: null, col: t.col };
        if (KEYWORDS.has(t.v)) this.fail(`unexpected "${t.v}"`, t);
        return { kind: 'var', name: t.v, col: t.col };
      }
      case 'op':
        if (t.v === '(') {
          const e = this.nest(() => this.or());
          if (!this.isOp(')')) this.fail('expected ")"');
          this.next();
          return e;
        }
        if (t.v === '[') {
          const items: Expr[] = [];
          if (!this.isOp(']')) {
            for (;;) {
              items.push(this.nest(() => this.or()));
              if (this.isOp(',')) { this.next(); if (this.isOp(']')) break; continue; }
              break;
            }
          }
          if (!this.isOp(']')) this.fail('expected "]" or ","');
          this.next();
          return { kind: 'list', items, col: t.col };
        }
        return this.fail(`unexpected ${this.describe(t)}`, t);
      case 'end':
        return this.fail('unexpected end of expression', t);
    }
  }
}

const cache = new Map<string, Expr>();

/** Parse an expression; throws ExprError with a 1-based column. */
export function parseExpr(src: string): Expr {
  const hit = cache.get(src);
  if (hit) return hit;
  if (src.length > 10_000) throw new ExprError('expression too long', 1, src);
  const e = new Parser(tokenize(src), src).parse();
  if (cache.size > 5000) cache.clear();
  cache.set(src, e);
  return e;
}

/** Variable names an expression reads at the top level (for static checks). */
export function exprRefs(expr: Expr | string): string[] {
  const e = typeof expr === 'string' ? parseExpr(expr) : expr;
  const out = new Set<string>();
  const walk = (x: Expr, guarded: boolean): void => {
    switch (x.kind) {
      case 'var': if (!guarded) out.add(x.name); break;
      case 'member': walk(x.object, guarded); walk(x.prop, false); break;
      case 'list': x.items.forEach((i) => walk(i, false)); break;
      case 'not': walk(x.arg, guarded); break;
      case 'logic': case 'cmp': walk(x.left, false); walk(x.right, false); break;
      case 'is': walk(x.arg, x.test === 'defined' || x.test === 'undefined'); break;
      default: break;
    }
  };
  walk(e, false);
  return [...out];
}

const UNDEF = Symbol('undefined');
type Val = unknown;

/** Python/Jinja truthiness: empty strings, lists and objects are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (typeof v === 'number' && Number.isNaN(v)) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function describePath(e: Expr): string {
  if (e.kind === 'var') return e.name;
  if (e.kind === 'member') {
    const p = e.prop.kind === 'lit' ? e.prop.value : '?';
    return typeof p === 'number' ? `${describePath(e.object)}[${p}]` : `${describePath(e.object)}.${String(p)}`;
  }
  return 'value';
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual((a as Vars)[k], (b as Vars)[k]));
}

class Evaluator {
  constructor(private readonly scope: Vars, private readonly src: string) {}

  private fail(msg: string, col: number): never { throw new ExprError(msg, col, this.src); }

  /** Look up without failing on undefined (returns UNDEF). */
  private resolve(e: Expr): Val | typeof UNDEF {
    if (e.kind === 'var') {
      if (FORBIDDEN_NAMES.has(e.name)) this.fail(`"${e.name}" is not allowed`, e.col);
      return Object.prototype.hasOwnProperty.call(this.scope, e.name) ? this.scope[e.name] : UNDEF;
    }
    if (e.kind === 'member') {
      const obj = this.resolve(e.object);
      if (obj === UNDEF) return UNDEF;
      const key = this.value(e.prop);
      if (typeof key !== 'string' && typeof key !== 'number') this.fail('index must be a string or number', e.prop.col);
      const k = String(key);
      if (FORBIDDEN_NAMES.has(k)) this.fail(`"${k}" is not allowed`, e.prop.col);
      if (obj === null || typeof obj !== 'object') return UNDEF;
      return Object.prototype.hasOwnProperty.call(obj, k) ? (obj as Record<string, unknown>)[k] : UNDEF;
    }
    return this.value(e);
  }

  value(e: Expr): Val {
    switch (e.kind) {
      case 'lit': return e.value;
      case 'list': return e.items.map((i) => this.value(i));
      case 'var':
      case 'member': {
        const v = this.resolve(e);
        if (v === UNDEF) this.fail(`"${describePath(e)}" is not defined (use "is defined" to test for it)`, e.col);
        return v;
      }
      case 'not': return !truthy(this.value(e.arg));
      case 'logic': {
        const l = this.value(e.left);
        if (e.op === 'and') return truthy(l) ? this.value(e.right) : l;
        return truthy(l) ? l : this.value(e.right);
      }
      case 'is': {
        let r: boolean;
        if (e.test === 'defined' || e.test === 'undefined') {
          const v = this.resolve(e.arg);
          r = (v !== UNDEF) === (e.test === 'defined');
        } else if (e.test === 'none') {
          r = this.value(e.arg) === null;
        } else {
          r = truthy(this.value(e.arg));
        }
        return e.negate ? !r : r;
      }
      case 'cmp': {
        const l = this.value(e.left);
        const r = this.value(e.right);
        switch (e.op) {
          case '==': return deepEqual(l, r);
          case '!=': return !deepEqual(l, r);
          case 'in': case 'not in': {
            let found: boolean;
            if (Array.isArray(r)) found = r.some((x) => deepEqual(x, l));
            else if (typeof r === 'string') {
              if (typeof l !== 'string') this.fail('"in" a string needs a string on the left', e.col);
              found = r.includes(l);
            } else if (r !== null && typeof r === 'object') found = typeof l === 'string' && Object.prototype.hasOwnProperty.call(r, l);
            else this.fail('"in" needs a list, string or mapping on the right', e.col);
            return e.op === 'in' ? found : !found;
          }
          default: {
            const bothNum = typeof l === 'number' && typeof r === 'number';
            const bothStr = typeof l === 'string' && typeof r === 'string';
            if (!bothNum && !bothStr) this.fail(`cannot compare ${typeof l} with ${typeof r} using ${e.op}`, e.col);
            const a = l as number | string;
            const b = r as number | string;
            return e.op === '<' ? a < b : e.op === '<=' ? a <= b : e.op === '>' ? a > b : a >= b;
          }
        }
      }
    }
  }
}

export function evalExpr(expr: Expr | string, scope: Vars): unknown {
  const src = typeof expr === 'string' ? expr : '';
  const e = typeof expr === 'string' ? parseExpr(expr) : expr;
  return new Evaluator(scope, src).value(e);
}

export function evalWhen(src: string, scope: Vars): boolean {
  return truthy(evalExpr(src, scope));
}
