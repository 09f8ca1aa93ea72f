// The SSH transport against real sshd instances on loopback: commands, files, become, jump
// chains, host keys, unreachable reasons, ~/.ssh/config. (The lab tests repeat the user-facing
// parts through the CLI across network namespaces.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BecomeError, SshPool } from '../../runner/transport/ssh.js';
import { UnreachableError } from '../../runner/transport/transport.js';
import { fingerprint } from '../../runner/transport/known-hosts.js';
import { clearSshConfigCache } from '../../runner/transport/ssh-config.js';
import {
  BECOME_USER,
  NOSUDO_USER,
  conn,
  ensureUsers,
  freePort,
  keygen,
  knownHostsFor,
  removeUsers,
  scratch,
  startSshd,
  type ClientKey,
  type Sshd,
} from './ssh-helpers.js';

const dir = scratch();
let key: ClientKey;
let bastion: Sshd;
let node: Sshd;
let kh: string;
const pools: SshPool[] = [];

function pool(opts: Partial<ConstructorParameters<typeof SshPool>[0]> = {}): SshPool {
  const p = new SshPool({ acceptNewHostKeys: false, ...opts });
  pools.push(p);
  return p;
}

/** Established client-side TCP connections to a local port (what sshd sees as sessions). */
function connectionsTo(port: number): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).length;
}

async function unreachable(p: Promise<unknown>): Promise<UnreachableError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof UnreachableError) return e;
    throw e;
  }
  throw new Error('expected UnreachableError');
}

test.before(async () => {
  ensureUsers();
  key = { path: join(dir, 'id'), pub: keygen(join(dir, 'id')) };
  bastion = await startSshd([key]);
  node = await startSshd([key]);
  kh = join(dir, 'known_hosts');
  writeFileSync(kh, knownHostsFor(bastion, node));
});

test.after(async () => {
  for (const p of pools) await p.closeAll();
  await bastion?.stop();
  await node?.stop();
  removeUsers();
  rmSync(dir, { recursive: true, force: true });
});

const direct = () => conn({ port: node.port, known_hosts: kh, ssh_key_path: key.path, name: 'node1' });

test('exec: sh -c semantics, exit codes, stderr, env and cwd, stdin', async () => {
  const t = pool().transport(direct());
  assert.equal(await t.exec('echo out; echo err >&2; exit 3'), { stdout: 'out\n', stderr: 'err\n', code: 3 });
  assert.equal(await t.exec('printf "%s" "no newline"'), { stdout: 'no newline', stderr: '', code: 0 });
  const nf = await t.exec('no-such-command-rp');
  assert.is(nf.code, 127);
  const e = await t.exec('pwd; printf "%s|%s" "$A" "$B"', { cwd: '/tmp', env: { A: "it's $HOME", B: 'x y' } });
  assert.is(e.stdout, "/tmp\nit's $HOME|x y");
  const s = await t.exec('wc -c; cat >/dev/null', { stdin: Buffer.alloc(200_000, 0x61) });
  assert.is(s.stdout.trim(), '200000');
  // A command that reads stdin without being given any gets EOF, not the session's protocol.
  assert.equal(await t.exec('cat; echo done'), { stdout: 'done\n', stderr: '', code: 0 });
  // Shell state does not leak from one command to the next.
  await t.exec('cd /; X=1; export X');
  const after = await t.exec('echo "${X:-unset}"');
  assert.is(after.stdout, 'unset\n');
  assert.is((await t.exec('cd /nonexistent-dir', { cwd: '/nonexistent-dir' })).code, 1);
  await t.exec('true', { env: { 'BAD NAME': 'x' } }).then(
    () => assert.unreachable('should fail'),
    (err: Error) => assert.match(err.message, /invalid environment variable name "BAD NAME"/),
  );
});

test('exec: timeout gives 124 and kills the command; the host stays usable', async () => {
  const t = pool().transport(direct());
  const marker = join(dir, 'timeout-marker');
  const r = await t.exec(`sleep 3; touch ${marker}`, { timeoutMs: 200 });
  assert.is(r.code, 124);
  assert.equal(await t.exec('echo alive'), { stdout: 'alive\n', stderr: '', code: 0 });
  await new Promise((res) => setTimeout(res, 3500));
  assert.not.ok(existsSync(marker), 'the timed-out command was killed');
});

test('exec: onLine streams each line of both streams as it comes', async () => {
  const t = pool().transport(direct());
  const lines: string[] = [];
  const r = await t.exec('echo one; echo two >&2; sleep 0.2; printf "three"; printf "\\n\\n"', {
    onLine: (l, s) => lines.push(`${s}:${l}`),
  });
  assert.is(r.stdout, 'one\nthree\n\n');
  assert.equal(lines.filter((l) => l.startsWith('stdout')), ['stdout:one', 'stdout:three', 'stdout:']);
  assert.equal(lines.filter((l) => l.startsWith('stderr')), ['stderr:two']);
});

test('files: binary round trip, mode, atomic (no temp left), missing file is null', async () => {
  const t = pool().transport(direct());
  const d = join(dir, 'files');
  mkdirSync(d);
  const data = Buffer.from([...Array(256).keys()].map((i) => i)); // every byte value
  await t.writeFile(join(d, 'bin'), data, { mode: 0o640 });
  assert.ok(readFileSync(join(d, 'bin')).equals(data));
  assert.is(statSync(join(d, 'bin')).mode & 0o777, 0o640);
  assert.ok((await t.readFile(join(d, 'bin')))!.equals(data));
  assert.is(await t.readFile(join(d, 'missing')), null);
  // Overwrite without a mode keeps the file's mode.
  await t.writeFile(join(d, 'bin'), 'v2\n');
  assert.is(readFileSync(join(d, 'bin'), 'utf8'), 'v2\n');
  assert.is(statSync(join(d, 'bin')).mode & 0o777, 0o640);
  // New file without a mode: 0644.
  await t.writeFile(join(d, 'new'), 'x');
  assert.is(statSync(join(d, 'new')).mode & 0o777, 0o644);
  assert.equal(readdirSync(d).sort(), ['bin', 'new']);
  // A write that fails (no such directory) throws and leaves nothing behind.
  await t.writeFile(join(d, 'nodir', 'f'), 'x').then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.match(e.message, /cannot write/),
  );
  assert.equal(readdirSync(d).sort(), ['bin', 'new']);
  // A write that fails at chown leaves the old content and no temp file.
  await t.writeFile(join(d, 'bin'), 'v3', { owner: 'no-such-user-rp' }).then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.match(e.message, /no-such-user-rp/),
  );
  assert.is(readFileSync(join(d, 'bin'), 'utf8'), 'v2\n');
  assert.equal(readdirSync(d).sort(), ['bin', 'new']);
  // A directory is not a file: a clear error, not null.
  await t.readFile(d).then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.match(e.message, /cannot read/),
  );
  // `~/` is the remote home.
  await t.writeFile('~/.rp-home-test', 'home');
  assert.is(readFileSync('/root/.rp-home-test', 'utf8'), 'home');
  rmSync('/root/.rp-home-test');
});

test('become: sudo -n for a non-root user, for commands and files', async () => {
  const p = pool();
  const t = p.transport({ ...direct(), user: BECOME_USER, name: 'becomer' });
  assert.is((await t.exec('id -un')).stdout.trim(), BECOME_USER);
  assert.is((await t.exec('id -un', { become: true })).stdout.trim(), 'root');
  const f = `/root/rp-become-${process.pid}`;
  await t.writeFile(f, 'secret\n', { become: true, mode: 0o600, owner: 'root:root' });
  assert.is(readFileSync(f, 'utf8'), 'secret\n');
  assert.is(statSync(f).mode & 0o777, 0o600);
  assert.is(statSync(f).uid, 0);
  assert.is((await t.readFile(f, { become: true }))!.toString(), 'secret\n');
  // Without become the user cannot read it: an error, not a silent null.
  await t.readFile(f).then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.match(e.message, /Permission denied/),
  );
  rmSync(f);
  // The host's `become: true` applies when the call does not say.
  const tb = p.transport({ ...direct(), user: BECOME_USER, become: true, name: 'becomer2' });
  assert.is((await tb.exec('id -u')).stdout.trim(), '0');
  assert.is((await tb.exec('id -u', { become: false })).stdout.trim() !== '0', true);
});

test('become: sudo wanting a password is a clear error naming the fix', async () => {
  const t = pool().transport({ ...direct(), user: NOSUDO_USER, name: 'nosudo' });
  assert.is((await t.exec('id -un')).stdout.trim(), NOSUDO_USER);
  try {
    await t.exec('id -u', { become: true });
    assert.unreachable('should fail');
  } catch (e) {
    assert.instance(e, BecomeError);
    assert.match((e as Error).message, /nosudo/);
    assert.match((e as Error).message, /NOPASSWD/);
    assert.match((e as Error).message, /drop become/);
  }
  // The plain shell still works afterwards.
  assert.is((await t.exec('echo ok')).stdout, 'ok\n');
});

test('jump: target reached through a bastion; one bastion connection shared by all hosts behind it', async () => {
  const p = pool();
  const jump = conn({ port: bastion.port, known_hosts: kh, ssh_key_path: key.path, name: 'bastion' });
  const before = connectionsTo(bastion.port);
  const a = p.transport({ ...direct(), jump: [jump], name: 'n-a' });
  const b = p.transport({ ...direct(), user: BECOME_USER, jump: [jump], name: 'n-b' });
  const [ra, rb] = await Promise.all([a.exec('id -un'), b.exec('id -un')]);
  assert.is(ra.stdout.trim(), 'root');
  assert.is(rb.stdout.trim(), BECOME_USER);
  assert.is(connectionsTo(bastion.port) - before, 1);
  await p.closeAll();
  await new Promise((r) => setTimeout(r, 100));
  assert.is(connectionsTo(bastion.port), before, 'closeAll closes the jump connection');
});

test('jump: two hops (bastion -> node -> target) and transport.close releases the chain', async () => {
  const p = pool();
  const hop1 = conn({ port: bastion.port, known_hosts: kh, ssh_key_path: key.path, name: 'hop1' });
  const hop2 = conn({ port: node.port, known_hosts: kh, ssh_key_path: key.path, name: 'hop2' });
  const target = conn({ port: bastion.port, known_hosts: kh, ssh_key_path: key.path, name: 'far', jump: [hop1, hop2] });
  const beforeB = connectionsTo(bastion.port);
  const t = p.transport(target);
  // SSH_CONNECTION on the target shows the client as seen there: the forwarding sshd.
  assert.match((await t.exec('echo $SSH_CONNECTION')).stdout, new RegExp(` ${bastion.port}\\n$`));
  await t.writeFile(join(dir, 'via-two-hops'), 'ok');
  assert.is(readFileSync(join(dir, 'via-two-hops'), 'utf8'), 'ok');
  // Client-side connections: one direct TCP to the first hop only.
  assert.is(connectionsTo(bastion.port) - beforeB, 2, 'controller->hop1 and hop2->target (forwarded)');
  await t.close();
  await t.close(); // twice is safe
  await new Promise((r) => setTimeout(r, 100));
  assert.is(connectionsTo(bastion.port), beforeB);
});

test('jump: a bastion that forbids forwarding makes the target unreachable, naming the jump host', async () => {
  const noFwd = await startSshd([key], 'AllowTcpForwarding no\nDisableForwarding yes');
  const k2 = join(dir, 'kh-nofwd');
  writeFileSync(k2, knownHostsFor(noFwd, node));
  const jump = conn({ port: noFwd.port, known_hosts: k2, ssh_key_path: key.path, name: 'strict-bastion' });
  const e = await unreachable(pool().transport({ ...direct(), known_hosts: k2, jump: [jump] }).exec('true'));
  assert.is(e.host, 'node1');
  assert.match(e.message, /strict-bastion/);
  await noFwd.stop();
});

test('host keys: unknown fails without --accept-new-host-keys, is recorded with it', async () => {
  const k = join(dir, 'kh-new');
  const marker = join(dir, 'ran-unknown');
  const c = { ...direct(), known_hosts: k };
  const e = await unreachable(pool().transport(c).exec(`touch ${marker}`));
  assert.is(e.reason, 'host-key');
  assert.is(e.message, `host key for node1 (127.0.0.1:${node.port}) is not known; rerun with --accept-new-host-keys`);
  assert.not.ok(existsSync(marker), 'nothing ran');
  assert.not.ok(existsSync(k));

  const logs: string[] = [];
  const t = pool({ acceptNewHostKeys: true, onLog: (_h, l) => logs.push(l) }).transport(c);
  assert.is((await t.exec('echo hi')).stdout, 'hi\n');
  const [type, b64] = node.hostPub.split(' ');
  assert.is(readFileSync(k, 'utf8'), `[127.0.0.1]:${node.port} ${type} ${b64}\n`);
  assert.ok(logs.some((l) => l.includes(fingerprint(Buffer.from(b64!, 'base64')))));
  // Recorded: a later run without the flag connects.
  assert.is((await pool().transport(c).exec('echo again')).stdout, 'again\n');
});

test('host keys: a jump host is verified too', async () => {
  const k = join(dir, 'kh-only-node');
  writeFileSync(k, knownHostsFor(node));
  const jump = conn({ port: bastion.port, known_hosts: k, ssh_key_path: key.path, name: 'bastion' });
  const e = await unreachable(pool().transport({ ...direct(), known_hosts: k, jump: [jump] }).exec('true'));
  assert.is(e.reason, 'host-key');
  assert.match(e.message, /jump host bastion: host key for bastion/);
});

test('host keys: a changed key is always refused with both fingerprints; nothing runs', async () => {
  const victim = await startSshd([key]);
  const k = join(dir, 'kh-changed');
  writeFileSync(k, knownHostsFor(victim));
  const pinned = readFileSync(k, 'utf8');
  const oldFp = fingerprint(Buffer.from(victim.hostPub.split(' ')[1]!, 'base64'));
  const c = conn({ port: victim.port, known_hosts: k, ssh_key_path: key.path, name: 'node2' });
  assert.is((await pool().transport(c).exec('echo before')).stdout, 'before\n');
  await victim.regenerateHostKey();
  const newFp = fingerprint(Buffer.from(victim.hostPub.split(' ')[1]!, 'base64'));
  const marker = join(dir, 'ran-changed');
  for (const accept of [false, true]) {
    const e = await unreachable(pool({ acceptNewHostKeys: accept }).transport(c).exec(`touch ${marker}`));
    assert.is(e.reason, 'host-key');
    assert.ok(e.message.includes(`expected ${oldFp} got ${newFp}`), e.message);
    assert.match(e.message, /node2/);
  }
  assert.not.ok(existsSync(marker), 'nothing ran');
  assert.is(readFileSync(k, 'utf8'), pinned, 'known_hosts untouched');
  await victim.stop();
});

test('host keys: hashed known_hosts entries (ssh-keygen -H) are honoured', async () => {
  const k = join(dir, 'kh-hashed');
  writeFileSync(k, knownHostsFor(node));
  execFileSync('ssh-keygen', ['-H', '-f', k], { stdio: 'ignore' });
  assert.not.match(readFileSync(k, 'utf8'), '127.0.0.1');
  const t = pool().transport({ ...direct(), known_hosts: k });
  assert.is((await t.exec('echo hashed')).stdout, 'hashed\n');
});

test('unreachable: refused port, bad key (auth), refused jump host', async () => {
  const port = await freePort();
  const e1 = await unreachable(pool().transport(conn({ port, known_hosts: kh, ssh_key_path: key.path, name: 'gone' })).connect());
  assert.is(e1.reason, 'refused');
  assert.is(e1.host, 'gone');
  assert.match(e1.message, new RegExp(`127.0.0.1:${port}`));

  const other = join(dir, 'other');
  keygen(other);
  const e2 = await unreachable(pool().transport({ ...direct(), ssh_key_path: other }).connect());
  assert.is(e2.reason, 'auth');
  assert.match(e2.message, /authentication failed for root@127.0.0.1/);

  const jump = conn({ port, known_hosts: kh, ssh_key_path: key.path, name: 'dead-bastion' });
  const e3 = await unreachable(pool().transport({ ...direct(), jump: [jump] }).connect());
  assert.is(e3.reason, 'refused');
  assert.is(e3.host, 'node1');
  assert.match(e3.message, /jump host dead-bastion/);

  // Behind a live bastion, a dead target port is refused by the bastion's forward.
  const b = conn({ port: bastion.port, known_hosts: kh, ssh_key_path: key.path, name: 'bastion' });
  const e4 = await unreachable(pool().transport(conn({ port, known_hosts: kh, ssh_key_path: key.path, name: 'x', jump: [b] })).connect());
  assert.is(e4.reason, 'refused');
});

test('auth: encrypted key with RANCHER_PLAY_SSH_PASSPHRASE; a wrong one is an auth error that does not echo it', async () => {
  const enc = join(dir, 'enc');
  const pass = 'correct horse';
  const pub = keygen(enc, 'ed25519', pass);
  const s = await startSshd([{ path: enc, pub }]);
  const k = join(dir, 'kh-enc');
  writeFileSync(k, knownHostsFor(s));
  const c = conn({ port: s.port, known_hosts: k, ssh_key_path: enc, name: 'enc' });
  const saved = { pass: process.env.RANCHER_PLAY_SSH_PASSPHRASE, agent: process.env.SSH_AUTH_SOCK };
  delete process.env.SSH_AUTH_SOCK;
  try {
    process.env.RANCHER_PLAY_SSH_PASSPHRASE = pass;
    assert.is((await pool().transport(c).exec('echo unlocked')).stdout, 'unlocked\n');
  } finally {
    if (saved.pass === undefined) delete process.env.RANCHER_PLAY_SSH_PASSPHRASE;
    else process.env.RANCHER_PLAY_SSH_PASSPHRASE = saved.pass;
    if (saved.agent !== undefined) process.env.SSH_AUTH_SOCK = saved.agent;
  }
  // Another key path (the passphrase is cached per key for the run).
  const enc2 = join(dir, 'enc2');
  execFileSync('cp', [enc, enc2]);
  process.env.RANCHER_PLAY_SSH_PASSPHRASE = 'wrong-secret-value';
  try {
    const e = await unreachable(pool().transport({ ...c, ssh_key_path: enc2 }).connect());
    assert.is(e.reason, 'auth');
    assert.not.match(e.message, 'wrong-secret-value');
    assert.match(e.message, /passphrase/);
  } finally {
    if (saved.pass === undefined) delete process.env.RANCHER_PLAY_SSH_PASSPHRASE;
    else process.env.RANCHER_PLAY_SSH_PASSPHRASE = saved.pass;
  }
  await s.stop();
});

test('auth: the passphrase comes from the source the caller gives, asked once per key for every host on it', async () => {
  const enc = join(dir, 'enc-src');
  const pass = 'battery staple';
  const pub = keygen(enc, 'ed25519', pass);
  const s = await startSshd([{ path: enc, pub }]);
  const k = join(dir, 'kh-enc-src');
  writeFileSync(k, knownHostsFor(s));
  const saved = { pass: process.env.RANCHER_PLAY_SSH_PASSPHRASE, agent: process.env.SSH_AUTH_SOCK };
  delete process.env.SSH_AUTH_SOCK;
  delete process.env.RANCHER_PLAY_SSH_PASSPHRASE;
  const asked: string[] = [];
  try {
    const p = pool({ passphrase: async (path) => { asked.push(path); return pass; } });
    const hosts = ['src-a', 'src-b'].map((name) => p.transport(conn({ port: s.port, known_hosts: k, ssh_key_path: enc, name })));
    const out = await Promise.all(hosts.map((t) => t.exec('echo unlocked')));
    assert.equal(out.map((r) => r.stdout), ['unlocked\n', 'unlocked\n']);
    assert.equal(asked, [enc]);
    // A source with no answer: an auth error that says how to give one.
    const none = pool({ passphrase: async () => undefined });
    const e = await unreachable(none.transport(conn({ port: s.port, known_hosts: k, ssh_key_path: enc, name: 'src-none' })).connect());
    assert.is(e.reason, 'auth');
    assert.match(e.message, /encrypted/);
  } finally {
    if (saved.pass !== undefined) process.env.RANCHER_PLAY_SSH_PASSPHRASE = saved.pass;
    if (saved.agent !== undefined) process.env.SSH_AUTH_SOCK = saved.agent;
    await s.stop();
  }
});

test('~/.ssh/config: an alias with ProxyJump, resolved from a temp HOME', async () => {
  const home = join(dir, 'home');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(
    join(home, '.ssh', 'config'),
    `Host target-alias\n  HostName 127.0.0.1\n  Port ${node.port}\n  User ${BECOME_USER}\n  IdentityFile ${key.path}\n  ProxyJump jumpy\n\n` +
      `Host jumpy\n  HostName 127.0.0.1\n  Port ${bastion.port}\n  User root\n  IdentityFile ${key.path}\n`,
  );
  clearSshConfigCache();
  const p = pool({ home });
  const before = connectionsTo(bastion.port);
  const t = p.transport(conn({ address: 'target-alias', port: 22, user: 'rancher', known_hosts: kh, name: 'aliased' }));
  assert.is((await t.exec('id -un')).stdout.trim(), BECOME_USER);
  assert.match((await t.exec('echo $SSH_CONNECTION')).stdout, new RegExp(` ${node.port}\\n$`));
  assert.is(connectionsTo(bastion.port) - before, 1, 'went through the ProxyJump host');
});

test('a sudo user: commands, files and become through its login and root shells', async () => {
  const t = pool().transport({ ...direct(), user: BECOME_USER, name: 'chan' });
  assert.equal(await t.exec('echo out; echo err >&2; exit 3'), { stdout: 'out\n', stderr: 'err\n', code: 3 });
  assert.is((await t.exec('cat', { stdin: 'in' })).stdout, 'in');
  assert.is((await t.exec('pwd; echo $A', { cwd: '/tmp', env: { A: 'a b' } })).stdout, '/tmp\na b\n');
  assert.is((await t.exec('sleep 3', { timeoutMs: 200 })).code, 124);
  assert.is((await t.exec('id -u', { become: true })).stdout, '0\n');
  const f = `/root/rp-chan-${process.pid}`;
  await t.writeFile(f, 'x'.repeat(300_000), { become: true, mode: 0o600 });
  assert.is(readFileSync(f, 'utf8').length, 300_000);
  assert.is(statSync(f).mode & 0o777, 0o600);
  assert.is((await t.readFile(f, { become: true }))!.length, 300_000);
  rmSync(f);
  const n = pool().transport({ ...direct(), user: NOSUDO_USER, name: 'chan-nosudo' });
  await n.exec('true', { become: true }).then(
    () => assert.unreachable('should fail'),
    (e: Error) => assert.instance(e, BecomeError),
  );
});

test('shell mode: a large file and a command with a syntax error do not derail the shell', async () => {
  const t = pool().transport(direct());
  const big = Buffer.alloc(3 << 20, 0x5a);
  const f = join(dir, 'big');
  await t.writeFile(f, big);
  assert.ok(readFileSync(f).equals(big));
  assert.ok((await t.readFile(f))!.equals(big));
  const bad = await t.exec('echo "unterminated');
  assert.is.not(bad.code, 0);
  assert.is((await t.exec('echo still fine')).stdout, 'still fine\n');
});

test('a connection dropped mid-run makes the host unreachable (network); a new transport reconnects', async () => {
  const s = await startSshd([key]);
  const k = join(dir, 'kh-drop');
  writeFileSync(k, knownHostsFor(s));
  const p = pool();
  const c = conn({ port: s.port, known_hosts: k, ssh_key_path: key.path, name: 'dropper' });
  const t = p.transport(c);
  assert.is((await t.exec('echo up')).stdout, 'up\n');
  s.killSessions();
  const e = await unreachable(t.exec('echo again'));
  assert.is(e.reason, 'network');
  assert.match(e.message, /lost/);
  assert.is((await p.transport(c).exec('echo back')).stdout, 'back\n');
  await s.stop();
});

test('a server that accepts but never speaks SSH: unreachable (timeout) after connect_timeout_ms', async () => {
  const { createServer } = await import('node:net');
  const held: import('node:net').Socket[] = [];
  const silent = createServer((sock) => held.push(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as { port: number }).port;
  const e = await unreachable(pool().transport(conn({ port, known_hosts: kh, ssh_key_path: key.path, name: 'mute', connect_timeout_ms: 300 })).connect());
  assert.is(e.reason, 'timeout');
  assert.match(e.message, /300 ms/);
  held.forEach((s) => s.destroy());
  silent.close();
});

test.run();
