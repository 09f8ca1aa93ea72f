// Fuzzing the loaders (bounded runs): whatever bytes a user feeds in, the only failure is an
// InputError with positions (exit 5 at the CLI), never a crash with a stack trace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { loadInventory } from '../../runner/model/inventory.js';
import { validatePlaybook } from '../../runner/plan/checks.js';
import { InputError } from '../../runner/errors.js';
import { evalWhen, ExprError } from '../../runner/model/expr.js';
import { renderValue, TemplateError } from '../../runner/model/template.js';
import { testRegistry } from '../fixtures/model/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-fuzz-'));
const reg = testRegistry();
const goodInvFile = resolve('test/fixtures/model/good/inventory.yml');
const goodPbFile = resolve('test/fixtures/model/good/playbook.yml');
const goodInv = loadInventory(goodInvFile, { home: '/h' });
const goodInvText = readFileSync(goodInvFile, 'utf8');
const goodPbText = readFileSync(goodPbFile, 'utf8');
const RUNS = 300;

let counter = 0;
function onlyInputErrors(text: string | Uint8Array, kind: 'inventory' | 'playbook'): boolean {
  const f = join(dir, `${kind}-${counter++}.yml`);
  writeFileSync(f, text);
  try {
    if (kind === 'inventory') loadInventory(f, { home: '/h' });
    else validatePlaybook(f, reg, goodInv);
    return true;
  } catch (e) {
    if (!(e instanceof InputError)) throw new Error(`non-input error for ${JSON.stringify(String(text).slice(0, 200))}: ${String(e)}`);
    for (const p of e.problems) if (!p.pos) throw new Error(`problem without position: ${p.message}`);
    if (/\n\s+at /.test(e.message)) throw new Error(`stack trace in message: ${e.message}`);
    return true;
  }
}

const vocabulary = [
  'hosts', 'groups', 'vars', 'defaults', 'jump_hosts', 'jump', 'address', 'port', 'user', 'ssh_key_path', 'become',
  'connection', 'secret', 'plays', 'tasks', 'handlers', 'name', 'when', 'notify', 'register', 'tags', 'retries',
  'delay', 'timeout', 'strategy', 'command', 'cmd', 'check-docker', 'min_version', 'check-proxy', 'vars_schema',
  'node1', 'rancher', 'all', '__proto__', 'constructor',
];
const scalar = fc.oneof(
  fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.constantFrom('{{ fqdn }}', '{{constructor.constructor}}', '{{#with this}}{{/with}}', 'proxy == 1', '!x', 'node*', '{{ nope }}'),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('list'), tie('map')),
  list: fc.array(tie('tree'), { maxLength: 4 }),
  map: fc.dictionary(fc.oneof(fc.constantFrom(...vocabulary), fc.string({ maxLength: 6 })), tie('tree'), { maxKeys: 5 }),
}));
const topMap = fc.dictionary(fc.constantFrom(...vocabulary), tree, { maxKeys: 5 });

function mutate(text: string, edits: { at: number; del: number; ins: string }[]): string {
  let out = text;
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    out = out.slice(0, at) + e.ins + out.slice(at + e.del);
  }
  return out;
}
const edits = fc.array(fc.record({ at: fc.nat(), del: fc.nat({ max: 8 }), ins: fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom(':', '- ', '&a ', '*a', '{', ']', '\t', '\n  ', '"', '!secret ', '{{')) }), { minLength: 1, maxLength: 4 });

test('random text → only InputError', () => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => onlyInputErrors(s, 'inventory') && onlyInputErrors(s, 'playbook')), { numRuns: RUNS });
});

test('random bytes → only InputError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyInputErrors(b, 'inventory') && onlyInputErrors(b, 'playbook')), { numRuns: RUNS });
});

test('random YAML documents over the real vocabulary → only InputError', () => {
  fc.assert(fc.property(topMap, (doc) => {
    const text = stringify(doc);
    return onlyInputErrors(text, 'inventory') && onlyInputErrors(text, 'playbook');
  }), { numRuns: RUNS });
});

test('mutated good files → load or InputError', () => {
  fc.assert(fc.property(edits, (e) => onlyInputErrors(mutate(goodInvText, e), 'inventory')), { numRuns: RUNS });
  fc.assert(fc.property(edits, (e) => onlyInputErrors(mutate(goodPbText, e), 'playbook')), { numRuns: RUNS });
});

test('random when-expressions → value or ExprError', () => {
  const token = fc.constantFrom('a', 'b.c', '==', '!=', 'and', 'or', 'not', 'in', 'is', 'defined', '(', ')', '[', ']', '1', "'x'", 'constructor', '.', ',', '__proto__', '()', '!', '<', '>=');
  fc.assert(fc.property(fc.array(token, { maxLength: 12 }), fc.string({ maxLength: 10 }), (toks, junk) => {
    for (const src of [toks.join(' '), toks.join(''), junk]) {
      try {
        evalWhen(src, { a: 1, b: { c: [1] } });
      } catch (e) {
        if (!(e instanceof ExprError)) throw e;
      }
    }
    return ({} as Record<string, unknown>).polluted === undefined;
  }), { numRuns: RUNS });
});

test('random templates → string or TemplateError', () => {
  const piece = fc.constantFrom('{{', '}}', '#with', '#each', '/with', '/each', 'this', 'lookup', '"constructor"', 'a', '.', '..', '/', '@root', 'b64', 'indent', '2', ' ', '>', '!', '(', ')', 'as |x|', 'else', '~');
  fc.assert(fc.property(fc.array(piece, { maxLength: 14 }), (parts) => {
    try {
      renderValue(parts.join(''), { a: 'x', l: [1] });
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
    }
    return true;
  }), { numRuns: RUNS });
});

test('sanity: the good fixtures still load', () => {
  assert.ok(validatePlaybook(goodPbFile, reg, goodInv, { extraVars: { port_list: [] } }));
});

test.run();
