// Custom task loading: TypeScript tasks load with no build step from a directory that has no
// node_modules, `rancher-play` resolves to this package, and bad task files give exit-5 style
// InputErrors with file:line:column rather than loader stack traces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadCustomTasks, customTaskDirs, taskFiles } from '../../runner/engine/loader.js';
import { Registry } from '../../runner/engine/registry.js';
import { InputError } from '../../runner/errors.js';
import { builtinTasks } from '../../tasks/index.js';
import { runTask } from '../../runner/sdk/testing.js';
import type { AnyTask } from '../../runner/task.js';

const fixtures = resolve('test/fixtures/custom');
const temps: string[] = [];
function tempCopy(name: string): string {
  const d = mkdtempSync(join(tmpdir(), 'rp-custom-'));
  temps.push(d);
  cpSync(join(fixtures, name), join(d, 'tasks'), { recursive: true });
  return join(d, 'tasks');
}
test.after(() => { for (const d of temps) rmSync(d, { recursive: true, force: true }); });

function builtins(): Registry {
  const r = new Registry();
  for (const t of builtinTasks) r.add(t, 'builtin');
  return r;
}

async function loadError(dir: string, registry = builtins()): Promise<InputError> {
  try {
    await loadCustomTasks(dir, registry);
  } catch (e) {
    assert.instance(e, InputError);
    return e as InputError;
  }
  throw new assert.Assertion({ message: `expected ${dir} to fail loading` });
}

test('loads TypeScript tasks from a directory with no node_modules, rancher-play aliased', async () => {
  const dir = tempCopy('tasks-good');
  assert.not.ok(existsSync(join(dir, '..', 'node_modules')));
  const r = builtins();
  await loadCustomTasks(dir, r);
  assert.ok(r.get('stamp-file'), 'default export registered');
  assert.ok(r.get('extra-one') && r.get('extra-two'), 'named exports registered');
  assert.is(r.get('tla-task')?.summary, 'hello', 'top-level await works');
  assert.is(r.source('stamp-file'), join(dir, 'stamp-file.ts'));
  assert.ok(r.get('command'), 'built-ins still there');
});

test('a loaded custom task runs: probe + apply through its relative helper, then ok', async () => {
  const dir = tempCopy('tasks-good');
  const r = new Registry();
  await loadCustomTasks(dir, r);
  const task = r.get('stamp-file') as unknown as AnyTask;
  const path = join(dir, 'out.txt');
  const first = await runTask(task, { path } as never);
  assert.is(first.status, 'changed');
  assert.is(readFileSync(path, 'utf8'), 'stamped\n', 'schema default filled in');
  const second = await runTask(task, { path } as never);
  assert.is(second.status, 'ok');
});

test('test files, declarations and _helpers are not loaded as tasks', () => {
  const files = taskFiles(join(fixtures, 'tasks-good')).map((f) => f.slice(f.lastIndexOf('/') + 1));
  assert.equal(files, ['extra.mts', 'stamp-file.ts', 'tla.mts']);
});

test('a syntax error is reported with the task file and line:column, no stack trace', async () => {
  const dir = tempCopy('tasks-syntax');
  const err = await loadError(dir);
  assert.is(err.problems.length, 1);
  const p = err.problems[0]!;
  assert.is(p.pos?.file, join(dir, 'broken.ts'));
  assert.is(p.pos?.line, 9);
  assert.ok((p.pos?.col ?? 0) > 1);
  assert.match(err.message, /broken\.ts:9:\d+ /);
  assert.match(err.message, /syntax error/);
  assert.not.match(err.message, /\n\s+at /, 'no stack frames');
  assert.not.match(err.message, /jiti|babel/i, 'no loader internals');
});

test('a module that exports no defineTask task is a clear error', async () => {
  const err = await loadError(join(fixtures, 'tasks-noexport'));
  assert.match(err.message, /plain\.ts/);
  assert.match(err.message, /exports no task/);
  assert.match(err.message, /defineTask/);
});

test('a plain-JS task with an invalid schema or no summary is rejected, naming the file', async () => {
  const err = await loadError(join(fixtures, 'tasks-badshape'));
  assert.match(err.message, /wrong\.js task "wrong-shape": summary must be a non-empty string/);
  assert.match(err.message, /wrong\.js task "wrong-shape": schema is not a valid JSON Schema: .*numbr/);
});

test('a custom task shadowing a built-in id names both files', async () => {
  const err = await loadError(join(fixtures, 'tasks-shadow'));
  assert.match(err.message, /tasks-shadow\/command\.ts/);
  assert.match(err.message, /tasks\/command\.ts/);
  assert.match(err.message, /"command" shadows the built-in/);
});

test('the same id in two custom files names both files', async () => {
  const dir = tempCopy('tasks-good');
  const r = new Registry();
  await loadCustomTasks(dir, r);
  const other = tempCopy('tasks-good');
  const err = await loadError(other, r);
  assert.match(err.message, new RegExp(`defined twice: in .*${dir.split('/').slice(-2).join('/')}/stamp-file\\.ts and in .*stamp-file\\.ts`));
});

test('the package\'s own built-in tasks dir and a missing dir load nothing', async () => {
  const r = builtins();
  const before = r.ids();
  await loadCustomTasks(resolve('tasks'), r);
  await loadCustomTasks(join(tmpdir(), 'rp-no-such-dir'), r);
  assert.equal(r.ids(), before);
});

test('customTaskDirs: --tasks-dir wins; else tasks/ beside the playbook, cwd tasks/, playbooks/tasks/', () => {
  const base = mkdtempSync(join(tmpdir(), 'rp-dirs-'));
  temps.push(base);
  cpSync(join(fixtures, 'tasks-good'), join(base, 'tasks'), { recursive: true });
  cpSync(join(fixtures, 'tasks-good'), join(base, 'playbooks', 'tasks'), { recursive: true });
  assert.equal(customTaskDirs({ tasksDir: 'x', cwd: base }), [join(base, 'x')]);
  assert.equal(customTaskDirs({ playbook: 'playbooks/site.yml', cwd: base }), [join(base, 'playbooks', 'tasks'), join(base, 'tasks')]);
  assert.equal(customTaskDirs({ cwd: base }), [join(base, 'tasks'), join(base, 'playbooks', 'tasks')]);
});

test.run();
