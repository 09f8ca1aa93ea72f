// An upload cut off: node1's sshd (and every session it serves) is killed while a
// multi-megabyte file is on its way. The destination must hold either the complete old file or
// the complete new one — never a prefix — and no temp file may be left beside it. The upload is
// slowed down (a slow bastion link) so that the kill lands in the middle of it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events } from '../unit/cli-helpers.js';
import { faultLab, lab, LAB, on, shortTimeoutInventory, start, until, writePlaybook } from './_faults.js';
import type { LabInfo } from '../lab/_lab.js';

let info: LabInfo;
let inv = '';
let pb = '';
const OLD = randomBytes(64 * 1024);
const NEW = randomBytes(3 * 1024 * 1024);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const DEST = '/var/tmp/rp-big.bin';

async function destState(): Promise<{ sum: string; listing: string[] }> {
  const r = await on('node1', `sha256sum < ${DEST} | cut -d' ' -f1; ls -a /var/tmp`);
  const [sum = '', ...listing] = r.stdout.trim().split('\n');
  return { sum, listing };
}

test.before(async () => {
  info = await faultLab();
  inv = shortTimeoutInventory(info, 5);
  writeFileSync(join(info.dir, 'old.bin'), OLD);
  writeFileSync(join(info.dir, 'new.bin'), NEW);
  pb = writePlaybook(info, 'faults-upload.yml', `name: upload
plays:
  - name: big file
    hosts: node1
    tasks:
      - name: connected
        command: { cmd: "true", changed_when: false }
      - name: upload
        copy: { src: "{{ which }}.bin", dest: ${DEST}, mode: "0640" }
`);
  await lab.startSshd('node1', LAB);
  const seed = cli(['run', pb, '-i', inv, '-e', 'which=old']);
  assert.is(seed.code, 0, seed.stderr + seed.stdout);
  assert.is((await destState()).sum, sha(OLD));
});

test.after(async () => {
  await lab.setDelay('bastion', 0, LAB).catch(() => undefined);
  await lab.startSshd('node1', LAB).catch(() => undefined);
});

test('sshd killed mid-upload: the destination is the old file or the new one, never a part; no temp file left', async () => {
  // ~300 KB/s through the bastion: the 3 MB upload (4 MB as base64) takes several seconds.
  await lab.setDelay('bastion', 5, LAB);
  const run = start(['run', pb, '-i', inv, '--json', '-e', 'which=new']);
  try {
    // The first task's event means the connection is up and the upload task is next.
    await until(() => run.stdout().includes('"task":"connected"'), 'the first task');
    await new Promise((r) => setTimeout(r, 1500));
    await lab.stopSshd('node1', LAB);
    const code = await run.done;
    assert.ok(code === 2 || code === 4, `exit ${code}\n${run.stderr()}${run.stdout()}`);
    const ev = events(run.stdout()).tasks.find((e) => e.task === 'upload')!;
    assert.ok(ev.status === 'failed' || ev.status === 'unreachable', `the upload was cut: ${ev.status} ${ev.msg}`);
  } finally {
    await lab.setDelay('bastion', 0, LAB);
  }
  // The remote shell may still be finishing what it got: give it its time, then look.
  let st = await destState();
  await until(async () => {
    st = await destState();
    return !st.listing.some((f) => f.includes('.rp-'));
  }, 'temp files to disappear', 200).catch(() => undefined);
  assert.ok(st.sum === sha(OLD) || st.sum === sha(NEW), `partial file at ${DEST} (sha ${st.sum})`);
  assert.equal(st.listing.filter((f) => f.includes('rp-big') && f !== 'rp-big.bin'), [], 'no temp file left');
});

test('with sshd back, the rerun uploads the whole file; the next run changes nothing', async () => {
  await lab.startSshd('node1', LAB);
  const r = cli(['run', pb, '-i', inv, '--json', '-e', 'which=new']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.is((await destState()).sum, sha(NEW));
  const again = cli(['run', pb, '-i', inv, '--json', '-e', 'which=new']);
  assert.is(again.code, 0, again.stderr + again.stdout);
  assert.is(events(again.stdout).recap.hosts.node1!.changed, 0);
});

test.run();
