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
  const serial = () => `0x${Date.now().toString(16)}${Math.floor(Math.random() * 1e6).toString(16)}`;
  await must('openssl', ['req', '-x509', ...ec, '-keyout', pki.caKey, '-out', pki.caCert, '-days', '3650',
    '-subj', '/O=rancher-play lab/CN=rancher-play lab root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(p('intermediate.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n'
    + 'subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await must('openssl', ['req', ...ec, '-keyout', p('intermediate.key'), '-out', p('intermediate.csr'),
    '-subj', '/O=rancher-play lab/CN=rancher-play lab intermediate CA']);
  await must('openssl', ['x509', '-req', '-in', p('intermediate.csr'), '-CA', pki.caCert, '-CAkey', pki.caKey,
    '-set_serial', serial(), '-days', '3650', '-extfile', p('intermediate.ext'), '-out', pki.intermediateCert]);
  const san = [`DNS:${fqdn}`, ...ips.map((ip) => `IP:${ip}`)].join(',');
  writeFileSync(p('server.ext'), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n`
    + `extendedKeyUsage=serverAuth\nsubjectAltName=${san}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`);
  await must('openssl', ['req', ...ec, '-keyout', pki.serverKey, '-out', p('server.csr'), '-subj', `/O=rancher-play lab/CN=${fqdn}`]);
  await must('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', pki.intermediateCert, '-CAkey', p('intermediate.key'),
    '-set_serial', serial(), '-days', '825', '-extfile', p('server.ext'), '-out', pki.serverLeaf]);
  for (const k of [pki.caKey, pki.serverKey, p('intermediate.key')]) chmodSync(k, 0o600);
  const tmp = `${pki.serverChain}.tmp`;
  writeFileSync(tmp, readFileSync(pki.serverLeaf, 'utf8') + readFileSync(pki.intermediateCert, 'utf8'), { mode: 0o644 });
  renameSync(tmp, pki.serverChain);
  return pki;
}
