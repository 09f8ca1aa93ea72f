// Host patterns as ansible-playbook evaluates them (lib/ansible/inventory/manager.py): in a
// play's `hosts:` and in `--limit`. `,` or `:` separate patterns; `&x` intersects, `!x` excludes
// (plain patterns first, then every `&`, then every `!`, whatever the written order); `*`, `?` and
// `[...]` are fnmatch globs, `~re` a Python regex matched at the start; `g[0]`, `g[-1]`, `g[1:]`,
// `g[0:2]` (end inclusive) take part of what the pattern matched; `@file` in --limit reads one
// pattern per line. A pattern that matches nothing is a warning, not an error, as in Ansible.
import { readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { InputError, type InputProblem } from '../errors.js';
import { parseAddress } from './ansible/address.js';
import type { Inventory, SourcePos } from '../types.js';

/** The names C.LOCALHOST gives the implicit localhost. */
const LOCALHOST = new Set(['localhost', '127.0.0.1', '::1']);

// PATTERN_WITH_SUBSCRIPT: a pattern ending in [n], [-n], [x:y], [x:] or the removed [x-y].
const SUBSCRIPT = /^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$/s;

/** split_host_pattern: a list of single patterns (commas, else `:` unless it reads as one address). */
export function splitHostPattern(pattern: string | string[]): string[] {
  if (Array.isArray(pattern)) return pattern.flatMap((p) => splitHostPattern(p));
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (parseAddress(pattern)) parts = [pattern];
  // The backwards-compatible `:` list: runs of anything but whitespace and `:[]`, or whole [...].
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((p) => p.trim()).filter(Boolean);
}

/** fnmatch.translate: `*`, `?`, `[seq]`, `[!seq]`, anchored at both ends, case-sensitive. */
export function fnmatchRegExp(pat: string): RegExp {
  let out = '';
  for (let i = 0; i < pat.length; i++) {
    const c = pat[i]!;
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pat[j] === '!') j++;
      if (pat[j] === ']') j++;
      while (j < pat.length && pat[j] !== ']') j++;
      if (j >= pat.length) out += '\\[';
      else {
        let body = pat.slice(i + 1, j).replace(/\\/g, '\\\\');
        i = j;
        if (body[0] === '!') body = `^${body.slice(1)}`;
        else if (body[0] === '^') body = `\\${body}`;
        out += `[${body}]`;
      }
    } else out += c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${out})$`, 's');
}

export interface Selection {
  /** Matching hosts, deduplicated, in the order Ansible evaluates them. */
  hosts: string[];
  /** "Could not match supplied host pattern, ignoring: X", once per pattern. */
  warnings: string[];
}

/** What a host pattern can see of the inventory. */
interface View {
  inv: Inventory;
  implicit: (h: string) => boolean;
}

function viewOf(inv: Inventory): View {
  // The implicit localhost is no inventory host: patterns never match it, only its own name does.
  const all = new Set(inv.groups.get('all')?.hosts ?? []);
  const declared = new Set([...inv.groups.values()].flatMap((g) => g.hosts));
  return { inv, implicit: (h) => h === 'localhost' && !all.has(h) && !declared.has(h) };
}

function matcher(pattern: string): RegExp {
  try {
    if (pattern[0] !== '~') return fnmatchRegExp(pattern);
    // re.match: anchored at the start only.
    return new RegExp(`^(?:${pattern.slice(1)})`);
  } catch {
    throw new InputError([{ message: `Invalid host list pattern: ${pattern}` }]);
  }
}

/** _match_one_pattern without the & / ! prefix: enumerate, then apply the subscript. */
function matchOne(v: View, pattern: string, warnings: string[]): string[] {
  let expr = pattern;
  let sub: [number, number | undefined] | undefined;
  if (pattern[0] !== '~') {
    const m = SUBSCRIPT.exec(pattern);
    if (m) {
      expr = m[1]!;
      if (m[2] !== undefined) sub = [Number(m[2]), undefined];
      else {
        if (m[4] === '-') throw new InputError([{ message: `host pattern ${pattern}: use [x:y] inclusive subscripts instead of [x-y], which Ansible removed` }]);
        sub = [Number(m[3]), m[5] ? Number(m[5]) : -1];
      }
    }
  }
  const hosts = enumerate(v, expr, warnings);
  if (!sub || hosts.length === 0) return hosts;
  const [start, end] = sub;
  // Python: hosts[start:end + 1] for a range (an end of 0 counts as none), hosts[start] otherwise.
  if (end) return hosts.slice(start, (end === -1 ? hosts.length - 1 : end) + 1);
  const i = start < 0 ? hosts.length + start : start;
  if (i < 0 || i >= hosts.length) throw new InputError([{ message: `No hosts matched the subscripted pattern '${pattern}'` }]);
  return [hosts[i]!];
}

function enumerate(v: View, pattern: string, warnings: string[]): string[] {
  const re = matcher(pattern);
  const out: string[] = [];
  const groups = [...v.inv.groups.keys()].filter((g) => re.test(g));
  for (const g of groups) out.push(...v.inv.groups.get(g)!.hosts);
  if (groups.length === 0 || pattern[0] === '~' || /[.?*[]/.test(pattern)) {
    for (const h of v.inv.hosts.keys()) if (!v.implicit(h) && re.test(h)) out.push(h);
  }
  if (out.length === 0 && LOCALHOST.has(pattern) && v.inv.hosts.has('localhost')) out.push('localhost');
  if (out.length === 0 && groups.length === 0 && pattern !== 'all') {
    const w = `Could not match supplied host pattern, ignoring: ${pattern}`;
    if (!warnings.includes(w)) warnings.push(w);
  }
  return [...new Set(out)];
}

/** _evaluate_patterns over already split patterns. */
export function evaluatePatterns(inv: Inventory, patterns: string[], warnings: string[] = []): string[] {
  const v = viewOf(inv);
  const regular = patterns.filter((p) => p[0] !== '!' && p[0] !== '&');
  const ordered = [...(regular.length ? regular : ['all']), ...patterns.filter((p) => p[0] === '&'), ...patterns.filter((p) => p[0] === '!')];
  let hosts: string[] = [];
  for (const p of ordered) {
    if (inv.hosts.has(p) && !v.implicit(p)) {
      hosts.push(p);
      continue;
    }
    const that = matchOne(v, p[0] === '&' || p[0] === '!' ? p.slice(1) : p, warnings);
    if (p[0] === '!') hosts = hosts.filter((h) => !that.includes(h));
    else if (p[0] === '&') hosts = hosts.filter((h) => that.includes(h));
    else hosts.push(...that.filter((h) => !hosts.includes(h)));
  }
  return [...new Set(hosts)];
}

/** A play's `hosts:` (a string or a list of strings) to hosts; errors carry `where`. */
export function selectPattern(inv: Inventory, pattern: string | string[], where?: SourcePos, key = 'hosts'): Selection {
  const warnings: string[] = [];
  try {
    return { hosts: evaluatePatterns(inv, splitHostPattern(pattern), warnings), warnings };
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.problems.map((p) => ({ ...p, key, ...(where ? { pos: where } : {}) })));
    throw e;
  }
}

/**
 * inventory.subset(): the --limit value as a list of patterns, each `@file` replaced by the
 * lines of that file (relative to `cwd`), as Ansible reads a retry file.
 */
export function limitPatterns(limit: string, cwd = process.cwd()): string[] {
  const out: string[] = [];
  const problems: InputProblem[] = [];
  for (const p of splitHostPattern(limit)) {
    if (p[0] !== '@') {
      out.push(p);
      continue;
    }
    const file = resolvePath(cwd, p.slice(1));
    let text: string;
    try {
      if (!statSync(file).isFile()) {
        problems.push({ key: '--limit', message: `Limit starting with "@" must be a file, not a directory: ${p.slice(1)}` });
        continue;
      }
      text = readFileSync(file, 'utf8');
    } catch {
      problems.push({ key: '--limit', message: `Unable to find limit file ${p.slice(1)}` });
      continue;
    }
    out.push(...text.split('\n').map((l) => l.trim()).filter(Boolean));
  }
  if (problems.length) throw new InputError(problems);
  return out;
}

/** The hosts --limit leaves, over the whole inventory (what "no hosts to target" is judged on). */
export function selectLimit(inv: Inventory, limit: string[]): Selection {
  const warnings: string[] = [];
  try {
    return { hosts: evaluatePatterns(inv, limit, warnings), warnings };
  } catch (e) {
    if (e instanceof InputError) throw new InputError(e.problems.map((p) => ({ ...p, key: '--limit', pos: undefined })));
    throw e;
  }
}
