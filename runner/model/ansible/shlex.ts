// Python's shlex.split (posix mode, whitespace_split), which Ansible uses for INI host lines
// (with comments) and for ssh argument strings (without). Ported state by state so quoting,
// escapes and `#` inside a word behave exactly as there.

export interface ShlexToken {
  text: string;
  /** 1-based column where the token starts in the input. */
  col: number;
}

const WHITESPACE = ' \t\r\n';

/** Throws Error('No closing quotation' | 'No escaped character') like Python's shlex. */
export function shlexSplit(s: string, comments: boolean): ShlexToken[] {
  const out: ShlexToken[] = [];
  let i = 0;
  const next = (): string => (i < s.length ? s[i++]! : '');
  for (;;) {
    let state: string | null = ' ';
    let token = '';
    let quoted = false;
    let escapedState = ' ';
    let start = -1;
    for (;;) {
      const c = next();
      if (state === ' ') {
        if (!c) {
          state = null;
          break;
        }
        if (WHITESPACE.includes(c)) {
          if (token || quoted) break;
          continue;
        }
        if (comments && c === '#') {
          i = s.length; // readline(): the rest of the (single) line
          continue;
        }
        start = start < 0 ? i - 1 : start;
        if (c === '\\') {
          escapedState = 'a';
          state = c;
        } else if (c === "'" || c === '"') state = c;
        else {
          token = c;
          state = 'a';
        }
      } else if (state === "'" || state === '"') {
        quoted = true;
        if (!c) throw new Error('No closing quotation');
        if (c === state) state = 'a';
        else if (state === '"' && c === '\\') {
          escapedState = state;
          state = c;
        } else token += c;
      } else if (state === '\\') {
        if (!c) throw new Error('No escaped character');
        // Within double quotes only the quote itself and the backslash can be escaped.
        if (escapedState === '"' && c !== '\\' && c !== escapedState) token += '\\';
        token += c;
        state = escapedState;
      } else {
        // state 'a': inside a word
        if (!c) {
          state = null;
          break;
        }
        if (WHITESPACE.includes(c)) {
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (comments && c === '#') {
          i = s.length;
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (c === "'" || c === '"') state = c;
        else if (c === '\\') {
          escapedState = 'a';
          state = c;
        } else token += c;
      }
    }
    if (!quoted && token === '') {
      if (state === null) return out;
      continue;
    }
    out.push({ text: token, col: start + 1 });
    if (state === null) return out;
  }
}
