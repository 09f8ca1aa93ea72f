// README.md is the first page a newcomer reads: it must render as written (every code fence
// closed, so headings stay headings and code stays code), name each section once, and its
// Layout block must describe the tree as it is.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './cli-helpers.js';

interface Parsed {
  /** Problems with fences, as `line N: ...`. */
  fences: string[];
  /** `## ` headings outside code, in order. */
  headings: string[];
  /** Lines of the code block under `## Layout`. */
  layout: string[];
}

/** CommonMark fences as GitHub renders them: a fence opens with ``` (an info string allowed)
 * and closes with a bare ``` of at least the same length. */
export function parse(md: string): Parsed {
  const out: Parsed = { fences: [], headings: [], layout: [] };
  let open: { line: number; ticks: number; layout: boolean } | undefined;
  let section = '';
  md.split('\n').forEach((text, i) => {
    const line = i + 1;
    const fence = /^ {0,3}(`{3,})(.*)$/.exec(text);
    if (open) {
      if (fence && fence[1]!.length >= open.ticks && fence[2]!.trim() === '') open = undefined;
      else if (fence && fence[2]!.trim() !== '') out.fences.push(`line ${line}: "${text.trim()}" inside the code block opened at line ${open.line}`);
      else if (open.layout) out.layout.push(text);
      return;
    }
    if (fence) {
      open = { line, ticks: fence[1]!.length, layout: section === 'Layout' };
      return;
    }
    const h = /^## (.+?)\s*$/.exec(text);
    if (h) {
      section = h[1]!;
      out.headings.push(section);
    }
  });
  if (open) out.fences.push(`line ${open.line}: code block never closed`);
  return out;
}

/** Repository paths the Layout block names: top-level entries as written, indented ones as
 * names (modules without their extension, or `dir/`) inside the entry above them. */
export function layoutPaths(lines: string[]): string[] {
  const out: string[] = [];
  let parent = '';
  for (const line of lines) {
    const m = /^( *)(\S+(?: \S+)*)(?: {2,}|$)/.exec(line);
    if (!m) continue;
    const names = m[2]!.split(' ');
    if (m[1]!.length === 0) {
      out.push(...names);
      parent = names.length === 1 && names[0]!.endsWith('/') ? names[0]! : '';
    } else {
      out.push(...names.map((n) => `${parent}${n}`));
    }
  }
  return out;
}

/** A named path exists: as a file or directory, or as a module `NAME.<ext>`. */
function exists(path: string): boolean {
  const abs = join(root, path.replace(/\/$/, ''));
  if (path.endsWith('/')) return existsSync(abs) && statSync(abs).isDirectory();
  if (existsSync(abs)) return true;
  const dir = join(abs, '..');
  const base = abs.slice(dir.length + 1);
  return existsSync(dir) && readdirSync(dir).some((f) => f.startsWith(`${base}.`) && !f.startsWith(`${base}.test.`));
}

test('the checker catches a pasted block that closes a fence it never opened', () => {
  const broken = ['## A', '```yaml', 'a: 1', '```', 'text', '```', '## Layout', '```', 'x/', '```', '## A', ''].join('\n');
  const p = parse(broken);
  assert.ok(p.fences.length > 0, 'unbalanced fences reported');
  const good = parse(['## A', '```yaml', 'a: 1', '```', '## Layout', '```', 'runner/   engine', '  cli task   x', '```', ''].join('\n'));
  assert.equal(good.fences, []);
  assert.equal(good.headings, ['A', 'Layout']);
  assert.equal(layoutPaths(good.layout), ['runner/', 'runner/cli', 'runner/task']);
});

test('README.md: every code fence is closed, and no fence opens inside another', () => {
  const p = parse(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.equal(p.fences, []);
});

test('README.md: each section heading appears once', () => {
  const { headings } = parse(readFileSync(join(root, 'README.md'), 'utf8'));
  assert.ok(headings.length >= 5, `only ${headings.length} headings found`);
  const twice = headings.filter((h, i) => headings.indexOf(h) !== i);
  assert.equal(twice, []);
});

test('README.md: the Layout block names only paths that exist', () => {
  const { layout } = parse(readFileSync(join(root, 'README.md'), 'utf8'));
  const paths = layoutPaths(layout);
  assert.ok(paths.includes('runner/') && paths.includes('tasks/'), `Layout block not found or not parsed: ${paths.join(' ')}`);
  assert.equal(paths.filter((p) => !exists(p)), []);
});

test.run();
