// Host key checks at connect time: which algorithms to ask for, and the verdict on the key the
// server shows (known, recorded when new and allowed, or refused with what to do about it).
import type { ConnectionSpec } from '../../types.js';
import { UnreachableError } from '../transport.js';
import { addKnownHost, checkHostKey, fingerprint, keyTypeOf, knownKeyTypes, type KnownHostEntry } from '../known-hosts.js';

const RSA_ALGOS = ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
const DEFAULT_HOST_KEY_ALGOS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  ...RSA_ALGOS,
];

/** Host key algorithms with the ones known_hosts has for this host first, so a server with
 * several keys presents the one we can verify (OpenSSH does the same). */
export function hostKeyAlgorithms(entries: KnownHostEntry[], c: ConnectionSpec): string[] {
  const first = knownKeyTypes(entries, c.address, c.port).flatMap((t) => (t === 'ssh-rsa' ? RSA_ALGOS : DEFAULT_HOST_KEY_ALGOS.includes(t) ? [t] : []));
  return [...new Set([...first, ...DEFAULT_HOST_KEY_ALGOS])];
}

export interface VerifyOptions {
  acceptNewHostKeys: boolean;
  log(line: string): void;
  /** Why the key was refused (the handshake error alone would not say). */
  refuse(e: UnreachableError): void;
}

/** ssh2's hostVerifier for `c`: verify(true) only for a key known_hosts vouches for. */
export function hostVerifier(c: ConnectionSpec, entries: KnownHostEntry[], o: VerifyOptions): (key: Buffer, verify: (ok: boolean) => void) => void {
  return (key, verify) => {
    const verdict = checkHostKey(entries, c.address, c.port, key);
    const id = `${c.name} (${c.address}:${c.port})`;
    const refuse = (msg: string): void => {
      o.refuse(new UnreachableError(c.name, 'host-key', msg));
      verify(false);
    };
    switch (verdict.status) {
      case 'known':
        return verify(true);
      case 'unknown':
        if (o.acceptNewHostKeys) {
          addKnownHost(c.known_hosts, c.address, c.port, key).then(
            () => {
              o.log(`recorded ${keyTypeOf(key)} host key ${fingerprint(key)} in ${c.known_hosts}`);
              verify(true);
            },
            (e: Error) => refuse(`cannot record host key for ${id} in ${c.known_hosts}: ${e.message}`),
          );
          return;
        }
        return refuse(`host key for ${id} is not known; rerun with --accept-new-host-keys`);
      case 'changed':
        return refuse(
          `host key for ${id} has changed: expected ${verdict.expected.join(' or ')} got ${verdict.got}; ` +
            `if the change is expected, remove line ${verdict.lines.join(', ')} of ${c.known_hosts}`,
        );
      case 'revoked':
        return refuse(`host key ${verdict.got} of ${id} is marked @revoked in ${c.known_hosts}`);
    }
  };
}
