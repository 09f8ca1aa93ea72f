// An upload cut off, at the transport on loopback: the SSH session serving a large
// writeFile (its data in a here-document through the long-lived shell) is killed while the data
// is streaming. The destination keeps its complete old content or gets the complete new one,
// never a prefix, and no temp file stays.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SshPool } from '../../runner/transport/ssh.js';
import { conn, keygen, knownHostsFor, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const dir = scratch();
let sshd: Sshd;
let key = '';
let kh = '';
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Kill every session process of the test sshd (not the listener): the connection drops. */
function killSessions(): void {
  const kids = execFileSync('ps', ['-o', 'pid=', '--ppid', String(sshd.proc.pid)], { encoding: 'utf8' })
    .split('\n').map((s) => s.trim()).filter(Boolean);
  for (const pid of kids) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

test.before(async () => {
  key = join(dir, 'id');
  const pub = keygen(key);
  sshd = await startSshd([{ path: key, pub }]);
  kh = join(dir, 'known_hosts');
  writeFileSync(kh, knownHostsFor(sshd));
});

test.after(async () => { await sshd?.stop(); });

test(`a session killed mid-upload leaves the old file or the new one, never a part`, async () => {
  const target = join(dir, `dest-shell`);
  const OLD = randomBytes(1024);
  writeFileSync(target, OLD);
  const NEW = randomBytes(64 << 20);
  const pool = new SshPool({ acceptNewHostKeys: false });
  const t = pool.transport(conn({ port: sshd.port, known_hosts: kh, ssh_key_path: key, name: `n-shell` }));
  await t.connect();
  let err: unknown;
  const writing = t.writeFile(target, NEW).catch((e) => { err = e; });
  // Kill once the data is on its way (the first 256 KB have left this process).
  await new Promise((r) => setTimeout(r, 150));
  killSessions();
  await writing;
  await pool.closeAll().catch(() => undefined);
  // The remote side may still finish what it has: wait for its temp file to go.
  for (let i = 0; i < 400 && readdirSync(dir).some((f) => f.startsWith(`.dest-shell.rp-`)); i++) await new Promise((r) => setTimeout(r, 25));
  const got = sha(readFileSync(target));
  assert.ok(got === sha(OLD) || got === sha(NEW), `partial destination (${readFileSync(target).length} bytes; write ${err ? 'failed' : 'succeeded'})`);
  assert.equal(readdirSync(dir).filter((f) => f.startsWith(`.dest-shell.rp-`)), [], 'no temp file left');
});

test.run();
