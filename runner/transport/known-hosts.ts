// OpenSSH known_hosts: parse, match a host, record a new key. Kept small on purpose (no npm
// package covers hashed entries + markers + atomic append well); every branch is unit-tested.
// Format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
//   [@revoked|@cert-authority] host-patterns keytype base64-key [comment]
// host-patterns: comma list of `host`, `[host]:port`, globs (* ?), negations (!pat), or one
// hashed `|1|base64(salt)|base64(hmac-sha1(salt, name))`.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

export interface KnownHostEntry {
  marker?: 'revoked' | 'cert-authority';
  /** The host-patterns field as written. */
  hosts: string;
  keyType: string;
  key: Buffer;
  /** 1-based line number, for messages. */
  line: number;
}

export type HostKeyVerdict =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'changed'; expected: string[]; got: string; lines: number[] }
  | { status: 'revoked'; got: string };

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (!raw || raw.startsWith('#')) continue;
    const f = raw.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (f[0]!.startsWith('@')) {
      const m = f.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else continue; // unknown marker: OpenSSH skips the line too
    }
    if (f.length < 3) continue;
    const key = Buffer.from(f[2]!, 'base64');
    if (key.length === 0) continue;
    out.push({ marker, hosts: f[0]!, keyType: f[1]!, key, line: i + 1 });
  }
  return out;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function globToRegExp(pat: string): RegExp {
  const esc = pat.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`, 'i');
}

/** Does a host-patterns field match `host` on `port`? */
export function patternsMatch(patterns: string, host: string, port: number): boolean {
  const name = hostName(host, port);
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return mac === hash;
  }
  let matched = false;
  for (const p of patterns.split(',')) {
    const neg = p.startsWith('!');
    const pat = neg ? p.slice(1) : p;
    if (globToRegExp(pat).test(name)) {
      if (neg) return false; // a matching negation vetoes the whole line
      matched = true;
    }
  }
  return matched;
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
}

/** The key type encoded at the start of an SSH public key blob (e.g. `ssh-ed25519`). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return '';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

/** Verdict for the key a server presented. Any matching key means known; entries for the host
 * that all differ mean changed (OpenSSH refuses then as well). */
export function checkHostKey(entries: KnownHostEntry[], host: string, port: number, key: Buffer): HostKeyVerdict {
  const got = fingerprint(key);
  const mine = entries.filter((e) => patternsMatch(e.hosts, host, port));
  if (mine.some((e) => e.marker === 'revoked' && e.key.equals(key))) return { status: 'revoked', got };
  // @cert-authority lines certify host certificates, which we do not request: ignore them.
  const plain = mine.filter((e) => !e.marker);
  if (plain.some((e) => e.key.equals(key))) return { status: 'known' };
  if (plain.length === 0) return { status: 'unknown' };
  return { status: 'changed', expected: plain.map((e) => fingerprint(e.key)), got, lines: plain.map((e) => e.line) };
}

/** Key types already known for the host, so the client can ask the server for those first. */
export function knownKeyTypes(entries: KnownHostEntry[], host: string, port: number): string[] {
  const types = entries.filter((e) => !e.marker && patternsMatch(e.hosts, host, port)).map((e) => e.keyType);
  return [...new Set(types)];
}

export function formatEntry(host: string, port: number, key: Buffer): string {
  return `${hostName(host, port)} ${keyTypeOf(key)} ${key.toString('base64')}`;
}

export async function loadKnownHosts(file: string): Promise<KnownHostEntry[]> {
  try {
    return parseKnownHosts(await readFile(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

// Appends are serialised per file: hosts connect concurrently and each rewrite must see the last.
const appendChains = new Map<string, Promise<void>>();

/** Record a key: rewrite the file with the line appended (temp + rename, mode 0600). */
export function addKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  const prev = appendChains.get(file) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(async () => {
    let text = '';
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    }
    if (checkHostKey(parseKnownHosts(text), host, port, key).status === 'known') return;
    if (text && !text.endsWith('\n')) text += '\n';
    text += formatEntry(host, port, key) + '\n';
    const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, file);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  });
  appendChains.set(file, next);
  return next;
}
