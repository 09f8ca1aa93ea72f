// YAML loading that keeps source positions, so every later error can name file:line:column.
// Hostile input is refused here, before anything interprets it: oversized files, binary data,
// duplicate keys, alias bombs, unknown tags and non-mapping documents.
import { readFileSync, statSync } from 'node:fs';
import {
  LineCounter, parseAllDocuments, parseDocument, isAlias, isMap, isScalar, isSeq, isPair, isNode,
  type Document, type Node as YNode, type ScalarTag,
} from 'yaml';
import { InputError, type InputProblem } from '../errors.js';
import type { SourcePos } from '../types.js';
import { fastYaml, lineCounter, type FastYaml, type YamlPath } from './yamlfast.js';

export type { YamlPath };

export interface YamlSource {
  /** Path as given by the user (used in messages). */
  file: string;
  /** Plain JS value of the document. */
  value: unknown;
  /** Position of the key (or sequence item) at that path; nearest existing ancestor otherwise. */
  posOf(path: YamlPath): SourcePos;
  /** Position of the value at that path (falls back like posOf). */
  valuePosOf(path: YamlPath): SourcePos;
  /** Paths of scalars tagged `!secret`. */
  secretPaths: YamlPath[];
}

/** Larger inputs are refused: no sane inventory or playbook comes close, and parsing is O(n) memory. */
export const MAX_YAML_BYTES = 2 * 1024 * 1024;
/** Aliases allowed per document; billion-laughs expansions need far more. */
export const MAX_ALIAS_COUNT = 100;

const secretTag: ScalarTag = {
  tag: '!secret',
  // The value stays a string; the tag only marks it for masking.
  resolve: (str: string) => str,
};

/**
 * YAML text a task reads (manifests, chart values, cluster configs, command output) under the
 * same limits as inventories and playbooks: bounded size and alias expansions, every document
 * checked. Problems are returned as a one-line message, never thrown.
 */
export function yamlDocuments(text: string): { values: unknown[] } | { problem: string } {
  if (Buffer.byteLength(text) > MAX_YAML_BYTES) return { problem: `is larger than ${MAX_YAML_BYTES} bytes` };
  if (text.includes('\0')) return { problem: 'contains binary data (NUL byte)' };
  const values: unknown[] = [];
  try {
    for (const doc of parseAllDocuments(text)) {
      const err = doc.errors[0];
      if (err) return { problem: `is not valid YAML: ${err.message.split('\n')[0]}` };
      values.push(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }));
    }
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    return { problem: /excessive alias/i.test(msg) ? `has too many alias expansions (more than ${MAX_ALIAS_COUNT}); refusing a possible alias bomb` : `is not valid YAML: ${msg.split('\n')[0]}` };
  }
  return { values };
}

/** One YAML document (empty text is null), read as yamlDocuments reads them. */
export function yamlValue(text: string): { value: unknown } | { problem: string } {
  const r = yamlDocuments(text);
  if ('problem' in r) return r;
  if (r.values.length > 1) return { problem: 'holds more than one YAML document' };
  return { value: r.values[0] ?? null };
}

export function loadYamlFile(file: string): YamlSource {
  let buf: Buffer;
  try {
    const st = statSync(file);
    if (st.isDirectory()) throw new InputError([{ pos: at(file, 1, 1), message: 'is a directory, expected a YAML file' }]);
    if (st.size > MAX_YAML_BYTES) throw tooBig(file, st.size);
    buf = readFileSync(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : `cannot read file (${code ?? 'error'})`;
    throw new InputError([{ pos: at(file, 1, 1), message: why }]);
  }
  if (buf.length > MAX_YAML_BYTES) throw tooBig(file, buf.length);
  const nul = buf.indexOf(0);
  if (nul >= 0) throw binary(file, buf.subarray(0, nul).toString('utf8'), 'contains binary data (NUL byte)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    // Locate the first undecodable byte for the position.
    const lossy = buf.toString('utf8');
    const bad = lossy.indexOf('\uFFFD');
    throw binary(file, bad >= 0 ? lossy.slice(0, bad) : '', 'is not valid UTF-8 text (binary data?)');
  }
  return parseYaml(text, file);
}

export function parseYaml(text: string, file: string): YamlSource {
  if (Buffer.byteLength(text, 'utf8') > MAX_YAML_BYTES) throw tooBig(file, Buffer.byteLength(text, 'utf8'));
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw binary(file, text.slice(0, nul), 'contains binary data (NUL byte)');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const fast = fastYaml(text);
  return fast ? fastSource(text, file, fast) : readWithYaml(text, file);
}

/** parseYaml's reading with `yaml`, for what the fast reader leaves (exported for the test that
 * compares the two). */
export function readWithYaml(text: string, file: string): YamlSource {
  const lc = new LineCounter();
  const pos = (offset: number): SourcePos => {
    const p = lc.linePos(offset);
    return { file, line: p.line, col: p.col };
  };
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, {
      lineCounter: lc, uniqueKeys: true, prettyErrors: false, customTags: [secretTag], merge: true, logLevel: 'error',
    });
  } catch (e) {
    // The parser itself gave up (e.g. absurd nesting): still an input problem, not a crash.
    throw new InputError([{ pos: at(file, 1, 1), message: `cannot parse YAML: ${short(e)}` }]);
  }

  const problems: InputProblem[] = [];
  for (const err of [...doc.errors, ...doc.warnings]) {
    problems.push({ pos: pos(err.pos[0]), message: yamlMessage(err.code, err.message) });
  }
  complexKeys(doc.contents, (node) => {
    problems.push({ pos: node.range ? pos(node.range[0]) : at(file, 1, 1), message: 'keys must be plain scalars, not lists or mappings' });
  }, 0);
  if (problems.length) throw new InputError(dedupe(problems));

  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const alias = firstAlias(doc.contents);
    const where = alias?.range ? pos(alias.range[0]) : at(file, 1, 1);
    const msg = /excessive alias/i.test(short(e))
      ? `too many alias expansions (more than ${MAX_ALIAS_COUNT}); refusing a possible alias bomb`
      : `YAML error: ${short(e)}`;
    throw new InputError([{ pos: where, message: msg }]);
  }
  if (value === null || value === undefined) {
    throw new InputError([{ pos: at(file, 1, 1), message: 'is empty; expected a mapping at the top level' }]);
  }
  if (typeof value !== 'object' || Array.isArray(value) || !isMap(doc.contents)) {
    const where = doc.contents?.range ? pos(doc.contents.range[0]) : at(file, 1, 1);
    throw new InputError([{ pos: where, message: `top level must be a mapping, not ${describe(value)}` }]);
  }

  const secretPaths: YamlPath[] = [];
  collectSecrets(doc, doc.contents, [], secretPaths, 0);

  const locate = (path: YamlPath, wantValue: boolean): SourcePos => {
    let node: unknown = doc.contents;
    let best: SourcePos = doc.contents?.range ? pos(doc.contents.range[0]) : at(file, 1, 1);
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      node = deref(doc, node);
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => keyString(p.key) === String(seg));
        if (!pair) return best;
        const k = pair.key;
        if (isNode(k) && k.range) best = pos(k.range[0]);
        if (last && wantValue && isNode(pair.value) && pair.value.range) best = pos(pair.value.range[0]);
        node = pair.value;
      } else if (isSeq(node)) {
        const idx = typeof seg === 'number' ? seg : Number(seg);
        const item = Number.isInteger(idx) ? node.items[idx] : undefined;
        if (item === undefined) return best;
        if (isNode(item) && item.range) best = pos(item.range[0]);
        node = item;
      } else {
        return best;
      }
    }
    return best;
  };

  return {
    file,
    value,
    posOf: (path) => locate(path, false),
    valuePosOf: (path) => locate(path, true),
    secretPaths,
  };
}

/** What the fast reader (yamlfast.ts) found, with the same lookups as `yaml`'s document above. */
function fastSource(text: string, file: string, { value, root, secretPaths }: FastYaml): YamlSource {
  const lineCol = lineCounter(text);
  const pos = (offset: number): SourcePos => ({ file, ...lineCol(offset) });
  const locate = (path: YamlPath, wantValue: boolean): SourcePos => {
    let node = root;
    let best = root.at;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      if (node.map) {
        const entry = node.map.get(String(seg));
        if (!entry) break;
        best = wantValue && i === path.length - 1 ? entry.value.at : entry.key;
        node = entry.value;
      } else if (node.seq) {
        const idx = typeof seg === 'number' ? seg : Number(seg);
        const item = Number.isInteger(idx) ? node.seq[idx] : undefined;
        if (!item) break;
        best = item.at;
        node = item;
      } else break;
    }
    return pos(best);
  };
  return { file, value, posOf: (path) => locate(path, false), valuePosOf: (path) => locate(path, true), secretPaths };
}

// ------------------------------------------------------------------ helpers

function at(file: string, line: number, col: number): SourcePos {
  return { file, line, col };
}

function tooBig(file: string, size: number): InputError {
  const mib = (size / 1024 / 1024).toFixed(1);
  return new InputError([{ pos: at(file, 1, 1), message: `file is too large (${mib} MiB; the limit is 2 MiB)` }]);
}

function binary(file: string, before: string, message: string): InputError {
  const lines = before.split('\n');
  return new InputError([{ pos: at(file, lines.length, (lines[lines.length - 1]?.length ?? 0) + 1), message }]);
}

function short(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 200);
}

const friendly: Record<string, string> = {
  DUPLICATE_KEY: 'duplicate key',
  TAG_RESOLVE_FAILED: 'unknown or invalid tag',
  BAD_ALIAS: 'bad alias',
  MULTIPLE_DOCS: 'only one YAML document is allowed',
};

function yamlMessage(code: string, message: string): string {
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  if (code === 'DUPLICATE_KEY') return 'duplicate key (map keys must be unique)';
  if (code === 'MULTIPLE_DOCS') return friendly[code]!;
  if (/Unresolved tag/i.test(first)) return `${first} (only !secret is supported)`;
  return `YAML syntax error: ${first}`;
}

function dedupe(ps: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.pos?.line}:${p.pos?.col}:${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return `a ${typeof v}`;
}

function keyString(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  if (k === null || k === undefined) return undefined;
  return String(k);
}

function deref(doc: Document.Parsed, node: unknown): unknown {
  let n = node;
  for (let i = 0; i < 10 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

function firstAlias(node: unknown, depth = 0): YNode | undefined {
  if (depth > 200 || !node) return undefined;
  if (isAlias(node)) return node;
  if (isMap(node) || isSeq(node)) {
    for (const item of node.items) {
      const found = isPair(item) ? firstAlias(item.value, depth + 1) : firstAlias(item, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

function complexKeys(node: unknown, report: (n: YNode) => void, depth: number): void {
  if (depth > 200 || !node) return;
  if (isMap(node)) {
    for (const p of node.items) {
      if (isMap(p.key) || isSeq(p.key)) report(p.key);
      complexKeys(p.value, report, depth + 1);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) complexKeys(item, report, depth + 1);
  }
}

function collectSecrets(doc: Document.Parsed, node: unknown, path: YamlPath, out: YamlPath[], depth: number): void {
  if (depth > 200 || !node) return;
  if (isScalar(node)) {
    if (node.tag === '!secret') out.push(path);
    return;
  }
  if (isMap(node)) {
    for (const p of node.items) {
      const k = keyString(p.key);
      if (k !== undefined) collectSecrets(doc, p.value, [...path, k], out, depth + 1);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => collectSecrets(doc, item, [...path, i], out, depth + 1));
  }
}
