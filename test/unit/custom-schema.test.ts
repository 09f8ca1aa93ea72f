// Editor support: `rancher-play schema playbook` is a plain JSON Schema that an editor (through
// `# yaml-language-server: $schema=...`) can use. Checked here with ajv, as an editor would: it
// accepts the shipped playbooks, rejects broken ones, includes the project's custom tasks, and
// the committed schemas/*.json (what the shipped files point at) are up to date.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { isDeepStrictEqual } from 'node:util';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv) => Ajv;
const repo = resolve('.');
const cli = join(repo, 'bin/rancher-play.js');
const temps: string[] = [];
test.after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

function rp(args: string[], cwd = repo): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function schemaFrom(args: string[], cwd = repo): object {
  const r = rp(['schema', ...args], cwd);
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as object;
}
/** Validate like an editor: plain ajv, no rancher-play code involved. */
function editorCheck(schema: object, doc: unknown): ErrorObject[] {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return validate(doc) ? [] : (validate.errors ?? []);
}
const yamlFile = (p: string): unknown => parse(readFileSync(p, 'utf8'));

const shippedPlaybooks = readdirSync(join(repo, 'playbooks')).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(repo, 'playbooks', f));
const shippedInventories = readdirSync(join(repo, 'inventory')).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(repo, 'inventory', f));

test('there are shipped playbooks to check', () => {
  assert.ok(shippedPlaybooks.length > 0);
});

for (const file of shippedPlaybooks) {
  const name = file.slice(repo.length + 1);
  test(`${name} validates against \`schema playbook\``, () => {
    const errors = editorCheck(schemaFrom(['playbook']), yamlFile(file));
    assert.equal(errors, [], JSON.stringify(errors, null, 1));
  });
  test(`${name} carries the yaml-language-server header pointing at a committed schema`, () => {
    const head = readFileSync(file, 'utf8').split('\n').slice(0, 5).join('\n');
    const m = /# yaml-language-server: \$schema=(\S+)/.exec(head);
    assert.ok(m, `${name} has no "# yaml-language-server: $schema=" header`);
    assert.is(resolve(dirname(file), m![1]!), join(repo, 'schemas', 'playbook.schema.json'));
  });
}

for (const file of shippedInventories) {
  const name = file.slice(repo.length + 1);
  test(`${name} validates against \`schema inventory\``, () => {
    const errors = editorCheck(schemaFrom(['inventory']), yamlFile(file));
    assert.equal(errors, [], JSON.stringify(errors, null, 1));
  });
}

test('a broken playbook is rejected at the offending paths', () => {
  const schema = schemaFrom(['playbook']);
  const broken = {
    name: 'broken',
    plays: [{
      name: 'p', hosts: 'all',
      tasks: [
        { copy: { dest: '/tmp/x', content: 'x', mod: '0644' } },   // misspelt param
        { 'wait-for': { port: 'eighty' } },                         // wrong type
        { 'no-such-task': {} },                                     // unknown task id
      ],
    }],
  };
  const errors = editorCheck(schema, broken);
  const paths = new Set(errors.map((e) => e.instancePath));
  assert.ok(paths.has('/plays/0/tasks/0/copy'), JSON.stringify([...paths]));
  assert.ok([...paths].some((p) => p.startsWith('/plays/0/tasks/1')), JSON.stringify([...paths]));
  assert.ok([...paths].some((p) => p.startsWith('/plays/0/tasks/2')), JSON.stringify([...paths]));
  assert.equal(editorCheck(schema, { plays: [{ name: 'p', hosts: 'all', tasks: [{ copy: { dest: '/tmp/x', content: 'x' } }] }] }), []);
});

test('the playbook schema of a project includes its custom tasks (cwd tasks/ and --tasks-dir)', () => {
  const proj = mkdtempSync(join(tmpdir(), 'rp-schema-'));
  temps.push(proj);
  cpSync(join(repo, 'test/fixtures/custom/tasks-good'), join(proj, 'tasks'), { recursive: true });
  const good = { plays: [{ name: 'p', hosts: 'all', tasks: [{ 'stamp-file': { path: '/tmp/x', word: 'hi' } }] }] };
  const bad = { plays: [{ name: 'p', hosts: 'all', tasks: [{ 'stamp-file': { path: 3 } }] }] };
  for (const schema of [schemaFrom(['playbook'], proj), schemaFrom(['playbook', '--tasks-dir', join(proj, 'tasks')])]) {
    assert.equal(editorCheck(schema, good), []);
    assert.ok(editorCheck(schema, bad).some((e) => e.instancePath === '/plays/0/tasks/0/stamp-file/path'));
    const item = JSON.stringify(schema);
    assert.match(item, /Write a stamp line into a file/, 'summary published as description');
  }
  assert.not.match(JSON.stringify(schemaFrom(['playbook'])), /stamp-file/, 'repo root has no custom tasks');
});

test('schema --write writes .rancher-play/KIND.schema.json in the project (no temp files left)', () => {
  const proj = mkdtempSync(join(tmpdir(), 'rp-schema-'));
  temps.push(proj);
  cpSync(join(repo, 'test/fixtures/custom/tasks-good'), join(proj, 'tasks'), { recursive: true });
  const r = rp(['schema', 'playbook', '--write'], proj);
  assert.is(r.code, 0, r.stderr);
  const file = join(proj, '.rancher-play', 'playbook.schema.json');
  assert.ok(existsSync(file));
  assert.equal(JSON.parse(readFileSync(file, 'utf8')), schemaFrom(['playbook'], proj));
  assert.equal(readdirSync(join(proj, '.rancher-play')), ['playbook.schema.json']);
});

test('committed schemas/*.json are what `schema` prints (run `npm run schemas` after changing tasks)', () => {
  for (const kind of ['playbook', 'inventory']) {
    const file = join(repo, 'schemas', `${kind}.schema.json`);
    assert.ok(existsSync(file), `${file} missing`);
    const same = isDeepStrictEqual(JSON.parse(readFileSync(file, 'utf8')), schemaFrom([kind]));
    assert.ok(same, `schemas/${kind}.schema.json is stale: run \`npm run schemas\` and commit it`);
  }
});

test.run();
