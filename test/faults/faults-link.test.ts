// Network faults: a node's link cut in the middle of a run, a node unreachable from the
// start, and a slow link. Observed through the CLI's exit code and --json recap, and on the nodes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { events, cli } from '../unit/cli-helpers.js';
import { faultLab, lab, LAB, on, shortTimeoutInventory, start, until, writePlaybook } from './_faults.js';
import type { LabInfo } from '../lab/_lab.js';

let info: LabInfo;
let inv = '';
let pb = '';

// Each node: a slow step (10 s budget) that first leaves a "started" mark, then a quick file.
const PLAYBOOK = `name: faults
plays:
  - name: slow then quick
    hosts: rancher
    tasks:
      - name: slow step
        command: { cmd: "touch /var/tmp/rp-started; sleep 3 && echo done > /var/tmp/rp-slow", creates: /var/tmp/rp-slow }
        timeout: 10
      - name: quick file
        copy: { content: "after {{host.name}}\\n", dest: /var/tmp/rp-after }
`;

const reset = 'rm -f /var/tmp/rp-started /var/tmp/rp-slow /var/tmp/rp-after';

test.before(async () => {
  info = await faultLab();
  inv = shortTimeoutInventory(info, 3);
  pb = writePlaybook(info, 'faults-link.yml', PLAYBOOK);
  for (const n of ['node1', 'node2', 'node3']) {
    await lab.setLink(n, true, LAB);
    await on(n, reset);
  }
});

test.after(async () => {
  for (const n of ['node1', 'node2', 'node3']) await lab.setLink(n, true, LAB).catch(() => undefined);
  await lab.setDelay('node1', 0, LAB).catch(() => undefined);
});

test('link cut mid-task: that host fails within the task timeout, the others finish, exit 2, recap accurate', async () => {
  const run = start(['run', pb, '-i', inv, '--json']);
  // Cut node2 once its slow step is really running there.
  await until(async () => (await on('node2', 'test -e /var/tmp/rp-started')).code === 0, 'the slow step on node2');
  await lab.setLink('node2', false, LAB);
  const code = await run.done;
  assert.is(code, 2, run.stderr() + run.stdout());
  const { tasks, recap } = events(run.stdout());
  const n2 = tasks.filter((e) => e.host === 'node2');
  assert.is(n2.length, 1, 'node2 stops after its failed task');
  assert.is(n2[0]!.status, 'failed');
  assert.match(n2[0]!.msg, /timed out after 10s/);
  assert.equal(recap.hosts.node2, { ok: 0, changed: 0, failed: 1, skipped: 0, unreachable: 0 });
  for (const n of ['node1', 'node3']) {
    assert.equal(recap.hosts[n], { ok: 2, changed: 2, failed: 0, skipped: 0, unreachable: 0 }, n);
    assert.is((await on(n, 'cat /var/tmp/rp-after')).stdout, `after ${n}\n`);
  }
});

test('after the link is restored a rerun completes, and the run after that changes nothing', async () => {
  await lab.setLink('node2', true, LAB);
  const r1 = cli(['run', pb, '-i', inv, '--json']);
  assert.is(r1.code, 0, r1.stderr + r1.stdout);
  const e1 = events(r1.stdout);
  assert.is(e1.recap.hosts.node2!.failed, 0);
  assert.is((await on('node2', 'cat /var/tmp/rp-after')).stdout, 'after node2\n');
  const r2 = cli(['run', pb, '-i', inv, '--json']);
  assert.is(r2.code, 0, r2.stderr + r2.stdout);
  for (const [h, c] of Object.entries(events(r2.stdout).recap.hosts)) assert.is(c.changed, 0, `${h} changed on the idempotent rerun`);
});

test('a node whose link is down from the start is unreachable within the connect timeout; exit 4; the others are untouched by it', async () => {
  for (const n of ['node1', 'node2', 'node3']) await on(n, reset);
  await lab.setLink('node3', false, LAB);
  try {
    const r = cli(['run', pb, '-i', inv, '--json']);
    assert.is(r.code, 4, r.stderr + r.stdout);
    const { tasks, recap } = events(r.stdout);
    const n3 = tasks.filter((e) => e.host === 'node3');
    assert.is(n3.length, 1);
    assert.is(n3[0]!.status, 'unreachable');
    // Bounded by connect_timeout (3 s) in the inventory, not by TCP's own minutes-long retries.
    assert.ok(n3[0]!.duration_ms < 3000 + 2000, `unreachable after ${n3[0]!.duration_ms} ms`);
    assert.equal(recap.hosts.node3, { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 1 });
    for (const n of ['node1', 'node2']) assert.equal(recap.hosts[n], { ok: 2, changed: 2, failed: 0, skipped: 0, unreachable: 0 }, n);
  } finally {
    await lab.setLink('node3', true, LAB);
  }
  const again = cli(['run', pb, '-i', inv, '--json']);
  assert.is(again.code, 0, again.stderr + again.stdout);
  const rc = events(again.stdout).recap.hosts;
  assert.is(rc.node3!.changed, 2, 'node3 catches up');
  assert.is(rc.node1!.changed + rc.node2!.changed, 0, 'the others were already done');
});

test('a slow link (100 ms) still completes, and idempotently', async () => {
  for (const n of ['node1', 'node2', 'node3']) await on(n, reset);
  await lab.setDelay('node1', 100, LAB);
  try {
    const r = cli(['run', pb, '-i', inv, '--json', '--limit', 'node1']);
    assert.is(r.code, 0, r.stderr + r.stdout);
    assert.is(events(r.stdout).recap.hosts.node1!.changed, 2);
    const again = cli(['run', pb, '-i', inv, '--json', '--limit', 'node1']);
    assert.is(again.code, 0, again.stderr + again.stdout);
    assert.is(events(again.stdout).recap.hosts.node1!.changed, 0);
  } finally {
    await lab.setDelay('node1', 0, LAB);
  }
  assert.is((await on('node1', 'cat /var/tmp/rp-after')).stdout, 'after node1\n');
});

test('without a task timeout, SSH keepalives still end a silent dead link: the run does not hang', async () => {
  for (const n of ['node1', 'node2', 'node3']) await on(n, reset);
  const noTimeout = writePlaybook(info, 'faults-link-nt.yml', PLAYBOOK.replace('        timeout: 10\n', ''));
  const run = start(['run', noTimeout, '-i', inv, '--json']);
  await until(async () => (await on('node2', 'test -e /var/tmp/rp-started')).code === 0, 'the slow step on node2');
  await lab.setLink('node2', false, LAB);
  try {
    const code = await run.done;
    assert.ok(code === 2 || code === 4, `exit ${code}\n${run.stderr()}${run.stdout()}`);
    const { tasks, recap } = events(run.stdout());
    const n2 = tasks.filter((e) => e.host === 'node2');
    assert.is(n2.length, 1);
    assert.ok(n2[0]!.status === 'unreachable' || n2[0]!.status === 'failed', n2[0]!.msg);
    assert.is(recap.hosts.node2!.ok + recap.hosts.node2!.changed, 0);
    for (const n of ['node1', 'node3']) assert.is(recap.hosts[n]!.changed, 2, n);
  } finally {
    await lab.setLink('node2', true, LAB);
  }
});

test.run();
