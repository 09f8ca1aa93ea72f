// Handlebars templating for param values and template files.
// Strict (a missing variable is an error, never an empty string), no HTML escaping (we render
// config files, not HTML), one shared environment, templates parsed and compiled once.
//
// Helpers (all registered on the shared environment):
//   {{b64 s}}               base64 of a string, no line breaks (e.g. cacerts.pem in RKE config)
//   {{b64file "ca.pem"}}    base64 of a controller file; relative paths resolve against the
//                           playbook directory (`__dir` in the scope)
//   {{indent 4 s}}          indent every line but the first by N spaces (value form)
//   {{#indent 4}}..{{/indent}}  the same for a block
//   {{yaml v}}              a YAML-safe scalar: strings double-quoted with escapes, others as JSON
//   {{json v}}              JSON.stringify(v)
//   {{join list ", "}}      list items joined by a separator (default ",")
//   {{default v "x"}}       v unless it is undefined/null, else the fallback
//   {{eq a b}} {{ne a b}}   strict (in)equality, for {{#if (eq a b)}}
//
// Safety: paths naming Object.prototype members (constructor, __proto__, ...) are refused when a
// template is parsed, partials and decorators are refused, and Handlebars' own prototype-access
// guard stays on, so templates can only read the data they are given.
import type Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { SourcePos, Vars } from '../types.js';
import type { InputProblem } from '../errors.js';

export class TemplateError extends Error {
  constructor(message: string, public readonly pos?: SourcePos, public readonly key?: string) {
    super(message);
    this.name = 'TemplateError';
  }
  /** The same error as an InputProblem (file:line:column key message). */
  toProblem(): InputProblem {
    return { pos: this.pos, key: this.key, message: this.message };
  }
}

type Where = { pos?: SourcePos; key?: string };
type AstNode = hbs.AST.Node;
type Program = hbs.AST.Program;
type PathExpr = hbs.AST.PathExpression;

/** Names that would reach JS internals rather than data. */
export const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
]);

// The package's one-file build (same API, compiler included), required rather than imported:
// the default entry is ~30 CommonJS modules plus source-map, and an ESM import of the one file
// makes Node scan its 210 KB for export names; together a third of `validate`'s start-up.
// scripts/bundle.mjs turns this call into a plain require() so the bundle carries the file; a
// bundle made without that step (a custom-task user's own esbuild run) carries the package through
// the import below, taken only when the file cannot be required.
const hbRequire = createRequire(import.meta.url);
const hb = (loadHandlebars() ?? (await import('handlebars')).default).create();

// Handlebars returns a template's pieces joined with `+` and no leading "", so a template that
// begins with two numbers or booleans adds them (`{{a}}{{b}}` with 1 and 2 gave "3", false and
// false "0"). Every piece is appended to a buffer that starts as "" instead: text beside text.
type JsCompiler = { appendToBuffer(source: unknown, location: unknown, explicit?: boolean): unknown; compiler: unknown };
const env = hb as unknown as { JavaScriptCompiler: new () => JsCompiler };
class TextCompiler extends env.JavaScriptCompiler {
  override appendToBuffer(source: unknown, location: unknown): unknown {
    return super.appendToBuffer(source, location, true);
  }
}
TextCompiler.prototype.compiler = TextCompiler; // block bodies are compiled by `new this.compiler()`
env.JavaScriptCompiler = TextCompiler;

function loadHandlebars(): typeof Handlebars | undefined {
  try {
    return hbRequire('handlebars/dist/handlebars.js') as typeof Handlebars;
  } catch {
    return undefined;
  }
}

function helperArgs(args: unknown[]): unknown[] {
  return args.slice(0, -1); // the last argument is Handlebars' options object
}

function isOptions(v: unknown): v is Handlebars.HelperOptions {
  return typeof v === 'object' && v !== null && 'fn' in v && 'hash' in v;
}

function indentText(text: string, n: number): string {
  const pad = ' '.repeat(Math.max(0, Math.floor(n)));
  return text.split('\n').map((line, i) => (i === 0 || line === '' ? line : pad + line)).join('\n');
}

hb.registerHelper('b64', (...args: unknown[]) => {
  const [v] = helperArgs(args);
  return Buffer.from(stringOf(v), 'utf8').toString('base64');
});
hb.registerHelper('b64file', function (this: unknown, ...args: unknown[]) {
  const opts = args[args.length - 1] as Handlebars.HelperOptions;
  const [p] = helperArgs(args);
  if (typeof p !== 'string' || p === '') throw new TemplateError('b64file needs a file path');
  const root = (opts.data as { root?: Vars } | undefined)?.root;
  const dir = typeof root?.__dir === 'string' ? root.__dir : process.cwd();
  const file = isAbsolute(p) ? p : resolvePath(dir, p);
  try {
    return readFileSync(file).toString('base64');
  } catch {
    throw new TemplateError(`b64file: cannot read ${JSON.stringify(p)}`);
  }
});
hb.registerHelper('indent', function (this: unknown, ...args: unknown[]) {
  const opts = args[args.length - 1];
  const [n, v] = helperArgs(args);
  const width = Number(n);
  if (!Number.isFinite(width)) throw new TemplateError('indent needs a number of spaces');
  if (isOptions(opts) && typeof opts.fn === 'function' && v === undefined) return indentText(opts.fn(this), width);
  return indentText(stringOf(v), width);
});
hb.registerHelper('yaml', (...args: unknown[]) => {
  const [v] = helperArgs(args);
  // JSON is a subset of YAML 1.2: a JSON string is a valid double-quoted YAML scalar.
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v ?? null);
});
hb.registerHelper('json', (...args: unknown[]) => JSON.stringify(helperArgs(args)[0] ?? null));
hb.registerHelper('join', (...args: unknown[]) => {
  const [list, sep] = helperArgs(args);
  if (!Array.isArray(list)) throw new TemplateError('join needs a list');
  return list.map(stringOf).join(typeof sep === 'string' ? sep : ',');
});
hb.registerHelper('default', (...args: unknown[]) => {
  const [v, fallback] = helperArgs(args);
  return v === undefined || v === null ? fallback : v;
});
hb.registerHelper('eq', (...args: unknown[]) => {
  const [a, b] = helperArgs(args);
  return a === b;
});
hb.registerHelper('ne', (...args: unknown[]) => {
  const [a, b] = helperArgs(args);
  return a !== b;
});

const BUILTIN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log', 'blockHelperMissing', 'helperMissing']);
const CONTEXT_CHANGING = new Set(['each', 'with']);

function isHelper(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(hb.helpers, name) || BUILTIN_HELPERS.has(name);
}

function stringOf(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// --------------------------------------------------------------- compilation

/** A template, parsed once. Plain ones (scanPlain) are read without Handlebars' parser; their
 * AST and function are made only if something asks for them. */
class Compiled {
  #ast: Program | undefined;
  #fn: Handlebars.TemplateDelegate | undefined;
  /** See templateReads; computed on first use (null: not a fixed set of names). */
  reads?: string[] | null;
  constructor(
    readonly template: string,
    readonly refs: string[],
    /** See plainParts; computed on first render (null: not a plain template). */
    public plain: Piece[] | null | undefined,
    ast?: Program,
  ) {
    this.#ast = ast;
  }
  get ast(): Program {
    return (this.#ast ??= hb.parse(this.template));
  }
  get fn(): Handlebars.TemplateDelegate {
    return (this.#fn ??= hb.compile(this.ast, { strict: true, noEscape: true }));
  }
}

const cache = new Map<string, Compiled>();
const CACHE_MAX = 10_000;

function compile(template: string, where?: Where): Compiled {
  const hit = cache.get(template);
  if (hit) return hit;
  let c: Compiled;
  const plain = scanPlain(template);
  if (plain) c = new Compiled(template, plainRefs(plain), plain);
  else {
    let ast: Program;
    try {
      ast = hb.parse(template);
    } catch (e) {
      const msg = e instanceof Error ? e.message.split('\n').filter(Boolean).pop() ?? e.message : String(e);
      throw new TemplateError(`template syntax error: ${msg} in ${show(template)}`, where?.pos, where?.key);
    }
    const problem = checkAst(ast);
    if (problem) throw new TemplateError(`${problem} in ${show(template)}`, where?.pos, where?.key);
    c = new Compiled(template, collectRefs(ast), undefined, ast);
  }
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(template, c);
  return c;
}

/** `{{#if a}}…{{else}}…{{/if}}` (or `unless`) in a plain template: the test's path and both branches. */
interface Test {
  test: string[];
  unless: boolean;
  then: Piece[];
  else: Piece[];
}
/** A plain template's pieces: text, a `{{ a.b }}` (its path), or a test. */
type Piece = string | string[] | Test;

// The tags of a plain template as Handlebars' lexer reads them: `{{ a.b }}` (a path: letters,
// digits, `_` and `-`), `{{#if a}}` / `{{#unless a}}`, `{{else}}`, `{{/if}}` / `{{/unless}}`.
// Names it reads as something else (keywords, literals) are not paths.
const PATH = '[A-Za-z_][\\w-]*(?:\\.[\\w-]+)*';
const TAG = new RegExp(`\\{\\{(?:\\s*(else)\\s*|\\s*(${PATH})\\s*|#(if|unless)\\s+(${PATH})\\s*|/\\s*(if|unless)\\s*)\\}\\}`, 'y');
const NOT_A_NAME = new Set(['this', 'else', 'true', 'false', 'null', 'undefined', 'as']);

function pathParts(path: string): string[] | null {
  const parts = path.split('.');
  // (`.1` after a name is a number to the lexer, and a syntax error there)
  if (isHelper(parts[0]!) || parts.some((p) => NOT_A_NAME.has(p) || FORBIDDEN_NAMES.has(p) || /^-?[0-9]/.test(p))) return null;
  return parts;
}

/**
 * The pieces of a plain template, read without Handlebars' parser: text, `{{ a.b }}`s and, on one
 * line (Handlebars strips the lines of block tags that stand alone), `{{#if a}}…{{else}}…{{/if}}`
 * and `unless`. Null when anything else may be in it — another tag, an escape (`\\{{`), a brace
 * against a tag, a helper's or a refused name — and Handlebars then parses it. The property tests
 * of template-plain.test.ts compare what comes of it with stock Handlebars.
 */
function scanPlain(template: string): Piece[] | null {
  const root: Piece[] = [];
  const open: { pieces: Piece[]; test?: Test; name?: string; inElse?: boolean }[] = [{ pieces: root }];
  let blocks = false;
  let i = 0;
  let afterTag = false;
  for (;;) {
    const top = open[open.length - 1]!;
    const j = template.indexOf('{{', i);
    const text = template.slice(i, j < 0 ? template.length : j);
    if ((afterTag && text.startsWith('}')) || (j >= 0 && text.endsWith('\\'))) return null;
    if (text) top.pieces.push(text);
    if (j < 0) break;
    TAG.lastIndex = j;
    const m = TAG.exec(template);
    if (!m) return null;
    const [, elseTag, path, opens, testPath, closes] = m;
    if (elseTag) {
      if (!top.test || top.inElse) return null;
      top.inElse = true;
      top.pieces = top.test.else;
    } else if (path) {
      const parts = pathParts(path);
      if (!parts) return null;
      top.pieces.push(parts);
    } else if (opens) {
      const parts = pathParts(testPath!);
      if (!parts) return null;
      const test: Test = { test: parts, unless: opens === 'unless', then: [], else: [] };
      top.pieces.push(test);
      open.push({ pieces: test.then, test, name: opens });
      blocks = true;
    } else {
      if (top.name !== closes) return null;
      open.pop();
    }
    i = TAG.lastIndex;
    afterTag = true;
  }
  return open.length === 1 && !(blocks && /[\r\n]/.test(template)) ? root : null;
}

/** templateRefs of a plain template: what collectRefs finds in its AST. */
function plainRefs(pieces: Piece[], guarded: ReadonlySet<string> = new Set(), out = new Set<string>()): string[] {
  for (const p of pieces) {
    if (typeof p === 'string') continue;
    if (Array.isArray(p)) {
      if (!guarded.has(p[0]!)) out.add(p[0]!);
      continue;
    }
    // `if x` guards its body; `unless x` guards its else-branch.
    const inner = new Set([...guarded, p.test[0]!]);
    plainRefs(p.then, p.unless ? guarded : inner, out);
    plainRefs(p.else, p.unless ? inner : guarded, out);
  }
  return [...out];
}

function show(template: string): string {
  const t = template.length > 80 ? `${template.slice(0, 77)}...` : template;
  return JSON.stringify(t);
}

/** Walks every node; returns the first reason to refuse the template, if any. */
function checkAst(root: Program): string | undefined {
  let problem: string | undefined;
  const visit = (node: unknown): void => {
    if (problem || !node || typeof node !== 'object') return;
    const n = node as AstNode & Record<string, unknown>;
    switch (n.type) {
      case 'PartialStatement':
      case 'PartialBlockStatement':
        problem = 'partials are not supported';
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        problem = 'decorators are not supported';
        return;
      case 'PathExpression': {
        const p = n as unknown as PathExpr;
        const bad = p.parts.find((part) => FORBIDDEN_NAMES.has(part));
        if (bad) problem = `template refers to "${bad}", which is not allowed`;
        return;
      }
      case 'StringLiteral': {
        const v = (n as unknown as hbs.AST.StringLiteral).value;
        if (FORBIDDEN_NAMES.has(v)) problem = `template refers to "${v}", which is not allowed`;
        return;
      }
      default:
        break;
    }
    for (const key of ['body', 'path', 'params', 'program', 'inverse', 'hash', 'pairs', 'value']) {
      const child = n[key];
      if (Array.isArray(child)) child.forEach(visit);
      else if (child && typeof child === 'object') visit(child);
    }
  };
  visit(root);
  return problem;
}

/**
 * Top-level variable names a template reads from its scope. Names that are only tested
 * (`{{#if x}}`, `{{#unless x}}`, `{{default x ...}}`) are not required, nor are uses of `x`
 * inside `{{#if x}}`, because those templates render fine when `x` is missing.
 */
function collectRefs(root: Program): string[] {
  const out = new Set<string>();
  const headOf = (p: AstNode | undefined): string | undefined => {
    if (!p || p.type !== 'PathExpression') return undefined;
    const path = p as PathExpr;
    return path.data || path.parts.length === 0 ? undefined : path.parts[0];
  };
  const addPath = (p: AstNode | undefined, depth: number, guarded: Set<string>) => {
    if (!p || p.type !== 'PathExpression') return;
    const path = p as PathExpr;
    // Only paths that resolve against the root context (depth 0, or ../ back to it).
    if (path.depth !== depth) return;
    const head = headOf(p);
    if (!head || head === 'this' || guarded.has(head)) return;
    out.add(head);
  };
  const expr = (e: AstNode | undefined, depth: number, guarded: Set<string>) => {
    if (!e) return;
    if (e.type === 'PathExpression') addPath(e, depth, guarded);
    else if (e.type === 'SubExpression') call(e as hbs.AST.SubExpression, depth, guarded);
  };
  const call = (
    n: { path: AstNode; params: hbs.AST.Expression[]; hash?: hbs.AST.Hash },
    depth: number,
    guarded: Set<string>,
    isMustache = false,
  ) => {
    const path = n.path as PathExpr;
    const hasArgs = n.params.length > 0 || (n.hash?.pairs.length ?? 0) > 0;
    const helperName = path.type === 'PathExpression' && path.parts.length === 1 && !path.data ? path.parts[0]! : undefined;
    if (!(hasArgs || (isMustache && helperName && isHelper(helperName)))) addPath(path, depth, guarded);
    n.params.forEach((p, i) => {
      if (helperName === 'default' && i === 0) return; // may be missing by design
      expr(p, depth, guarded);
    });
    n.hash?.pairs.forEach((pair) => expr(pair.value, depth, guarded));
  };
  const program = (p: Program | undefined, depth: number, guarded: Set<string>) => {
    if (!p) return;
    for (const s of p.body) {
      if (s.type === 'MustacheStatement') call(s as hbs.AST.MustacheStatement, depth, guarded, true);
      else if (s.type === 'BlockStatement') {
        const b = s as hbs.AST.BlockStatement;
        const name = b.path.parts[0];
        const isTest = name === 'if' || name === 'unless';
        let inner = guarded;
        if (isTest) {
          const h = headOf(b.params[0]);
          if (h && (b.params[0] as PathExpr).depth === depth) inner = new Set([...guarded, h]);
          b.params.slice(1).forEach((x) => expr(x, depth, guarded));
        } else {
          b.params.forEach((x) => expr(x, depth, guarded));
        }
        b.hash?.pairs.forEach((pair) => expr(pair.value, depth, guarded));
        const innerDepth = name && CONTEXT_CHANGING.has(name) ? depth + 1 : name && isHelper(name) ? depth : depth + 1;
        if (!name || (!isHelper(name) && b.params.length === 0)) addPath(b.path, depth, guarded);
        // `if x` guards its body; `unless x` guards its else-branch.
        program(b.program, innerDepth, name === 'unless' ? guarded : inner);
        program(b.inverse, depth, name === 'unless' ? inner : guarded);
      }
    }
  };
  program(root, 0, new Set());
  return [...out];
}

// Helpers whose output is not fixed by the names a template reads: `lookup` picks its name while
// rendering, `b64file` reads a controller file (which an earlier task may have written).
const OPAQUE_HELPERS = new Set(['lookup', 'b64file']);

/**
 * Every top-level name a template may read, guarded or not (`{{default x "y"}}` reads x when it
 * exists); null when its output may depend on more than those names' values: the whole scope
 * (`this` or `@root` at the root context) or an opaque helper.
 */
function collectReads(root: Program): string[] | null {
  const out = new Set<string>();
  let opaque = false;
  const visit = (node: unknown, depth: number): void => {
    if (opaque || !node || typeof node !== 'object') return;
    const n = node as AstNode & Record<string, unknown>;
    if (n.type === 'PathExpression') {
      const p = n as unknown as PathExpr;
      const head = p.parts[0];
      if (p.data) opaque ||= head === 'root';
      else if (head === undefined) opaque ||= p.depth >= depth; // `this` of the root context
      else if (OPAQUE_HELPERS.has(head)) opaque = true;
      else out.add(head);
      return;
    }
    if (n.type === 'BlockStatement') {
      const b = n as unknown as hbs.AST.BlockStatement;
      visit(b.path, depth);
      b.params.forEach((x) => visit(x, depth));
      visit(b.hash, depth);
      const name = b.path.parts[0];
      visit(b.program, name && CONTEXT_CHANGING.has(name) ? depth + 1 : depth);
      visit(b.inverse, depth);
      return;
    }
    for (const key of ['body', 'path', 'params', 'program', 'inverse', 'hash', 'pairs', 'value']) {
      const child = n[key];
      if (Array.isArray(child)) child.forEach((c) => visit(c, depth));
      else if (child && typeof child === 'object') visit(child, depth);
    }
  };
  visit(root, 0);
  return opaque ? null : [...out];
}

// ------------------------------------------------------------------- public

/**
 * Every top-level name a template may read, those only tested included; undefined when its
 * output is not fixed by the values of named variables (`lookup`, `b64file`, the whole scope).
 * Two renderings of it with the same values under these names give the same result.
 */
export function templateReads(template: string): string[] | undefined {
  if (!template.includes('{{')) return [];
  const c = compile(template);
  if (c.reads === undefined) c.reads = collectReads(c.ast);
  return c.reads ?? undefined;
}

/** Top-level variable names used by a template (for static missing-variable checks). */
export function templateRefs(template: string): string[] {
  if (!template.includes('{{')) return [];
  return compile(template).refs;
}

/** What Handlebars' parser gives for templateRefs, as a plain template is read without it
 * (exported for the test that compares the two). */
export function parsedForTests(template: string): { refs: string[] } {
  const ast = hb.parse(template);
  const problem = checkAst(ast);
  if (problem) throw new TemplateError(problem);
  return { refs: collectRefs(ast) };
}

/** Parse-and-check a template without rendering it; throws TemplateError. */
export function checkTemplate(template: string, where?: Where): void {
  if (template.includes('{{')) compile(template, where);
}

/** Whole-value template: exactly `{{ path }}`. Returns the path segments, or undefined. */
function wholeValuePath(s: string): string[] | undefined {
  const m = /^\{\{\s*([A-Za-z_][\w-]*(?:(?:\.[A-Za-z_][\w-]*)|(?:\.?\[\d+\])|(?:\.\d+))*)\s*\}\}$/.exec(s);
  if (!m) return undefined;
  const head = m[1]!.split(/[.[]/)[0]!;
  if (isHelper(head)) return undefined;
  return m[1]!.replace(/\[(\d+)\]/g, '.$1').split('.').filter((x) => x !== '');
}

function lookupPath(scope: Vars, parts: string[], template: string, where?: Where): unknown {
  let cur: unknown = scope;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (FORBIDDEN_NAMES.has(part)) {
      throw new TemplateError(`template refers to "${part}", which is not allowed in ${show(template)}`, where?.pos, where?.key);
    }
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part)) {
      throw new TemplateError(`missing variable "${parts.slice(0, i + 1).join('.')}" in ${show(template)}`, where?.pos, where?.key);
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Find the path expression at a Handlebars error location (line 1-based, column 0-based). */
function pathAt(root: Program, line: number, col: number): string | undefined {
  let found: string | undefined;
  const visit = (node: unknown): void => {
    if (found || !node || typeof node !== 'object') return;
    const n = node as AstNode & Record<string, unknown>;
    if (n.type === 'PathExpression' && n.loc?.start.line === line && n.loc.start.column === col) {
      found = (n as unknown as PathExpr).original;
      return;
    }
    for (const key of ['body', 'path', 'params', 'program', 'inverse', 'hash', 'pairs', 'value']) {
      const child = n[key];
      if (Array.isArray(child)) child.forEach(visit);
      else if (child && typeof child === 'object') visit(child);
    }
  };
  visit(root);
  return found;
}

/**
 * A template of text and plain `{{ a.b }}`s only (no helpers, blocks, `this`, `../` or `@data`):
 * its pieces, text as strings and each path as its parts. Null for any other template.
 */
function plainParts(ast: Program): (string | string[])[] | null {
  const out: (string | string[])[] = [];
  for (const node of ast.body) {
    if (node.type === 'ContentStatement') out.push((node as hbs.AST.ContentStatement).value);
    else if (node.type === 'CommentStatement') continue;
    else if (node.type === 'MustacheStatement') {
      const m = node as hbs.AST.MustacheStatement;
      const p = m.path as PathExpr;
      if (m.params.length || m.hash || p.type !== 'PathExpression' || p.data || p.depth !== 0) return null;
      if (!/^[A-Za-z_][\w-]*(?:\.[\w-]+)*$/.test(p.original) || p.original !== p.parts.join('.')) return null;
      if (p.parts[0] === 'this' || isHelper(p.parts[0]!)) return null;
      out.push(p.parts);
    } else return null;
  }
  return out;
}

/**
 * What Handlebars renders for a plain template (scanPlain, or plainParts of a parsed one) when
 * every path names own properties down to a string, number or boolean, and every test's value is
 * plain data: the pieces joined, each test's branch in its place. Undefined otherwise
 * (a missing name, an object, null...), and Handlebars renders it, errors included. This skips
 * generating and compiling a function for the common `https://{{ host }}:{{ port }}` kind.
 */
function renderPlain(c: Compiled, scope: Vars): string | undefined {
  if (c.plain === undefined) c.plain = plainParts(c.ast);
  return c.plain === null ? undefined : renderPieces(c.plain, scope);
}

function renderPieces(pieces: Piece[], scope: Vars): string | undefined {
  let out = '';
  for (const piece of pieces) {
    if (typeof piece === 'string') {
      out += piece;
      continue;
    }
    if (!Array.isArray(piece)) {
      const v = testValue(scope, piece.test);
      if (v === FALLBACK) return undefined;
      // Handlebars' `if`: false, 0, "", null, undefined, NaN and [] are false.
      const truthy = !!v && !(Array.isArray(v) && v.length === 0);
      const branch = renderPieces(truthy !== piece.unless ? piece.then : piece.else, scope);
      if (branch === undefined) return undefined;
      out += branch;
      continue;
    }
    let cur: unknown = scope;
    for (const part of piece) {
      if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
      cur = (cur as Record<string, unknown>)[part];
    }
    if (typeof cur !== 'string' && typeof cur !== 'number' && typeof cur !== 'boolean') return undefined;
    out += String(cur);
  }
  return out;
}

const FALLBACK = Symbol('fallback');

/** A test's value as Handlebars looks up a helper's argument: a missing last name is undefined;
 * FALLBACK where Handlebars does more (fails on a name under a missing one; a function, a
 * primitive's or an inherited property). */
function testValue(scope: Vars, parts: string[]): unknown {
  let cur: unknown = scope;
  for (const part of parts) {
    if (cur === null || typeof cur !== 'object') return FALLBACK;
    if (!Object.prototype.hasOwnProperty.call(cur, part) && (cur as Record<string, unknown>)[part] !== undefined) return FALLBACK;
    cur = (cur as Record<string, unknown>)[part];
  }
  return typeof cur === 'function' ? FALLBACK : cur;
}

export function renderString(template: string, scope: Vars, where?: Where): string {
  if (!template.includes('{{')) return template;
  const c = compile(template, where);
  const plain = renderPlain(c, scope);
  if (plain !== undefined) return plain;
  try {
    // A template of one `{{ x }}` gives x itself: as text, as it would be beside other text.
    const out: unknown = c.fn(scope, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
    return typeof out === 'string' ? out : String(out ?? '');
  } catch (e) {
    if (e instanceof TemplateError) throw new TemplateError(`${e.message} in ${show(template)}`, where?.pos, where?.key);
    const msg = e instanceof Error ? e.message : String(e);
    const strict = /^"([^"]+)" not defined in .* - (\d+):(\d+)$/.exec(msg);
    if (strict) {
      const name = pathAt(c.ast, Number(strict[2]), Number(strict[3])) ?? strict[1]!;
      throw new TemplateError(`missing variable "${name.replace(/^(\.\.\/)+/, '')}" in ${show(template)}`, where?.pos, where?.key);
    }
    const missingProp = /Cannot read propert(?:y|ies) of (undefined|null) \(reading '([^']*)'\)/.exec(msg);
    if (missingProp) {
      throw new TemplateError(`missing variable: cannot read "${missingProp[2]}" of ${missingProp[1]} in ${show(template)}`, where?.pos, where?.key);
    }
    throw new TemplateError(`cannot render ${show(template)}: ${msg.split('\n')[0]}`, where?.pos, where?.key);
  }
}

/**
 * Render a template text with `data`, strictly (a missing name is an error, never an empty
 * string) and without HTML escaping: the renderer tasks use for config files they write.
 * `name` (e.g. the template's file) is the key errors carry.
 */
export function renderTemplate(source: string, data: Vars, name?: string): string {
  return renderString(source, data, name === undefined ? undefined : { key: name });
}

/**
 * Render every string inside a value (objects and lists deeply). A string that is exactly one
 * `{{ path }}` yields the referenced value itself, keeping its type; a mapping stays a mapping.
 */
export function renderValue(value: Vars, scope: Vars, where?: Where): Vars;
export function renderValue(value: unknown, scope: Vars, where?: Where): unknown;
export function renderValue(value: unknown, scope: Vars, where?: Where): unknown {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return value;
    const whole = wholeValuePath(value);
    if (whole) return lookupPath(scope, whole, value, where);
    return renderString(value, scope, where);
  }
  if (Array.isArray(value)) {
    return value.map((v, i) => renderValue(v, scope, where && { ...where, key: where.key ? `${where.key}.${i}` : String(i) }));
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const rendered = renderValue(v, scope, where && { ...where, key: where.key ? `${where.key}.${k}` : k });
      Object.defineProperty(out, k, { value: rendered, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return value;
}
