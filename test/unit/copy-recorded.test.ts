// A big `copy` source uploaded once is recognised on the next run by the size, mtime and inode
// recorded on the controller after the upload (and the destination's ctime): that rerun hashes
// neither side (here sha256sum is made to fail for it). Any change on either side — even one
// that keeps size and mtime — is still found, by hashing both.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, events, project } from './cli-helpers.js';
import { fileIdentity } from '../../tasks/_upload-cache.js';

const MB = 1 << 20;

function setup() {
  const p = project(1);
  const src = join(p.dir, 'big.bin');
  writeFileSync(src, randomBytes(3 * MB));
  const dest = join(p.work, 'big.bin');
  const pb = p.write('pb.yml', `plays:
  - hosts: web
    tasks:
      - copy: { src: big.bin, dest: "{{ work }}/big.bin" }
`);
  const cache = mkdtempSync(join(tmpdir(), 'rp-cache-'));
  // A PATH whose sha256sum fails: a run that still says "up to date" did not hash the target.
  const bin = mkdtempSync(join(tmpdir(), 'rp-nohash-'));
  writeFileSync(join(bin, 'sha256sum'), '#!/bin/sh\necho "sha256sum must not run" >&2\nexit 3\n');
  chmodSync(join(bin, 'sha256sum'), 0o755);
  const run = (extra: string[] = [], noHash = false) => {
    const env: NodeJS.ProcessEnv = { XDG_CACHE_HOME: cache, ...(noHash ? { PATH: `${bin}:${process.env.PATH}` } : {}) };
    const r = cli(['run', pb, '-i', p.inventory, '--json', ...extra], { env });
    return { ...r, ev: r.code === 0 || r.code === 2 ? events(r.stdout).tasks[0]! : undefined };
  };
  return { p, src, dest, cache, run };
}

test('the rerun after an upload stats only; check mode and a real run agree', () => {
  const { dest, cache, run } = setup();
  const first = run([], true); // a new destination is not hashed either
  assert.is(first.code, 0, first.stderr);
  assert.is(first.ev!.status, 'changed');
  assert.is(readdirSync(join(cache, 'rancher-play', 'uploads')).length, 1, 'the upload is recorded');
  const mtime = statSync(dest).mtimeMs;
  for (const extra of [[], ['--check']]) {
    const again = run(extra, true);
    assert.is(again.code, 0, again.stderr);
    assert.is(`${again.ev!.status} ${again.ev!.msg}`, `ok ${dest} up to date`);
  }
  assert.is(statSync(dest).mtimeMs, mtime, 'not rewritten');
});

test('a destination changed behind our back (same size, mtime put back) is found and replaced', () => {
  const { dest, run } = setup();
  assert.is(run().code, 0);
  const st = statSync(dest, { bigint: true });
  const ref = `${dest}.ref`;
  assert.is(spawnSync('touch', ['-r', dest, ref]).status, 0);
  const fd = openSync(dest, 'r+');
  writeSync(fd, Buffer.from('tampered'), 0, 8, 1000);
  closeSync(fd);
  assert.is(spawnSync('touch', ['-r', ref, dest]).status, 0); // mtime put back: only ctime tells
  rmSync(ref);
  assert.is(statSync(dest, { bigint: true }).mtimeNs, st.mtimeNs);
  const r = run();
  assert.is(`${r.ev!.status} ${r.ev!.msg.split(' (')[0]}`, `changed ${dest}: content`);
  assert.is(`${run().ev!.status}`, 'ok');
});

test('a source changed at the same size is found; without a record both sides are hashed', () => {
  const { src, dest, cache, run } = setup();
  assert.is(run().code, 0);
  const ref = `${src}.ref`;
  assert.is(spawnSync('touch', ['-r', src, ref]).status, 0);
  writeFileSync(src, randomBytes(3 * MB));
  assert.is(spawnSync('touch', ['-r', ref, src]).status, 0);
  assert.is(run().ev!.status, 'changed');
  // No record (a fresh controller): the same content is recognised by hashing, then recorded.
  for (const f of readdirSync(join(cache, 'rancher-play', 'uploads'))) writeFileSync(join(cache, 'rancher-play', 'uploads', f), '{}');
  const hashed = run([], true);
  assert.is(hashed.code, 2, 'without a record the target must be hashed (sha256sum is broken here)');
  assert.is(run().ev!.status, 'ok');
  assert.is(run([], true).ev!.status, 'ok', 'recorded by the hashing run: stats only again');
  assert.ok(statSync(dest).size === 3 * MB);
});

test('file-identity parses GNU stat; without nanoseconds (not GNU) there is no identity to match', () => {
  const r = (stdout: string) => fileIdentity.parse({ code: 0, stdout, stderr: '' } as never, { path: '/x' });
  assert.equal(r('absent\n'), { exists: false });
  assert.equal(r('640 root adm 3145728 1796229833.754102980 1796229834.000000001 2244647\n'), {
    exists: true, mode: 0o640, modeText: '640', user: 'root', group: 'adm', size: 3145728,
    mtime: '1796229833.754102980', ctime: '1796229834.000000001', ino: '2244647',
  });
  assert.is(r('644 root root 10 ?Y ?Z 12\n').mtime, undefined);
  assert.throws(() => fileIdentity.parse({ code: 1, stdout: '', stderr: 'Permission denied' } as never, { path: '/x' }), /cannot inspect \/x: Permission denied/);
});

test.run();
