// Client authentication material for one hop: the key (decrypted with a passphrase from the
// injected source, never prompted for here), further IdentityFiles, and the agent.
import { readFile } from 'node:fs/promises';
import ssh2, { type ConnectConfig } from 'ssh2';
import type { ConnectionSpec } from '../../types.js';
import { UnreachableError } from '../transport.js';

const { utils } = ssh2;

/** Where an encrypted key's passphrase comes from (undefined: none available). */
export type PassphraseSource = (keyPath: string) => Promise<string | undefined>;

/** Without an injected source: RANCHER_PLAY_SSH_PASSPHRASE or nothing. */
export const envPassphrase: PassphraseSource = async () => process.env.RANCHER_PLAY_SSH_PASSPHRASE;

/** Asks each key's passphrase once; concurrent connections share the answer. */
export function oncePerKey(source: PassphraseSource): PassphraseSource {
  const asked = new Map<string, Promise<string | undefined>>();
  return (path) => {
    let p = asked.get(path);
    if (!p) {
      p = source(path);
      asked.set(path, p);
    }
    return p;
  };
}

export type KeyAuth = Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent'>;

export async function keyAuth(c: ConnectionSpec, passphraseFor: PassphraseSource): Promise<KeyAuth> {
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  if (!c.ssh_key_path) return { agent };
  let key: Buffer;
  try {
    key = await readFile(c.ssh_key_path);
  } catch (e) {
    if (agent) return { agent };
    throw new UnreachableError(c.name, 'auth', `cannot read key ${c.ssh_key_path}: ${(e as Error).message} (and no ssh-agent)`);
  }
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) {
    if (!/passphrase/i.test(parsed.message)) {
      if (agent) return { agent };
      throw new UnreachableError(c.name, 'auth', `cannot use key ${c.ssh_key_path}: ${parsed.message}`);
    }
    const passphrase = await passphraseFor(c.ssh_key_path);
    if (passphrase === undefined) {
      if (agent) return { agent };
      throw new UnreachableError(
        c.name,
        'auth',
        `key ${c.ssh_key_path} is encrypted: set RANCHER_PLAY_SSH_PASSPHRASE, run from a terminal, or use ssh-agent`,
      );
    }
    if (utils.parseKey(key, passphrase) instanceof Error) {
      if (agent) return { agent };
      throw new UnreachableError(c.name, 'auth', `cannot decrypt key ${c.ssh_key_path}: wrong passphrase`);
    }
    return { privateKey: key, passphrase, agent };
  }
  return { privateKey: key, agent };
}

/** The identity files after the first that can be used without a passphrase (an encrypted one is skipped). */
export async function moreKeys(c: ConnectionSpec, log: (line: string) => void): Promise<{ path: string; key: Buffer }[]> {
  const out: { path: string; key: Buffer }[] = [];
  for (const path of c.identity_files ?? []) {
    if (path === c.ssh_key_path) continue;
    const key = await readFile(path).catch(() => undefined);
    if (!key) continue;
    if (utils.parseKey(key) instanceof Error) {
      log(`skipping identity ${path}: not an unencrypted private key`);
      continue;
    }
    out.push({ path, key });
  }
  return out;
}

/** ssh2's authHandler when further IdentityFiles exist: offered in order, as ssh does, before the agent. */
export function authHandler(c: ConnectionSpec, auth: KeyAuth, more: { key: Buffer }[]): Pick<ConnectConfig, 'authHandler'> {
  if (!more.length) return {};
  return {
    authHandler: [
      ...(auth.privateKey ? [{ type: 'publickey', username: c.user, key: auth.privateKey, ...(auth.passphrase !== undefined ? { passphrase: auth.passphrase } : {}) }] : []),
      ...more.map((m) => ({ type: 'publickey', username: c.user, key: m.key })),
      ...(auth.agent ? [{ type: 'agent', username: c.user, agent: auth.agent }] : []),
    ] as ConnectConfig['authHandler'],
  };
}
