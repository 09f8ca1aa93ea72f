// runTask with `{ inventory, host }` without the lab: the task sees the inventory host's vars,
// groups and address; a host that cannot be reached comes back `unreachable` (a closed loopback
// port); a name missing from the inventory throws naming the inventory. (The SSH path through a
// bastion is tested against the lab in test/lab/custom-runtask-lab.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTask } from '../../runner/task.js';
import { runTask } from '../../runner/sdk/testing.js';
import { freePort } from './ssh-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-runtask-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const seen: Record<string, unknown>[] = [];
const task = defineTask({
  id: 'note-host',
  summary: 'writes what it saw of its host',
  schema: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: { type: 'string' } } },
  async probe(ctx, p) {
    seen.push({ name: ctx.host.name, address: ctx.host.address, groups: ctx.host.groups, greeting: ctx.vars.greeting, role: ctx.vars.role });
    const want = `${String(ctx.vars.greeting)} from ${ctx.host.name}\n`;
    return (await ctx.readFile(p.path)) === want ? { changed: false, msg: 'same' } : { changed: true, msg: 'write', state: want };
  },
  async apply(ctx, p, probe) {
    await ctx.writeFile(p.path, probe.state!);
  },
});

let inventory = '';
test.before(async () => {
  inventory = join(dir, 'hosts.yml');
  writeFileSync(inventory, [
    'vars: { greeting: hello }',
    'hosts:',
    '  box: { connection: local, vars: { role: worker } }',
    `  gone: { address: 127.0.0.1, port: ${await freePort()}, user: nobody }`,
    'groups:',
    '  workers: { hosts: [box] }',
    '',
  ].join('\n'));
});

test('the task runs as the inventory host, with its vars and groups; given vars win', async () => {
  seen.length = 0;
  const path = join(dir, 'out');
  const first = await runTask(task, { path }, { inventory, host: 'box' });
  assert.is(first.status, 'changed', first.msg);
  assert.is(readFileSync(path, 'utf8'), 'hello from box\n');
  assert.is((await runTask(task, { path }, { inventory, host: 'box' })).status, 'ok');
  assert.equal(seen[0], { name: 'box', address: seen[0]!.address, groups: ['workers'], greeting: 'hello', role: 'worker' });
  const over = await runTask(task, { path }, { inventory, host: 'box', vars: { greeting: 'hi' }, check: true });
  assert.is(over.status, 'changed');
  assert.is(seen[2]!.greeting, 'hi');
  assert.is(readFileSync(path, 'utf8'), 'hello from box\n', 'check mode wrote nothing');
});

test('a host that cannot be reached is `unreachable`, with the reason', async () => {
  const r = await runTask(task, { path: '/tmp/never' }, { inventory, host: 'gone' });
  assert.is(r.status, 'unreachable');
  assert.match(r.msg ?? '', /127\.0\.0\.1|refused|connect/i);
});

test('a host missing from the inventory throws, naming the inventory and the nearest name', async () => {
  try {
    await runTask(task, { path: '/tmp/never' }, { inventory, host: 'bx' });
  } catch (e) {
    assert.match((e as Error).message, /no host "bx" in .*hosts\.yml \(did you mean "box"\?\)/);
    return;
  }
  assert.unreachable('runTask should have thrown');
});

test.run();
