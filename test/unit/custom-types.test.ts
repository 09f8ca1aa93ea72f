// Type-level contract of defineTask/runTask: params types come from the task's JSON Schema, so
// tsc rejects a task that reads a param its schema lacks, an impossible enum value, or a test
// passing a wrongly typed param; correct tasks (defaults, enums, nested objects, arrays) pass.
// Runs the real tsc on test/fixtures/custom/types with its own tiny tsconfig.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';

const dir = resolve('test/fixtures/custom/types');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

interface Diag { file: string; line: number; code: string; text: string }
let diags: Diag[] = [];
let status: number | null = null;

test.before(() => {
  const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { encoding: 'utf8' });
  status = r.status;
  diags = [...r.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)].map((m) => ({
    file: m[1]!.split('/').pop()!, line: Number(m[2]), code: m[3]!, text: m[4]!,
  }));
});

/** 1-based line numbers marked `// error expected here` in a fixture. */
function expectedLines(file: string): number[] {
  return readFileSync(join(dir, file), 'utf8').split('\n')
    .flatMap((l, i) => (l.includes('// error expected here') ? [i + 1] : []));
}

test('tsc fails on the project (the bad fixtures do not type-check)', () => {
  assert.is.not(status, 0);
});

test('correct tasks and runTask calls type-check', () => {
  const good = diags.filter((d) => d.file.startsWith('good'));
  assert.equal(good, [], JSON.stringify(good));
});

for (const file of readdirSync(dir).filter((f) => f.startsWith('bad'))) {
  test(`${file}: rejected exactly where marked`, () => {
    const mine = diags.filter((d) => d.file === file);
    assert.ok(mine.length > 0, `${file} should not type-check`);
    assert.equal([...new Set(mine.map((d) => d.line))], expectedLines(file), JSON.stringify(mine));
    assert.not.ok(mine.some((d) => d.code === 'TS2589' || d.code === 'TS2590'), 'no "excessively deep" noise');
  });
}

test('the undeclared param is named in the error', () => {
  assert.ok(diags.some((d) => d.file === 'bad.ts' && /'pth' does not exist/.test(d.text)));
});

test.run();
