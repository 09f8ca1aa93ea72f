// The built-in tasks use the same API as custom tasks: a file in tasks/ may import the package
// entry (runner/sdk/index.ts, `rancher-play`), other files in tasks/, Node's modules and libraries,
// but nothing else under runner/. Files not converted yet are listed and tolerated; once one
// is converted it must leave the list.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { root } from './cli-helpers.js';
import { defineTask, groupHosts, renderTemplate, shQuote } from '../../runner/sdk/index.js';
import { runTask, ParamsError } from '../../runner/sdk/testing.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const TOLERATED = new Set<string>([]);

const RUNNER = join(root, 'runner');
const ENTRY = join(RUNNER, 'sdk', 'index');

/** Every module specifier `file` (repo-relative) imports or re-exports, dynamic imports included. */
function specifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** The specifiers of `file` that reach past the SDK into runner/. */
export function pastTheSdk(file: string, source: string): string[] {
  return specifiers(source).filter((spec) => {
    if (spec === 'rancher-play') return false;
    if (spec.startsWith('rancher-play/')) return true;
    if (!spec.startsWith('.')) return false;
    const target = resolve(dirname(join(root, file)), spec).replace(/\.[cm]?[jt]s$/, '');
    return (target === RUNNER || target.startsWith(`${RUNNER}/`)) && target !== ENTRY;
  });
}

function taskSources(dir = join(root, 'tasks')): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return taskSources(p);
    return /\.[cm]?[jt]s$/.test(e.name) && !/\.d\.[cm]?ts$/.test(e.name) ? [relative(root, p)] : [];
  });
}

test('the checker tells the SDK entry from the rest of runner/', () => {
  const src = [
    "import { defineTask } from '../runner/sdk/index.js';",
    "import type { Vars } from '../runner/types.js';",
    "export { shQuote } from '../runner/quote.js';",
    "const m = await import('../runner/model/template.js');",
    "import { runTask as rt } from '../runner/sdk/testing.js';",
    "import { x } from './other.js';",
    "import { y } from 'rancher-play';",
    "import { runTask } from 'rancher-play/testing';",
    "import { readFile } from 'node:fs/promises';",
    "// import { z } from '../runner/model/expr.js';  (a comment is no import)",
  ].join('\n');
  assert.equal(pastTheSdk('tasks/x.ts', src), ['../runner/types.js', '../runner/quote.js', '../runner/model/template.js', '../runner/sdk/testing.js', 'rancher-play/testing']);
  assert.equal(pastTheSdk('tasks/templates/x.ts', "import { a } from '../../runner/sdk/index.js';\nimport { b } from '../../runner/engine/embedded.js';"), ['../../runner/engine/embedded.js']);
});

test('files in tasks/ import nothing under runner/ but the SDK entry', () => {
  const files = taskSources();
  assert.ok(files.includes('tasks/index.ts') && files.includes('tasks/templates/index.ts'), 'scans tasks/ and its subfolders');
  const offenders = files
    .filter((f) => !TOLERATED.has(f))
    .map((f) => ({ f, past: pastTheSdk(f, readFileSync(join(root, f), 'utf8')) }))
    .filter((o) => o.past.length > 0)
    .map((o) => `${o.f} imports ${o.past.join(', ')}: import from '../runner/sdk/index.js' (the SDK entry) instead`);
  assert.equal(offenders, []);
});

test('every tolerated file still needs its exemption (converted files leave the list)', () => {
  for (const f of TOLERATED) {
    const past = pastTheSdk(f, readFileSync(join(root, f), 'utf8'));
    assert.ok(past.length > 0, `${f} imports only the SDK now: remove it from TOLERATED in this test`);
  }
});

test('the SDK entry: group lookups, strict templates, quoting, readLocal in prechecks', async () => {
  const vars = {
    groups: { lb: ['lb1', 'lb2', 'lb3'] },
    hostvars: { lb1: { host: { address: '10.0.0.1' } }, lb2: { ansible_host: '10.0.0.2' }, lb3: {} },
  };
  assert.equal(groupHosts(vars, 'lb').map((h) => `${h.name}=${h.address}`), ['lb1=10.0.0.1', 'lb2=10.0.0.2', 'lb3=lb3']);
  assert.equal(groupHosts(vars, 'nope'), []);
  assert.is(renderTemplate('server {{x}};', { x: '10.0.0.1' }), 'server 10.0.0.1;');
  assert.throws(() => renderTemplate('server {{y}};', { x: 1 }, 'nginx.hbs'), /missing variable "y"/);
  assert.is(shQuote("it's"), `'it'\\''s'`);

  const dir = mkdtempSync(join(tmpdir(), 'rp-sdk-'));
  writeFileSync(join(dir, 'allowed.txt'), 'web1\n');
  const task = defineTask({
    id: 'sdk-precheck',
    summary: 'precheck reads a controller file',
    schema: { type: 'object', properties: { list: { type: 'string' } }, required: ['list'] },
    async precheck(p, ctx) {
      const text = await ctx.readLocal(p.list);
      return text === null ? [`${p.list} not found`] : text.toString().includes(ctx.host) ? [] : [`${ctx.host} not allowed`];
    },
    async probe() { return { changed: false, msg: 'fine' }; },
  });
  assert.is((await runTask(task, { list: 'allowed.txt' }, { playbookDir: dir, host: { name: 'web1' } })).msg, 'fine');
  const refused = async (params: { list: string }, host: string): Promise<string> => {
    try {
      await runTask(task, params, { playbookDir: dir, host: { name: host } });
      return 'ran';
    } catch (e) {
      return e instanceof ParamsError ? e.problems.join('; ') : String(e);
    }
  };
  assert.is(await refused({ list: 'allowed.txt' }, 'web2'), 'web2 not allowed');
  assert.is(await refused({ list: 'missing.txt' }, 'web1'), 'missing.txt not found');
});

test("runTask validates params with the engine's validator: formats count, defaults are filled", async () => {
  const task = defineTask({
    id: 'sdk-format',
    summary: 'a url param',
    schema: { type: 'object', properties: { url: { type: 'string', format: 'uri' }, tries: { type: 'integer', default: 3 } }, required: ['url'] },
    async probe(_ctx, p) { return { changed: false, msg: `${p.url} x${p.tries}` }; },
  });
  assert.is((await runTask(task, { url: 'https://example.test/ping' })).msg, 'https://example.test/ping x3');
  try {
    await runTask(task, { url: 'not a uri' });
    assert.unreachable('a malformed uri passed');
  } catch (e) {
    assert.instance(e, ParamsError);
    assert.match((e as ParamsError).message, /url must match format "uri"/);
  }
});

test.run();
