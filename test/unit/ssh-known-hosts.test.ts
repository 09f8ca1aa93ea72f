// known_hosts parsing and matching, checked against ssh-keygen as the independent oracle
// (it hashes entries with -H, fingerprints with -l and looks hosts up with -F).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addKnownHost,
  checkHostKey,
  fingerprint,
  formatEntry,
  keyTypeOf,
  knownKeyTypes,
  parseKnownHosts,
  patternsMatch,
} from '../../runner/transport/known-hosts.js';
import { keygen, scratch, sshKeygenFingerprint } from './ssh-helpers.js';

const dir = scratch();
const pubA = keygen(join(dir, 'a'));
const pubB = keygen(join(dir, 'b'));
const pubR = keygen(join(dir, 'r'), 'rsa');
const blob = (pub: string) => Buffer.from(pub.split(' ')[1]!, 'base64');
const A = blob(pubA);
const B = blob(pubB);
const R = blob(pubR);
const typeAndKey = (pub: string) => pub.split(' ').slice(0, 2).join(' ');

test('fingerprint and key type agree with ssh-keygen', () => {
  assert.is(fingerprint(A), sshKeygenFingerprint(pubA, dir));
  assert.is(fingerprint(R), sshKeygenFingerprint(pubR, dir));
  assert.is(keyTypeOf(A), 'ssh-ed25519');
  assert.is(keyTypeOf(R), 'ssh-rsa');
});

test('plain, bracketed-port and comma-list entries match the right host and port only', () => {
  const entries = parseKnownHosts(
    [
      '# comment',
      '',
      `node1,10.0.0.11 ${typeAndKey(pubA)} some comment`,
      `[10.0.0.12]:2222 ${typeAndKey(pubB)}`,
    ].join('\n'),
  );
  assert.is(entries.length, 2);
  assert.is(entries[0]!.line, 3);
  assert.equal(checkHostKey(entries, '10.0.0.11', 22, A), { status: 'known' });
  assert.equal(checkHostKey(entries, 'node1', 22, A), { status: 'known' });
  // Same address on another port is a different host for OpenSSH.
  assert.equal(checkHostKey(entries, '10.0.0.11', 2222, A), { status: 'unknown' });
  assert.equal(checkHostKey(entries, '10.0.0.12', 2222, B), { status: 'known' });
  assert.equal(checkHostKey(entries, '10.0.0.12', 22, B), { status: 'unknown' });
});

test('a different key for a known host is "changed" with both fingerprints and the line', () => {
  const entries = parseKnownHosts(`x\n10.0.0.11 ${typeAndKey(pubA)}\n`);
  const v = checkHostKey(entries, '10.0.0.11', 22, B);
  assert.equal(v, { status: 'changed', expected: [fingerprint(A)], got: fingerprint(B), lines: [2] });
});

test('hashed entries written by ssh-keygen -H match, and only their host', () => {
  const f = join(dir, 'kh-hash');
  writeFileSync(f, `10.0.0.11 ${typeAndKey(pubA)}\n[10.0.0.12]:2200 ${typeAndKey(pubB)}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', f], { stdio: 'ignore' });
  const text = readFileSync(f, 'utf8');
  assert.not.match(text, '10.0.0.11'); // really hashed
  const entries = parseKnownHosts(text);
  assert.ok(entries.every((e) => e.hosts.startsWith('|1|')));
  assert.equal(checkHostKey(entries, '10.0.0.11', 22, A), { status: 'known' });
  assert.equal(checkHostKey(entries, '10.0.0.12', 2200, B), { status: 'known' });
  assert.equal(checkHostKey(entries, '10.0.0.13', 22, A), { status: 'unknown' });
  assert.is(checkHostKey(entries, '10.0.0.11', 22, B).status, 'changed');
});

test('wildcards and negations follow sshd(8) pattern rules', () => {
  assert.ok(patternsMatch('10.0.0.*', '10.0.0.7', 22));
  assert.ok(patternsMatch('node?', 'node3', 22));
  assert.not.ok(patternsMatch('node?', 'node33', 22));
  assert.not.ok(patternsMatch('10.0.0.*,!10.0.0.7', '10.0.0.7', 22));
  assert.ok(patternsMatch('10.0.0.*,!10.0.0.7', '10.0.0.8', 22));
  assert.ok(patternsMatch('[10.0.0.*]:2222', '10.0.0.9', 2222));
  assert.ok(patternsMatch('NODE1', 'node1', 22)); // host names are case-insensitive
  assert.not.ok(patternsMatch('|1|bad', 'node1', 22));
});

test('@revoked refuses the key; @cert-authority lines are ignored; unknown markers skipped', () => {
  const entries = parseKnownHosts(
    [
      `@revoked * ${typeAndKey(pubB)}`,
      `@cert-authority *.lab ${typeAndKey(pubR)}`,
      `@bogus node1 ${typeAndKey(pubR)}`,
      `node1 ${typeAndKey(pubA)}`,
    ].join('\n'),
  );
  assert.is(entries.length, 3);
  assert.equal(checkHostKey(entries, 'node1', 22, B), { status: 'revoked', got: fingerprint(B) });
  assert.equal(checkHostKey(entries, 'node1', 22, A), { status: 'known' });
  // Only a CA line for this host: not a pinned key, so the host is unknown.
  assert.equal(checkHostKey(entries, 'x.lab', 22, R), { status: 'unknown' });
});

test('malformed lines are skipped without hiding the good ones', () => {
  const entries = parseKnownHosts(`onlyhost\nhost ssh-ed25519\nhost ssh-ed25519 !!!\nnode1 ${typeAndKey(pubA)}\n`);
  assert.is(entries.length, 1);
  assert.is(entries[0]!.hosts, 'node1');
});

test('knownKeyTypes lists the types pinned for a host', () => {
  const entries = parseKnownHosts(`node1 ${typeAndKey(pubR)}\nnode1 ${typeAndKey(pubA)}\nnode2 ${typeAndKey(pubB)}\n`);
  assert.equal(knownKeyTypes(entries, 'node1', 22), ['ssh-rsa', 'ssh-ed25519']);
  assert.equal(knownKeyTypes(entries, 'node3', 22), []);
});

test('addKnownHost appends atomically in OpenSSH format, readable by ssh-keygen -F', async () => {
  const f = join(dir, 'sub', 'known_hosts'); // the directory does not exist yet
  await Promise.all([addKnownHost(f, '10.0.0.11', 22, A), addKnownHost(f, '10.0.0.12', 2222, B)]);
  await addKnownHost(f, '10.0.0.11', 22, A); // already there: not duplicated
  const lines = readFileSync(f, 'utf8').trim().split('\n').sort();
  assert.equal(lines, [formatEntry('10.0.0.11', 22, A), formatEntry('10.0.0.12', 2222, B)].sort());
  assert.is(lines.find((l) => l.startsWith('[10.0.0.12]:2222 ')), `[10.0.0.12]:2222 ${typeAndKey(pubB)}`);
  assert.is(statSync(f).mode & 0o777, 0o600);
  assert.equal(readdirSync(join(dir, 'sub')), ['known_hosts']); // no temp files left
  const found = execFileSync('ssh-keygen', ['-F', '[10.0.0.12]:2222', '-f', f], { encoding: 'utf8' });
  assert.match(found, typeAndKey(pubB));
});

test('addKnownHost keeps existing content and comments', async () => {
  const f = join(dir, 'kh-keep');
  writeFileSync(f, `# mine\nnode9 ${typeAndKey(pubR)}`); // no trailing newline
  await addKnownHost(f, 'node1', 22, A);
  assert.is(readFileSync(f, 'utf8'), `# mine\nnode9 ${typeAndKey(pubR)}\nnode1 ${typeAndKey(pubA)}\n`);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
