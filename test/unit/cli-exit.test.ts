// Exit codes a user scripts against: 4 when a host is unreachable (others go on), 2 when a task
// failed (beats 4), 5 when a task's precheck rejects its rendered params (nothing runs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { cli, events, project } from './cli-helpers.js';

/** A loopback port with nothing listening (bound then closed). */
async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('an unreachable host → exit 4, status unreachable, the local host still runs everything', async () => {
  const port = await closedPort();
  const p = project(1);
  const inv = p.write('inv2.yml', `hosts:
  h1: { connection: local }
  gone: { address: 127.0.0.1, port: ${port}, user: nobody }
groups: { web: { hosts: [h1, gone] } }
vars: { work: ${p.work} }
`);
  const pb = p.write('pb.yml', `name: u
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "touch {{work}}/one-{{host.name}}" }
      - command: { cmd: "touch {{work}}/two-{{host.name}}" }
`);
  const r = cli(['run', pb, '-i', inv, '--json']);
  assert.is(r.code, 4, r.stderr + r.stdout);
  const e = events(r.stdout);
  assert.is(e.recap.hosts.gone!.unreachable, 1);
  assert.is(e.tasks.filter((t) => t.host === 'gone').length, 1, 'no further tasks on the unreachable host');
  assert.match(e.tasks.find((t) => t.host === 'gone')!.msg, /refused/);
  assert.ok(existsSync(join(p.work, 'two-h1')));

  const pb2 = p.write('pb2.yml', `name: u
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "false" }
`);
  assert.is(cli(['run', pb2, '-i', inv]).code, 2, 'a failure wins over unreachable');
});

test('a custom task precheck failing on rendered params → exit 5 with position, nothing runs', () => {
  const p = project(1);
  p.write('tasks/even.ts', `import { defineTask } from 'rancher-play';
export default defineTask({
  id: 'even',
  summary: 'needs an even number',
  schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false },
  precheck(p) { return p.n % 2 === 0 ? [] : ['n must be even, got ' + p.n]; },
  async probe() { return { changed: false, msg: 'fine' }; },
});
`);
  const pb = p.write('pb.yml', `name: pre
vars: { num: 3 }
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "touch {{work}}/ran" }
      - even: { n: "{{num}}" }
`);
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 5, r.stderr + r.stdout);
  assert.match(r.stderr, /pb\.yml:8:\d+ even.*n must be even, got 3/);
  assert.is(existsSync(join(p.work, 'ran')), false);
  const ok = cli(['run', pb, '-i', p.inventory, '-e', 'num=4']);
  assert.is(ok.code, 0, ok.stderr);
  assert.ok(existsSync(join(p.work, 'ran')));
});

test.run();
