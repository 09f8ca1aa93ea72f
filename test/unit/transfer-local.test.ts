// Big `copy` sources on the controller itself (connection: local): streamed, so the result is
// byte-identical, the mode is the wanted one, an unchanged file is not rewritten, check mode
// writes nothing, and the result says size and rate. Plus the progress bar's text.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { LocalTransport } from '../../runner/transport/local.js';
import { progressBar } from '../../runner/render/bytes.js';
import { cli, cliShell, events, project } from './cli-helpers.js';

const MB = 1 << 20;

/** 12 MiB of random data written in pieces; its sha256. */
function randomFile(path: string, mib = 12): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let i = 0; i < mib; i++) {
    const b = randomBytes(MB);
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return h.digest('hex');
}

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

test('a big src is copied whole with its mode; the next run and check mode leave it alone', () => {
  const p = project(1);
  const sum = randomFile(join(p.dir, 'big.bin'));
  const dest = join(p.work, 'big.bin');
  const pb = p.write('pb.yml', `plays:
  - hosts: web
    tasks:
      - copy: { src: big.bin, dest: "{{ work }}/big.bin", mode: "0640" }
`);
  const first = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(first.code, 0, first.stderr);
  const ev = events(first.stdout).tasks[0]!;
  assert.is(ev.status, 'changed');
  assert.match(ev.msg, /create \(12\.0 MiB in [\d.]+s, [\d.]+ [KMG]?i?B\/s\)/);
  assert.is(sha(dest), sum);
  assert.is(statSync(dest).mode & 0o777, 0o640);
  assert.equal(readdirSync(p.work), ['big.bin'], 'no temp file left');

  const mtime = statSync(dest).mtimeMs;
  const again = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(events(again.stdout).tasks[0]!.status, 'ok');
  assert.is(statSync(dest).mtimeMs, mtime, 'not rewritten');

  const newSum = randomFile(join(p.dir, 'big.bin'));
  const check = cli(['run', pb, '-i', p.inventory, '--json', '--check']);
  const cev = events(check.stdout).tasks[0]!;
  assert.is(`${cev.status} ${cev.msg}`, `changed ${dest}: content`);
  assert.is(sha(dest), sum, 'check mode wrote nothing');
  assert.is.not(newSum, sum);
});

test('local upload reports progress up to the full size and replaces the target atomically', async () => {
  const d = mkdtempSync(join(tmpdir(), 'rp-xfer-'));
  const src = join(d, 'src.bin');
  const sum = randomFile(src, 5);
  const seen: number[] = [];
  const r = await new LocalTransport().upload(src, join(d, 'out.bin'), { mode: 0o600, onProgress: (done, total) => { assert.is(total, 5 * MB); seen.push(done); } });
  assert.is(r.bytes, 5 * MB);
  assert.ok(seen.length > 1, 'several progress reports');
  assert.is(seen[seen.length - 1], 5 * MB);
  assert.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'monotonic');
  assert.is(sha(join(d, 'out.bin')), sum);
  assert.is(statSync(join(d, 'out.bin')).mode & 0o777, 0o600);
  assert.equal(readdirSync(d).sort(), ['out.bin', 'src.bin']);
});

test('on a terminal that reports no size (an unsized pty) the tree still draws the progress bar', () => {
  const p = project(1);
  randomFile(join(p.dir, 'big.bin'), 64);
  const pb = p.write('pb.yml', `plays:
  - hosts: web
    tasks:
      - copy: { src: big.bin, dest: "{{ work }}/big.bin" }
`);
  // `script` without `stty`: the pty is 0x0, as under some CI runners and `docker -t`.
  const r = spawnSync('script', ['-qec', cliShell(['run', pb, '-i', p.inventory]), '/dev/null'], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', CI: '' }, maxBuffer: 64 << 20,
  });
  if (r.error) return console.log(`  (skipped: no \`script\`: ${r.error.message})`);
  // eslint-disable-next-line no-control-regex
  const out = (r.stdout ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  assert.is(r.status, 0, out.slice(-3000));
  assert.match(out, /\[[#-]{24}\] [\d.]+ [KM]iB \/ 64\.0 MiB {2}[\d.]+ [KMG]?i?B\/s {2}(ETA|done)/);
  assert.match(out, /PLAY \[/, 'lines are not broken one character per row');
});

test('the progress bar shows bytes, total, rate and ETA', () => {
  assert.is(progressBar(48 * MB, 96 * MB, 2000, 10), '[#####-----] 48.0 MiB / 96.0 MiB  24.0 MiB/s  ETA 2s');
  assert.is(progressBar(96 * MB, 96 * MB, 4000, 10), '[##########] 96.0 MiB / 96.0 MiB  24.0 MiB/s  done');
  assert.is(progressBar(0, 96 * MB, 0, 4), '[----] 0 B / 96.0 MiB  0 B/s  ETA --');
  assert.is(progressBar(MB, 600 * MB, 1000, 4), '[----] 1.00 MiB / 600.0 MiB  1.00 MiB/s  ETA 9m59s');
});

test.run();
