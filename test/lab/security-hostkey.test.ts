// A man in the middle: the lab swaps a node's (then the bastion's) SSH host key;
// rancher-play must refuse that host before running anything there — even with
// --accept-new-host-keys — name both fingerprints, leave known_hosts alone, and still serve the
// other hosts. A lab of its own: the swapped keys would break tests sharing the default lab.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useLab, lab, type LabInfo } from './_lab.js';
import { cli, events } from '../unit/cli-helpers.js';

const NAME = 'h9k';
let info: LabInfo;
let pb = '';

const marks = async (host: string): Promise<string[]> => {
  const r = await lab.labExec(host, 'ls /var/tmp | grep ^rp-mitm- || true', NAME);
  return String(r.stdout).split('\n').filter(Boolean).sort();
};

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
  pb = join(info.dir, 'mitm.yml');
  writeFileSync(pb, `name: mitm
plays:
  - name: p
    hosts: rancher
    tasks:
      - command: { cmd: "touch /var/tmp/rp-mitm-{{ run }}" }
`);
});

test.after(async () => {
  await lab.labDown(NAME); // the swapped keys make this lab useless to anyone else
});

test('baseline: with the recorded keys every node runs the task', async () => {
  const r = cli(['run', pb, '-i', info.inventory, '-e', 'run=1', '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.equal(await marks('node1'), ['rp-mitm-1']);
});

test('a node whose host key changed is refused before any command, even with --accept-new-host-keys', async () => {
  const knownBefore = readFileSync(info.knownHosts, 'utf8');
  await lab.regenHostKey('node1', NAME);
  for (const [run, extra] of [['2', []], ['3', ['--accept-new-host-keys']]] as const) {
    const r = cli(['run', pb, '-i', info.inventory, '-e', `run=${run}`, '--json', ...extra]);
    assert.is(r.code, 4, r.stderr + r.stdout);
    const { tasks, recap } = events(r.stdout);
    const n1 = tasks.find((e) => e.host === 'node1')!;
    assert.is(n1.status, 'unreachable');
    assert.match(n1.msg, /host key for .* has changed: expected SHA256:\S+ got SHA256:\S+/);
    assert.is(recap.hosts.node1!.unreachable, 1);
    for (const n of ['node2', 'node3']) assert.is(recap.hosts[n]!.changed, 1, `${n} still served`);
    assert.ok((await marks('node2')).includes(`rp-mitm-${run}`), 'node2 ran the task');
  }
  assert.equal(await marks('node1'), ['rp-mitm-1'], 'nothing ran on the impostor');
  assert.is(readFileSync(info.knownHosts, 'utf8'), knownBefore, 'known_hosts was not rewritten');
});

test('ping refuses the changed key too', () => {
  const r = cli(['ping', '-i', info.inventory, '--limit', 'node1', '--accept-new-host-keys']);
  assert.is(r.code, 4, r.stderr + r.stdout);
  assert.match(r.stdout + r.stderr, /has changed/);
});

test('a swapped bastion key makes every host behind it unreachable; nothing runs anywhere', async () => {
  await lab.regenHostKey('bastion', NAME);
  const r = cli(['run', pb, '-i', info.inventory, '-e', 'run=4', '--json', '--accept-new-host-keys']);
  assert.is(r.code, 4, r.stderr + r.stdout);
  const { tasks } = events(r.stdout);
  assert.is(tasks.length, 3);
  for (const e of tasks) {
    assert.is(e.status, 'unreachable', e.host);
    assert.match(e.msg, /bastion.*has changed|has changed.*bastion/);
  }
  for (const n of ['node1', 'node2', 'node3']) assert.not.ok((await marks(n)).includes('rp-mitm-4'), n);
});

test.run();
