// Fuzzing the command line: random options and `-e` values given to
// `validate`, `inventory` and `check` end in exit 0 or 5 with a message, never an internal error
// (exit 1) or a stack trace. In-process (`main`) so hundreds of runs stay fast; the hosts are
// `connection: local` and `check` changes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../runner/cli/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-clifuzz-'));
const work = join(dir, 'work');
const inv = join(dir, 'inventory.yml');
writeFileSync(inv, `hosts:\n  h1: { connection: local }\ngroups:\n  web: { hosts: [h1] }\nvars:\n  work: ${work}\n  pw: !secret fuzz-secret\n`);
const pb = join(dir, 'pb.yml');
writeFileSync(pb, `name: fuzz
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { content: "{{ pw }} {{ x | default('none') }}", dest: "{{work}}/out" }
        when: "x != 'skip'"
`);
const varsFile = join(dir, 'vars.yml');
writeFileSync(varsFile, 'x: from-file\n');

function sink() {
  let out = '';
  return { stream: { write: (s: string | Uint8Array) => { out += String(s); return true; } } as unknown as NodeJS.WritableStream, text: () => out };
}

async function call(argv: string[]): Promise<{ code: number; text: string }> {
  const o = sink();
  const e = sink();
  const code = await main(argv, { stdout: o.stream, stderr: e.stream, env: { NO_COLOR: '1' } });
  return { code, text: o.text() + e.text() };
}

const word = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('--limit', '--tags', '--skip-tags', '--forks', '-e', '--diff', '--json', '-v', '--check', '--graph',
    'web', 'h1', 'nosuch', '0', '-1', '99999999999', 'x=1', 'x=skip', 'x=[1,2', 'x={a: *b}', '@', `@${varsFile}`, '@/nonexistent',
    '{"x": 1}', '{x', '__proto__=1', 'constructor=2', 'x={{ pw }}', 'x=$(touch /tmp/rp-fuzz-pwned)', '--', '-', '--tasks-dir'),
);
const tail = fc.array(word, { maxLength: 6 });

const check = (r: { code: number; text: string }, argv: string[]): void => {
  if (![0, 2, 5].includes(r.code)) throw new Error(`exit ${r.code} for ${JSON.stringify(argv)}:\n${r.text}`);
  if (/internal error|\n\s+at .*:\d+:\d+\)?/.test(r.text)) throw new Error(`crash for ${JSON.stringify(argv)}:\n${r.text}`);
  if (r.text.includes('fuzz-secret')) throw new Error(`secret leaked for ${JSON.stringify(argv)}:\n${r.text}`);
};

test('validate with random options: exit 0 or 5, never a crash', async () => {
  await fc.assert(fc.asyncProperty(tail, async (rest) => {
    const argv = ['validate', pb, '-i', inv, ...rest];
    check(await call(argv), argv);
  }), { numRuns: 200 });
});

test('check with random options: exit 0/2/5, never a crash or a leak, nothing written', async () => {
  await fc.assert(fc.asyncProperty(tail, async (rest) => {
    const argv = ['check', pb, '-i', inv, ...rest];
    check(await call(argv), argv);
  }), { numRuns: 150 });
  assert.throws(() => readdirSync(work), 'check mode created nothing');
});

test('inventory with random options: never a crash, the secret stays masked', async () => {
  await fc.assert(fc.asyncProperty(tail, async (rest) => {
    const argv = ['inventory', '-i', inv, ...rest];
    check(await call(argv), argv);
  }), { numRuns: 100 });
});

test('no -e payload ran', async () => {
  const { existsSync } = await import('node:fs');
  assert.is(existsSync('/tmp/rp-fuzz-pwned'), false);
});

test.run();
