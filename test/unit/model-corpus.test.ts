// A corpus of malformed inventories and playbooks. Each must be refused with an
// InputError whose every problem has a file:line:column position and the expected message,
// never a raw stack trace. Each fixture's first line says `# expect: <message part>`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadInventory } from '../../runner/model/inventory.js';
import { validatePlaybook } from '../../runner/plan/checks.js';
import { InputError } from '../../runner/errors.js';
import { testRegistry } from '../fixtures/model/registry.js';

const root = resolve('test/fixtures/model/bad');
const goodInv = loadInventory(resolve('test/fixtures/model/good/inventory.yml'), { home: '/h' });
const reg = testRegistry();
const tmp = mkdtempSync(join(tmpdir(), 'rp-corpus-'));

// Generated members of the corpus (too big or too odd to commit).
const big = join(tmp, 'huge-inventory.yml');
writeFileSync(big, '# expect: file is too large\nvars:\n' + `  pad: "${'x'.repeat(3 * 1024 * 1024)}"\n`);
const deep = join(tmp, 'deep-nesting.yml');
writeFileSync(deep, '# expect: YAML\nvars:\n  x: ' + '['.repeat(20000) + ']'.repeat(20000) + '\n');

type Kind = 'inventory' | 'playbook';
const cases: { file: string; kind: Kind }[] = [
  ...readdirSync(join(root, 'inventory')).sort().map((f) => ({ file: join(root, 'inventory', f), kind: 'inventory' as Kind })),
  ...readdirSync(join(root, 'playbook')).sort().map((f) => ({ file: join(root, 'playbook', f), kind: 'playbook' as Kind })),
  { file: big, kind: 'inventory' },
  { file: deep, kind: 'inventory' },
];

function expectation(file: string): string {
  const head = readFileSync(file).subarray(0, 300).toString('latin1');
  const m = /^# expect: (.*)$/m.exec(head);
  if (!m) throw new Error(`${file}: fixture lacks an "# expect:" line`);
  return m[1]!.trim();
}

test('the corpus has at least 40 malformed inputs', () => {
  assert.ok(cases.length >= 40, `only ${cases.length}`);
});

for (const c of cases) {
  const name = `${c.kind}/${c.file.split('/').pop()}`;
  test(`refused with a position: ${name}`, () => {
    const want = expectation(c.file);
    let err: unknown;
    try {
      if (c.kind === 'inventory') loadInventory(c.file, { home: '/h' });
      else validatePlaybook(c.file, reg, goodInv);
    } catch (e) {
      err = e;
    }
    assert.instance(err, InputError, `${name}: expected InputError, got ${String(err)}`);
    const e = err as InputError;
    assert.ok(e.problems.length >= 1);
    for (const p of e.problems) {
      assert.ok(p.pos, `${name}: problem without position: ${p.message}`);
      assert.is(p.pos!.file, c.file);
      assert.ok(p.pos!.line >= 1 && p.pos!.col >= 1);
    }
    assert.not.match(e.message, /\n\s+at /, `${name}: stack trace in message`);
    assert.ok(e.message.startsWith(`${c.file}:`), `${name}: ${e.message}`);
    assert.ok(e.message.includes(want), `${name}: expected "${want}" in:\n${e.message}`);
    assert.ok(e.message.length < 2000, `${name}: message too long (${e.message.length})`);
  });
}

test('Object.prototype was not polluted by any fixture', () => {
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test.run();
