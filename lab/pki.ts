// Key material of one lab: the SSH user key and the TLS chain (lab CA → intermediate → server
// certificate for the lab FQDN), made with the system's ssh-keygen and openssl. Private keys 0600.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { must } from './sys.js';

export interface Pki {
  caCert: string; caKey: string;
  intermediateCert: string;
  serverLeaf: string; serverKey: string;
  /** server certificate then the intermediate: what a TLS server sends */
  serverChain: string;
}

export async function makeSshKey(dir: string): Promise<{ key: string; pub: string }> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = join(dir, 'id_ed25519');
  if (!existsSync(key)) {
    await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rancher-play-lab', '-f', key]);
  }
  chmodSync(key, 0o600);
  return { key, pub: readFileSync(`${key}.pub`, 'utf8').trim() };
}

const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export async function makePki(dir: string, fqdn: string, ips: string[]): Promise<Pki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = (f: string) => join(dir, f);
  const pki: Pki = {
    caCert: p('ca.pem'), caKey: p('ca.key'), intermediateCert: p('intermediate.pem'),
    serverLeaf: p('server.pem'), serverKey: p('server.key'), serverChain: p('server-chain.pem'),
  };
  if (existsSync(pki.serverChain)) return pki;
  await must('openssl', ['req', '-x509', ...ec, '-keyout', pki.caKey, '-out', pki.caCert, '-days', '3650',
    '-subj', '/O=rancher-play lab/CN=rancher-play lab root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(p('intermediate.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
    + 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await must('openssl', ['req', ...ec, '-keyout', p('intermediate.key'), '-out', p('intermediate.csr'),
    '-subj', '/O=rancher-play lab/CN=rancher-play lab intermediate CA']);
  await must('openssl', ['x509', '-req', '-in', p('intermediate.csr'), '-CA', pki.caCert, '-CAkey', pki.caKey,
    '-set_serial', serial(), '-days', '3650', '-extfile', p('intermediate.ext'), '-out', pki.intermediateCert]);
  await signServer(dir, 'server', fqdn, ips);
  for (const k of [pki.caKey, p('intermediate.key')]) chmodSync(k, 0o600);
  return pki;
}

const serial = () => `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;

/**
 * A server certificate `<base>.pem` (+ `<base>.key` 0600, `<base>-chain.pem` = leaf then the
 * intermediate) for `fqdn` and `ips`, signed by the lab intermediate made by makePki in `dir`.
 */
export async function signServer(dir: string, base: string, fqdn: string, ips: string[] = []): Promise<{ chain: string; key: string; leaf: string }> {
  const p = (f: string) => join(dir, f);
  const out = { chain: p(`${base}-chain.pem`), key: p(`${base}.key`), leaf: p(`${base}.pem`) };
  if (existsSync(out.chain)) return out;
  const san = [`DNS:${fqdn}`, ...ips.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(p(`${base}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`
    + `extendedKeyUsage=serverAuth\nsubjectAltName=${san}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
  await must('openssl', ['req', ...ec, '-keyout', out.key, '-out', p(`${base}.csr`), '-subj', `/O=rancher-play lab/CN=${fqdn}`]);
  chmodSync(out.key, 0o600);
  await must('openssl', ['x509', '-req', '-in', p(`${base}.csr`), '-CA', p('intermediate.pem'), '-CAkey', p('intermediate.key'),
    '-set_serial', serial(), '-days', '825', '-extfile', p(`${base}.ext`), '-out', out.leaf]);
  const tmp = `${out.chain}.tmp`;
  writeFileSync(tmp, readFileSync(out.leaf, 'utf8') + readFileSync(p('intermediate.pem'), 'utf8'), { mode: 0o644 });
  renameSync(tmp, out.chain);
  return out;
}
