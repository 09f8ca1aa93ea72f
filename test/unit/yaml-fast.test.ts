// Inventories and playbooks are read by js-yaml's event parser (runner/model/yamlfast.ts) and, for
// what it leaves, by `yaml` (yamlsrc.ts readWithYaml). Wherever the fast reader answers, the user
// must see what `yaml` gives: the same values, the same `!secret` paths, the same file:line:column
// for every key and value. Compared here on every YAML file of the repository, on documents
// generated with every scalar style, and on mangled copies of the shipped files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { dump } from 'js-yaml';
import { fastYaml } from '../../runner/model/yamlfast.js';
import { parseYaml, readWithYaml, type YamlPath, type YamlSource } from '../../runner/model/yamlsrc.js';
import { InputError } from '../../runner/errors.js';

const slow = (text: string): YamlSource | 'error' => {
  try {
    return readWithYaml(text, 'f.yml');
  } catch (e) {
    assert.instance(e, InputError);
    return 'error';
  }
};

/** Every path in `v`, each with a child that does not exist (positions fall back to the parent). */
function paths(v: unknown, base: YamlPath = [], out: YamlPath[] = []): YamlPath[] {
  out.push(base, [...base, 'no-such-key'], [...base, 99]);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...base, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...base, k], out);
  return out;
}

/** When the fast reader answers, `yaml`'s reading is the same; returns whether it answered. */
function same(text: string, label: string): boolean {
  const fast = fastYaml(text);
  if (!fast) return false;
  const want = slow(text);
  if (want === 'error') assert.unreachable(`${label}: the fast reader accepts what yaml refuses:\n${text}`);
  const got = parseYaml(text, 'f.yml');
  assert.equal(got.value, want.value, `${label}: values`);
  assert.equal(got.secretPaths, want.secretPaths, `${label}: !secret paths`);
  for (const p of paths(want.value)) {
    assert.equal(got.posOf(p), want.posOf(p), `${label}: posOf ${JSON.stringify(p)}`);
    assert.equal(got.valuePosOf(p), want.valuePosOf(p), `${label}: valuePosOf ${JSON.stringify(p)}`);
  }
  return true;
}

const files = execFileSync('git', ['ls-files', '*.yml', '*.yaml'], { encoding: 'utf8' }).split('\n').filter(Boolean);

test('every YAML file of the repository reads the same; the shipped playbooks and inventories take the fast path', () => {
  let fastCount = 0;
  for (const f of files) {
    const text = readFileSync(f, 'utf8').replace(/^\uFEFF/, '');
    if (same(text, f)) fastCount++;
    else if (/^(playbooks|inventory)\//.test(f)) assert.unreachable(`${f} is read by the slow path`);
  }
  assert.ok(fastCount > files.length / 2, `${fastCount} of ${files.length}`);
});

// Scalars each schema reads in its own way, and strings that need quoting.
const tricky = [
  '0', '-0', '+1', '007', '0o17', '0O17', '0x1F', '+0x1F', '0b101', '1_000', '1e3', '1E+3', '1.', '.5', '-.5', '1.5e-3', '.inf', '-.Inf', '+.INF',
  '.nan', '.NaN', '-.nan', '12345678901234567890', '1:30', '2001-12-14', 'true', 'True', 'TRUE', 'yes', 'on', 'off', 'y', 'n', 'null', 'Null',
  '~', '', ' ', 'a b', 'a:b', 'a: b', 'a #b', 'a#b', '#a', '-', '- a', '?', '? a', '*a', '&a', '!a', '%a', '@a', '`a', '|', '>', "'", '"',
  '\\', '\\n', 'a\nb', 'a\n\nb', ' a', 'a ', '\ta', 'a\t', '{{ x }}', '{{ a.b }}:{{ c }}', '[a]', '{a: 1}', 'é', '日本', '\u2028', 'a,b',
];
const key = fc.constantFrom('a', 'b', 'name', 'hosts', 'vars', 'x y', 'k:v', '1', 'true', 'null', '', '-a', '.a', 'é', '{{ k }}', '__proto__', '<<');
const scalar = fc.oneof(fc.constantFrom(...tricky), fc.string({ maxLength: 8 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(key, tie('v'), { maxKeys: 3 })),
})).v;
const doc = fc.dictionary(key, value, { minKeys: 1, maxKeys: 4 });

test('generated documents, in every scalar and collection style, read the same', () => {
  let fastCount = 0;
  fc.assert(fc.property(doc, fc.constantFrom('PLAIN', 'QUOTE_DOUBLE', 'QUOTE_SINGLE', 'BLOCK_LITERAL', 'BLOCK_FOLDED'), fc.boolean(), fc.integer({ min: 0, max: 3 }), (d, style, flow, dumper) => {
    const text = dumper === 0
      ? dump(d, { flowLevel: flow ? 1 : -1 })
      : stringify(d, { defaultStringType: style as 'PLAIN', defaultKeyType: dumper === 3 ? 'PLAIN' : null, collectionStyle: flow ? 'flow' : 'any', lineWidth: 20 });
    if (same(text, 'generated')) fastCount++;
  }), { numRuns: 400, seed: 24 });
  assert.ok(fastCount > 150, `${fastCount} of 400 took the fast path`);
});

test('a __proto__ key, plain or quoted, is left to yaml (an own key, not the prototype)', () => {
  for (const text of ['__proto__: {a: 1}\n', '"__proto__": {a: 1}\n', "k:\n  '__proto__': x\n"]) {
    assert.is(fastYaml(text), undefined, text);
    const v = parseYaml(text, 'f.yml').value as Record<string, unknown>;
    assert.is(Object.getPrototypeOf(v), Object.prototype);
  }
});

test('each tricky scalar, as a value, a list item and in flow style, reads the same', () => {
  for (const t of tricky) {
    for (const text of [`k: ${t}\n`, `k:\n  - ${t}\n  - x\n`, `{k: ${t}}\n`, `k: [${t}, x]\n`, `${t}: v\n`, `k: !secret ${t}\n`, `k: |\n  ${t}\n`, `k: >-\n  ${t}\n`]) {
      same(text, JSON.stringify(text));
    }
  }
});

// Edits a user makes by mistake: a character dropped or doubled, one of YAML's indicators typed in.
const mangle = fc.tuple(fc.nat(), fc.constantFrom('', ' ', '  ', '\t', ':', ': ', '-', '- ', '#', '"', "'", '|', '>', '{', '[', ']', '}', ',', '!', '&', '*', '?', '\n', '%'), fc.nat({ max: 2 }));
const shipped = files.filter((f) => /^(playbooks|inventory)\//.test(f)).map((f) => readFileSync(f, 'utf8'));

test('mangled copies of the shipped files read the same (or the fast reader leaves them to yaml)', () => {
  fc.assert(fc.property(fc.nat({ max: shipped.length - 1 }), fc.array(mangle, { minLength: 1, maxLength: 3 }), (which, edits) => {
    let text = shipped[which]!;
    for (const [at, insert, drop] of edits) {
      const i = at % (text.length + 1);
      text = text.slice(0, i) + insert + text.slice(i + drop);
    }
    same(text, 'mangled');
  }), { numRuns: 1500, seed: 24 });
});

test.run();
