// Python's ast.literal_eval as Ansible's INI plugin applies it to every value (`_parse_value`):
// what literal_eval accepts becomes that value, anything it rejects (ValueError/SyntaxError)
// stays the raw string. So `8080  # note` is 8080, `yes` and `0644` stay strings, `1,2` is a
// list. Values without a JSON equivalent (sets, bytes beyond ASCII, complex, Ellipsis) are
// reported instead of guessed.

export class NoJsonValue extends Error {}

class Reject extends Error {}

type Tok =
  | { t: 'num'; v: number; imag: boolean }
  | { t: 'str'; v: string; bytes: boolean; fmt: boolean }
  | { t: 'name'; v: string }
  | { t: 'op'; v: string }
  | { t: 'end' };

/** The value Ansible gets for an INI value string (already split off its key). */
export function iniValue(raw: string): unknown {
  try {
    return literalEval(raw);
  } catch (e) {
    if (e instanceof Reject) return raw;
    throw e;
  }
}

function literalEval(src: string): unknown {
  const toks = tokenize(src.replace(/^[ \t]+/, ''));
  let p = 0;
  const peek = (): Tok => toks[p]!;
  const take = (): Tok => toks[p++]!;
  const isOp = (v: string): boolean => {
    const t = peek();
    return t.t === 'op' && t.v === v;
  };

  // Parsed nodes keep enough shape to apply literal_eval's rules after parsing.
  type Node =
    | { k: 'const'; v: unknown; num?: boolean; imag?: boolean }
    | { k: 'list' | 'tuple' | 'set'; items: Node[] }
    | { k: 'dict'; pairs: [Node, Node][] }
    | { k: 'unary'; op: string; operand: Node }
    | { k: 'bin'; op: string; l: Node; r: Node }
    | { k: 'other' };

  /** The remaining `, item` elements of a display after its first ones, and its closing bracket. */
  const rest = (items: Node[], close: string): Node[] => {
    while (isOp(',')) {
      take();
      if (isOp(close)) break;
      items.push(expr());
    }
    if (!isOp(close)) throw new Reject();
    take();
    return items;
  };

  const atom = (): Node => {
    const t = take();
    if (t.t === 'num') return { k: 'const', v: t.v, num: true, imag: t.imag };
    if (t.t === 'str') {
      let v = t.v;
      let bytes = t.bytes;
      let fmt = t.fmt;
      while (peek().t === 'str') {
        const n = take() as Extract<Tok, { t: 'str' }>;
        if (n.bytes !== bytes) throw new Reject(); // cannot mix bytes and str
        v += n.v;
        fmt ||= n.fmt;
        bytes = n.bytes;
      }
      if (fmt) return { k: 'other' }; // an f-string is not a literal
      if (bytes && /[^\x00-\x7f]/.test(v)) throw new NoJsonValue('a bytes literal with non-ASCII bytes');
      return { k: 'const', v };
    }
    if (t.t === 'name') {
      if (t.v === 'True') return { k: 'const', v: true };
      if (t.v === 'False') return { k: 'const', v: false };
      if (t.v === 'None') return { k: 'const', v: null };
      if (isOp('(')) {
        // a call: only `set()` is a literal, and that has no JSON value
        take();
        const args = isOp(')') ? (take(), []) : rest([expr()], ')');
        if (t.v === 'set' && args.length === 0) return { k: 'set', items: [] };
        return { k: 'other' };
      }
      return { k: 'other' };
    }
    if (t.t === 'op') {
      if (t.v === '...') return { k: 'const', v: NoJsonValue };
      if (t.v === '(') {
        if (isOp(')')) {
          take();
          return { k: 'tuple', items: [] };
        }
        const first = expr();
        if (isOp(')')) {
          take();
          return first;
        }
        return { k: 'tuple', items: rest([first], ')') };
      }
      if (t.v === '[') {
        if (isOp(']')) {
          take();
          return { k: 'list', items: [] };
        }
        return { k: 'list', items: rest([expr()], ']') };
      }
      if (t.v === '{') {
        if (isOp('}')) {
          take();
          return { k: 'dict', pairs: [] };
        }
        if (isOp('**')) return { k: 'other' }; // dict unpacking: not a literal (and never valid alone)
        const first = expr();
        if (isOp(':')) {
          take();
          const pairs: [Node, Node][] = [[first, expr()]];
          while (isOp(',')) {
            take();
            if (isOp('}')) break;
            const key = expr();
            if (!isOp(':')) throw new Reject();
            take();
            pairs.push([key, expr()]);
          }
          if (!isOp('}')) throw new Reject();
          take();
          return { k: 'dict', pairs };
        }
        return { k: 'set', items: rest([first], '}') };
      }
    }
    throw new Reject();
  };

  // Only the pieces of Python's expression grammar a literal can contain; anything else is a
  // syntax error here, which literal_eval would reject too (as ValueError or SyntaxError).
  const unary = (): Node => {
    if (isOp('-') || isOp('+')) {
      const op = (take() as { v: string }).v;
      return { k: 'unary', op, operand: unary() };
    }
    return atom();
  };
  const expr = (): Node => {
    let l = unary();
    while (isOp('+') || isOp('-')) {
      const op = (take() as { v: string }).v;
      l = { k: 'bin', op, l, r: unary() };
    }
    return l;
  };

  let root = expr();
  if (isOp(',')) {
    const items = [root];
    while (isOp(',')) {
      take();
      if (peek().t === 'end') break;
      items.push(expr());
    }
    root = { k: 'tuple', items };
  }
  if (peek().t !== 'end') throw new Reject();

  const num = (n: Node): number => {
    if (n.k === 'const' && n.num) {
      if (n.imag) throw new NoJsonValue('a complex number');
      return n.v as number;
    }
    throw new Reject();
  };
  const convert = (n: Node): unknown => {
    switch (n.k) {
      case 'const':
        if (n.v === NoJsonValue) throw new NoJsonValue('Ellipsis');
        if (n.imag) throw new NoJsonValue('a complex number');
        return n.v;
      case 'list':
      case 'tuple':
        return n.items.map(convert);
      case 'set':
        n.items.forEach(convert);
        throw new NoJsonValue('a set');
      case 'dict': {
        const out: Record<string, unknown> = {};
        for (const [k, v] of n.pairs) {
          const key = convert(k);
          if (key !== null && typeof key === 'object') throw new NoJsonValue('a dict key that is a list or dict');
          Object.defineProperty(out, jsonKey(key), { value: convert(v), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 'unary': {
        const v = num(n.operand);
        return n.op === '-' ? -v : v;
      }
      case 'bin': {
        // literal_eval only allows real +/- imaginary, i.e. complex numbers
        const r = n.r;
        if (r.k === 'const' && r.imag) throw new NoJsonValue('a complex number');
        throw new Reject();
      }
      default:
        throw new Reject();
    }
  };
  return convert(root);
}

/** How Python's json module writes a non-string dict key. */
function jsonKey(k: unknown): string {
  if (k === null) return 'null';
  if (typeof k === 'boolean') return k ? 'true' : 'false';
  return String(k);
}

// ------------------------------------------------------------------ tokenizer

const NUM = /^(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][-+]?\d(?:_?\d)*)?|\d(?:_?\d)*\.(?:[eE][-+]?\d(?:_?\d)*)?|\d(?:_?\d)*[eE][-+]?\d(?:_?\d)*|0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|[1-9](?:_?\d)*|0+(?:_?0)*|\d(?:_?\d)*)([jJ])?/;

function tokenize(s: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') break;
    const strStart = /^([rRbBuUfF]{0,2})(['"])/.exec(s.slice(i));
    if (strStart && /^(?:|r|u|b|br|rb|f|fr|rf)$/i.test(strStart[1]!)) {
      const prefix = strStart[1]!.toLowerCase();
      i += strStart[0].length;
      const q = strStart[2]!;
      const triple = s.startsWith(q + q, i);
      if (triple) i += 2;
      const close = triple ? q.repeat(3) : q;
      let body = '';
      for (;;) {
        if (i >= s.length) throw new Reject();
        if (s.startsWith(close, i)) {
          i += close.length;
          break;
        }
        const ch = s[i]!;
        if (ch === '\\' && i + 1 < s.length) {
          body += ch + s[i + 1];
          i += 2;
          continue;
        }
        if (ch === '\\') throw new Reject();
        body += ch;
        i++;
      }
      const raw = prefix.includes('r');
      const bytes = prefix.includes('b');
      out.push({ t: 'str', v: raw ? body : unescape(body, bytes), bytes, fmt: prefix.includes('f') });
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(s[i + 1] ?? ''))) {
      const m = NUM.exec(s.slice(i));
      if (!m) throw new Reject();
      const text = m[0];
      // Python refuses leading zeros in decimal integers (`0644`) and digits glued to names.
      if (/^0\d/.test(text) && !/[.eEjJ]/.test(text) && !/^0+(?:_?0)*$/.test(text)) throw new Reject();
      if (/^[\w.]/.test(s.slice(i + text.length))) throw new Reject();
      const body = (m[1] ? text.slice(0, -1) : text).replace(/_/g, '');
      let v: number;
      if (/^0[xX]/.test(body)) v = parseInt(body.slice(2), 16);
      else if (/^0[oO]/.test(body)) v = parseInt(body.slice(2), 8);
      else if (/^0[bB]/.test(body)) v = parseInt(body.slice(2), 2);
      else v = Number(body);
      out.push({ t: 'num', v, imag: Boolean(m[1]) });
      i += text.length;
      continue;
    }
    const name = /^[A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*/.exec(s.slice(i));
    if (name) {
      out.push({ t: 'name', v: name[0] });
      i += name[0].length;
      continue;
    }
    const op = /^(?:\.\.\.|\*\*|[-+()[\]{},:*])/.exec(s.slice(i));
    if (op) {
      out.push({ t: 'op', v: op[0] });
      i += op[0].length;
      continue;
    }
    throw new Reject();
  }
  out.push({ t: 'end' });
  return out;
}

function unescape(body: string, bytes: boolean): string {
  return body.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|N\{[^}]*\}|([\s\S]))/g,
    (all, oct?: string, hex?: string, u4?: string, u8?: string, other?: string) => {
      if (oct) return String.fromCodePoint(parseInt(oct, 8));
      if (hex) return String.fromCodePoint(parseInt(hex, 16));
      if (u4 || u8) {
        if (bytes) return all;
        const cp = parseInt((u4 ?? u8)!, 16);
        if (cp > 0x10ffff) throw new Reject();
        return String.fromCodePoint(cp);
      }
      if (other === undefined) {
        if (bytes) return all;
        throw new NoJsonValue('a \\N{...} escape'); // names of Unicode characters: not worth a table
      }
      const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\n': '' };
      if (other in simple) return simple[other]!;
      if (other === 'x' || (!bytes && (other === 'u' || other === 'U'))) throw new Reject(); // truncated escape
      return all; // unknown escapes keep their backslash
    });
}
