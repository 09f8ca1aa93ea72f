// Big files through the bastion: `copy` of a controller file larger than the controller's whole
// Node heap (the CLI runs with --max-old-space-size=64) reaches a node intact, as the login user
// and with become; the next run uploads nothing, check mode uploads nothing, and on a terminal
// the tree draws a byte progress bar while the file travels.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { sshConfig, sshVia, useLab, type LabInfo } from '../lab/_lab.js';
import { cliShell } from '../unit/cli-helpers.js';

const NAME = 'xf';
const root = join(import.meta.dirname, '..', '..');
const SIZE = 150 * 1000 * 1000; // ~150 MB: more than twice the heap the controller may use
const PLAIN = '/var/tmp/rp-xfer.bin';
const ROOTED = '/root/rp-xfer.bin';
let info: LabInfo;
let cfg: string;
let src: string;
let pb: string;
let localSum = '';

interface Ev { event: string; task?: string; status?: string; changed?: boolean; msg?: string; hosts?: Record<string, { changed: number }> }

/** Random (incompressible) content written in 1 MB pieces, so this test never holds it whole. */
function writeRandom(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let left = SIZE; left > 0; left -= 1 << 20) {
    const b = randomBytes(Math.min(left, 1 << 20));
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return h.digest('hex');
}

/** The built CLI with a 64 MB heap. */
function run(args: string[]) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=64', join(root, 'bin', 'rancher-play.js'), ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '1' }, maxBuffer: 16 << 20,
  });
  const events = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Ev);
  return { code: r.status ?? -1, out: `${r.stdout}\n${r.stderr}`, events, tasks: events.filter((e) => e.event === 'task') };
}

/** sha256, mode and owner of both destinations, and any temp file an upload could leave. */
function remote(): { plain: string; rooted: string; leftovers: string } {
  const r = sshVia(info, 'rancher', info.nodes[0]!.address,
    `sha256sum < ${PLAIN} | cut -d' ' -f1; stat -c '%a %U:%G' ${PLAIN}; sudo -n sh -c 'sha256sum < ${ROOTED} | cut -d" " -f1; stat -c "%a %U:%G" ${ROOTED}; ls -a /var/tmp /root /tmp | grep -e rp- || true'`, cfg);
  assert.is(r.code, 0, r.stderr);
  const [ps = '', pm = '', rs = '', rm = '', ...rest] = r.stdout.trim().split('\n');
  return { plain: `${ps} ${pm}`, rooted: `${rs} ${rm}`, leftovers: rest.filter((l) => l !== 'rp-xfer.bin').join(' ') };
}

test.before(async () => {
  info = await useLab(NAME);
  cfg = sshConfig(info);
  src = join(info.dir, 'xfer.bin');
  localSum = writeRandom(src);
  pb = join(info.dir, 'transfer.yml');
  writeFileSync(pb, `name: transfer
plays:
  - name: big file
    hosts: node1
    tasks:
      - name: as the login user
        copy: { src: xfer.bin, dest: ${PLAIN}, mode: "0640" }
      - name: as root
        become: true
        copy: { src: xfer.bin, dest: ${ROOTED}, mode: "0600", owner: "root:root" }
`);
  // Start from nothing, whatever an earlier run left.
  sshVia(info, 'rancher', info.nodes[0]!.address, `rm -f ${PLAIN}; sudo -n rm -f ${ROOTED}`, cfg);
});

test('a file larger than the controller heap arrives whole through the jump host (login user and become)', () => {
  const r = run(['run', pb, '-i', info.inventory, '--json']);
  assert.is(r.code, 0, r.out);
  assert.equal(r.tasks.map((t) => t.status), ['changed', 'changed'], r.out);
  // Plain and JSON output say how the transfer went: size and rate.
  for (const t of r.tasks) assert.match(t.msg ?? '', /create \(143\.1 MiB in [\d.]+s, [\d.]+ [KMG]iB\/s\)/);
  const st = remote();
  assert.is(st.plain, `${localSum} 640 rancher:rancher`);
  assert.is(st.rooted, `${localSum} 600 root:root`);
  assert.is(st.leftovers, '', 'no temp file or upload directory left');
});

test('the next run compares sha256 and uploads nothing', () => {
  const r = run(['run', pb, '-i', info.inventory, '--json']);
  assert.is(r.code, 0, r.out);
  assert.equal(r.tasks.map((t) => `${t.status} ${t.msg}`), [`ok ${PLAIN} up to date`, `ok ${ROOTED} up to date`]);
});

test('check mode reports a changed source as changed and leaves the node as it was', () => {
  localSum = writeRandom(src);
  const r = run(['run', pb, '-i', info.inventory, '--json', '--check']);
  assert.is(r.code, 0, r.out);
  assert.equal(r.tasks.map((t) => `${t.status} ${t.msg}`), [`changed ${PLAIN}: content`, `changed ${ROOTED}: content`]);
  const st = remote();
  assert.is.not(st.plain.split(' ')[0], localSum);
  assert.is.not(st.rooted.split(' ')[0], localSum);
  assert.is(st.leftovers, '');
});

test('on a terminal the tree shows bytes, rate and ETA while the file travels', () => {
  const r = spawnSync('script', ['-qec', `stty cols 160 rows 50; ${cliShell(['run', pb, '-i', info.inventory])}`, '/dev/null'], {
    cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', CI: '' }, maxBuffer: 64 << 20,
  });
  // eslint-disable-next-line no-control-regex
  const out = (r.stdout ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.is(r.status, 0, out.slice(-3000));
  assert.match(out, /\[[#-]{24}\] [\d.]+ [KM]iB \/ 143\.1 MiB {2}[\d.]+ [KMG]?i?B\/s {2}(ETA \d+s|ETA --)/);
  assert.match(out, /node1: changed — \/var\/tmp\/rp-xfer\.bin: content \(143\.1 MiB/);
  const st = remote();
  assert.is(st.plain, `${localSum} 640 rancher:rancher`);
  assert.is(st.rooted, `${localSum} 600 root:root`);
});

test.run();
