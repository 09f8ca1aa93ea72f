// The local and the SSH transport share one shell core: a command with `chdir: ~/x` runs in the
// expanded directory on both (and not at all when the directory is missing), output lines come
// out the same for CRLF and a missing final newline, and a become write on the controller keeps
// the replaced file's mode and owner as it does over SSH. Real bash/sh processes and a real sshd
// on loopback; the become case runs the controller side as a non-root sudo user.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LocalTransport } from '../../runner/transport/local.js';
import { SshPool } from '../../runner/transport/ssh.js';
import type { Transport } from '../../runner/transport/transport.js';
import { BECOME_USER, NOSUDO_USER, conn, ensureUsers, keygen, knownHostsFor, removeUsers, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const dir = scratch();
let sshd: Sshd;
let pool: SshPool;
let both: [string, Transport][];
// The same user on both sides (root), so `~` is the same directory.
const home = execFileSync('sh', ['-c', 'printf %s "$HOME"'], { encoding: 'utf8' });
const sub = `rp-chdir-${process.pid}`;

test.before(async () => {
  ensureUsers();
  const key = join(dir, 'id');
  const pub = keygen(key);
  sshd = await startSshd([{ path: key, pub }]);
  const kh = join(dir, 'known_hosts');
  writeFileSync(kh, knownHostsFor(sshd));
  pool = new SshPool({ acceptNewHostKeys: false });
  both = [
    ['local', new LocalTransport()],
    ['ssh', pool.transport(conn({ port: sshd.port, known_hosts: kh, ssh_key_path: key, user: 'root', name: 'loop' }))],
  ];
  mkdirSync(join(home, sub, 'in dir'), { recursive: true });
});

test.after(async () => {
  await pool?.closeAll();
  await sshd?.stop();
  rmSync(join(home, sub), { recursive: true, force: true });
  removeUsers();
  rmSync(dir, { recursive: true, force: true });
});

test('chdir ~/x: the command runs in the expanded directory on both transports', async () => {
  for (const [name, t] of both) {
    const r = await t.exec('pwd', { cwd: `~/${sub}/in dir` });
    assert.equal(r, { stdout: `${home}/${sub}/in dir\n`, stderr: '', code: 0 }, name);
    const top = await t.exec('pwd; echo "$A"', { cwd: '~', env: { A: 'a b' } });
    assert.is(top.stdout, `${home}\na b\n`, name);
  }
});

test('a missing chdir runs nothing of a multi-command line, on both transports', async () => {
  for (const [name, t] of both) {
    const r = await t.exec('echo first; echo second', { cwd: `~/${sub}/missing` });
    assert.is.not(r.code, 0, name);
    assert.is(r.stdout, '', name);
    assert.match(r.stderr, /missing/, name);
  }
});

test('output lines are the same for CRLF and a missing final newline on both transports', async () => {
  const seen: Record<string, string[]> = {};
  for (const [name, t] of both) {
    const lines: string[] = [];
    const r = await t.exec(`printf 'a\\r\\nb\\r\\n\\nc'; printf 'e1\\r\\ne2' >&2`, { onLine: (l, s) => lines.push(`${s}:${l}`) });
    assert.is(r.stdout, 'a\r\nb\r\n\nc', `${name}: output itself untouched`);
    seen[name] = lines;
  }
  const sorted = (l: string[]): string[] => [...l].sort();
  assert.equal(sorted(seen.local!), sorted(['stdout:a', 'stdout:b', 'stdout:', 'stdout:c', 'stderr:e1', 'stderr:e2']));
  assert.equal(sorted(seen.ssh!), sorted(seen.local!));
});

test('a write onto a directory fails on both transports and leaves nothing inside it', async () => {
  for (const [name, t] of both) {
    const d = join(dir, `is-dir-${name}`);
    mkdirSync(d);
    const err = await t.writeFile(d, 'x').then(() => undefined, (e: Error) => e);
    assert.match(String(err), /is a directory/, name);
    assert.equal(execFileSync('ls', ['-A', d], { encoding: 'utf8' }), '', name);
  }
});

/** Runs `body` (a script using `t`, a LocalTransport with become) as the sudo user. */
function asSudoUser(body: string): string {
  const local = resolve('runner/transport/local.ts');
  const script = join(dir, `child-${Math.random().toString(36).slice(2)}.mts`);
  writeFileSync(script, `import { LocalTransport } from ${JSON.stringify(local)};\nconst t = new LocalTransport('c', true);\n${body}\n`);
  return execFileSync('runuser', ['-u', BECOME_USER, '--', process.execPath, '--import', 'tsx', script], { encoding: 'utf8', cwd: process.cwd() });
}

test('local become: a replaced file keeps its mode and owner; a wanted mode is set', async () => {
  const area = join(dir, 'root-owned');
  mkdirSync(area, { mode: 0o755 });
  const keep = join(area, 'creds');
  writeFileSync(keep, 'old', { mode: 0o600 });
  const uid = Number(execFileSync('id', ['-u', NOSUDO_USER], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', NOSUDO_USER], { encoding: 'utf8' }));
  chownSync(keep, uid, gid);
  const src = join(dir, 'upload-src');
  writeFileSync(src, 'uploaded', { mode: 0o644 });
  const up = join(area, 'up');
  writeFileSync(up, 'old', { mode: 0o640 });
  const set = join(area, 'set');
  asSudoUser([
    `await t.writeFile(${JSON.stringify(keep)}, 'new');`,
    `await t.upload(${JSON.stringify(src)}, ${JSON.stringify(up)});`,
    `await t.writeFile(${JSON.stringify(set)}, 'x', { mode: 0o4750 });`,
  ].join('\n'));
  assert.is(readFileSync(keep, 'utf8'), 'new');
  assert.is(statSync(keep).mode & 0o7777, 0o600, 'mode kept');
  assert.equal([statSync(keep).uid, statSync(keep).gid], [uid, gid], 'owner kept');
  assert.is(readFileSync(up, 'utf8'), 'uploaded');
  assert.is(statSync(up).mode & 0o7777, 0o640, 'upload keeps the mode');
  assert.is(statSync(set).mode & 0o7777, 0o4750);
  assert.is(statSync(set).uid, 0, 'a new file is root\'s');
  assert.equal(execFileSync('ls', ['-A', area], { encoding: 'utf8' }).split('\n').filter(Boolean).sort(), ['creds', 'set', 'up'], 'no temp file left');
});

test.run();
