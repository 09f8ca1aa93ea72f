// runTask against a real lab host: the scaffolded task runs on node1 of the lab's inventory over
// SSH through the bastion (the node is reachable only that way), check mode changes nothing
// there, apply changes once then reports ok — verified on the node with the system ssh client.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sshVia, useLab, type LabInfo } from './_lab.js';
import { loadCustomTasks } from '../../runner/engine/loader.js';
import { Registry } from '../../runner/engine/registry.js';
import { taskSource } from '../../runner/cli/scaffold.js';
import { runTask } from '../../runner/sdk/testing.js';
import { loadInventory } from '../../runner/model/inventory.js';
import type { AnyTask } from '../../runner/task.js';

let info: LabInfo;
let task: AnyTask;
const dir = mkdtempSync(join(tmpdir(), 'rp-runtask-lab-'));
const remote = `/tmp/rp-runtask-${process.pid}/motd`;

test.before(async () => {
  info = await useLab();
  writeFileSync(join(dir, 'ensure-motd.ts'), taskSource('ensure-motd'));
  const r = new Registry();
  await loadCustomTasks(dir, r);
  task = r.get('ensure-motd') as AnyTask;
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (info) sshVia(info, 'rancher', info.nodes[0]!.address, `rm -rf ${join(remote, '..')}`);
});

const onNode = (cmd: string) => sshVia(info, 'rancher', info.nodes[0]!.address, cmd);

test('check mode on node1 through the bastion: changed, nothing written there', async () => {
  assert.is(onNode(`mkdir -p ${join(remote, '..')} && printf 'first\\n' > ${remote}`).code, 0);
  const r = await runTask(task, { path: remote, line: 'managed' }, { inventory: info.inventory, host: 'node1', check: true });
  assert.is(r.status, 'changed', r.msg);
  assert.is(onNode(`cat ${remote}`).stdout, 'first\n');
});

test('apply on node1 changes the file there once, then reports ok', async () => {
  const opts = { inventory: info.inventory, host: 'node1' };
  const first = await runTask(task, { path: remote, line: 'managed' }, opts);
  assert.is(first.status, 'changed', first.msg);
  assert.is(onNode(`cat ${remote}`).stdout, 'first\nmanaged\n');
  const second = await runTask(task, { path: remote, line: 'managed' }, opts);
  assert.is(second.status, 'ok', second.msg);
  assert.is(onNode(`cat ${remote}`).stdout, 'first\nmanaged\n');
});

test('the task sees the inventory host: its name, address and groups', async () => {
  const seen: string[] = [];
  const probe: AnyTask = {
    ...task,
    id: 'who',
    probe: async (ctx) => {
      seen.push(ctx.host.name, ctx.host.address, ctx.host.groups.join(','), (await ctx.run('hostname')).stdout.trim());
      return { changed: false, msg: 'seen' };
    },
  } as AnyTask;
  const r = await runTask(probe, { path: remote, line: 'x' }, { inventory: info.inventory, host: 'node1' });
  assert.is(r.status, 'ok', r.msg);
  assert.is(seen[0], 'node1');
  assert.is(seen[1], info.nodes[0]!.address);
  assert.is(seen[2], loadInventory(info.inventory).hosts.get('node1')!.groups.join(','));
  assert.ok(seen[2], 'node1 is in a group');
  assert.is(seen[3], onNode('hostname').stdout.trim(), 'the command ran on node1');
});

test('a host missing from the inventory is a clear error naming the inventory', async () => {
  try {
    await runTask(task, { path: remote, line: 'x' }, { inventory: info.inventory, host: 'node11' });
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.match((e as Error).message, /no host "node11" in .*inventory\.yml \(did you mean "node1"\?\)/);
  }
});

test.run();
