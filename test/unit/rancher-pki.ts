// Test PKI for the Rancher tests: a root CA, an intermediate and a server certificate for a
// FQDN, made with the openssl CLI in a temp directory (real X.509, nothing canned).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pki {
  dir: string;
  ca: string; // root CA cert (PEM file)
  intermediate: string;
  server: string; // server cert alone
  serverKey: string;
  chain: string; // server, then intermediate
  badChain: string; // intermediate, then server (wrong order)
  pem(file: string): string;
}

function ossl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function makePki(fqdn = 'rancher.example.com'): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'rp-pki-'));
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(join(dir, 'srv.ext'), `basicConstraints=CA:FALSE\nsubjectAltName=DNS:${fqdn}\nextendedKeyUsage=serverAuth\n`);
  ossl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30',
    '-subj', '/CN=Test Root CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=Test Intermediate CA'], dir);
  ossl(['x509', '-req', '-in', 'int.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'int.pem', '-days', '30', '-extfile', 'ca.ext'], dir);
  ossl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${fqdn}`], dir);
  ossl(['x509', '-req', '-in', 'server.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-CAcreateserial', '-out', 'server.pem', '-days', '30', '-extfile', 'srv.ext'], dir);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  writeFileSync(join(dir, 'chain.pem'), read('server.pem') + read('int.pem'));
  writeFileSync(join(dir, 'badchain.pem'), read('int.pem') + read('server.pem'));
  return {
    dir, ca: join(dir, 'ca.pem'), intermediate: join(dir, 'int.pem'), server: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'), chain: join(dir, 'chain.pem'), badChain: join(dir, 'badchain.pem'),
    pem: (f) => readFileSync(f, 'utf8'),
  };
}
