// defineTask at run time: schema defaults reach probe/apply/precheck (the derived params type
// promises them), present values win, the caller's object is not mutated, tasks are branded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defineTask, isTask, withDefaults } from '../../runner/task.js';
import type { TaskContext } from '../../runner/task.js';

const seen: unknown[] = [];
const task = defineTask({
  id: 'defaults-demo',
  summary: 'records the params it gets',
  schema: {
    type: 'object',
    properties: {
      mode: { type: 'string', enum: ['l4', 'l7'], default: 'l7' },
      ports: { type: 'array', items: { type: 'integer' }, default: [80, 443] },
      upstream: { type: 'object', properties: { port: { type: 'integer', default: 80 }, host: { type: 'string' } } },
      name: { type: 'string' },
    },
  },
  precheck(params) { seen.push(['precheck', params]); return []; },
  async probe(_ctx, params) { seen.push(['probe', params]); return { changed: true, msg: params.mode }; },
  async apply(_ctx, params) { seen.push(['apply', params]); },
});
const ctx = {} as TaskContext;

test('defaults are filled for precheck, probe and apply; present values are kept', async () => {
  seen.length = 0;
  const given = { mode: 'l4', upstream: { host: 'n1' } } as never;
  await task.precheck!(given, { host: 'h', vars: {}, playbookDir: '/', resolve: (p) => p });
  const probe = await task.probe(ctx, given);
  await task.apply!(ctx, given, probe);
  const want = { mode: 'l4', ports: [80, 443], upstream: { host: 'n1', port: 80 } };
  assert.equal(seen, [['precheck', want], ['probe', want], ['apply', want]]);
  assert.equal(given, { mode: 'l4', upstream: { host: 'n1' } }, 'caller object untouched');
});

test('default values are copies, not shared between runs', async () => {
  seen.length = 0;
  await task.probe(ctx, {} as never);
  ((seen[0] as [string, { ports: number[] }])[1]).ports.push(8080);
  await task.probe(ctx, {} as never);
  assert.equal((seen[1] as [string, { ports: number[] }])[1].ports, [80, 443]);
});

test('withDefaults leaves non-objects and absent optional objects alone', () => {
  const schema = { type: 'object', properties: { o: { type: 'object', properties: { x: { default: 1 } } } } };
  assert.equal(withDefaults(schema, {}), {});
  assert.is(withDefaults(schema, 'str'), 'str');
  assert.equal(withDefaults(schema, { o: {} }), { o: { x: 1 } });
});

test('tasks are branded; ids must be kebab-case', () => {
  assert.ok(isTask(task));
  assert.not.ok(isTask({ id: 'x', summary: '', schema: {}, probe: async () => ({ changed: false, msg: '' }) }));
  assert.throws(() => defineTask({ id: 'Bad_Id', summary: '', schema: { type: 'object' }, async probe() { return { changed: false, msg: '' }; } }), /kebab-case/);
});

test.run();
