// The lab's RKE2/K3s side: the "internet" download hosts (get.rke2.io, update.rke2.io, github.com
// release assets; the K3s equivalents) over HTTPS from the lab CA, and what nodes need to use
// them like real machines behind a proxy: the lab CA in their system trust store (as a company's
// TLS-inspecting CA would be), a route to the load balancer's public address (the VIP nodes join
// through), and the journalctl stand-in beside the systemctl one.
// The release tarballs carry the upstream systemd unit and bin/rke2 (k3s: bin/k3s), a wrapper of
// lab/fixtures/rke2-server.mjs built for that version.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { must, q } from './sys.js';

/** Releases the lab serves; the last of each is what its "stable" channel resolves to. */
export const RKE2_RELEASES = ['v1.28.14+rke2r1', 'v1.28.15+rke2r1'];
export const K3S_RELEASES = ['v1.28.14+k3s1', 'v1.28.15+k3s1'];
export const DOWNLOAD_HOSTS = ['get.rke2.io', 'update.rke2.io', 'get.k3s.io', 'update.k3s.io', 'github.com'];
/** The image the stand-in pulls as its runtime image (the lab registry plays docker.io). */
export const RUNTIME_IMAGE = 'registry.lab.test/rancher/rancher:v2.0.6';

export const downloadsAddress = (inetPrefix: string) => `${inetPrefix}.6`;

async function signMulti(pki: string, base: string, names: string[]): Promise<{ cert: string; key: string }> {
  const p = (f: string) => join(pki, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  writeFileSync(p(`${base}.ext`), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n'
    + `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
  await must('openssl', ['req', ...ec, '-keyout', p(`${base}.key`), '-out', p(`${base}.csr`), '-subj', `/O=rancher-play lab/CN=${names[0]}`]);
  chmodSync(p(`${base}.key`), 0o600);
  await must('openssl', ['x509', '-req', '-in', p(`${base}.csr`), '-CA', p('intermediate.pem'), '-CAkey', p('intermediate.key'),
    '-set_serial', `0x${createHash('sha1').update(base + Date.now()).digest('hex').slice(0, 16)}`, '-days', '825', '-extfile', p(`${base}.ext`), '-out', p(`${base}.pem`)]);
  writeFileSync(p(`${base}-chain.pem`), readFileSync(p(`${base}.pem`), 'utf8') + readFileSync(p('intermediate.pem'), 'utf8'));
  return { cert: p(`${base}-chain.pem`), key: p(`${base}.key`) };
}

function wrapper(dist: 'rke2' | 'k3s', version: string, labDir: string, fixtures: string, caCert: string): string {
  return `#!/bin/sh\n# rancher-play lab: ${dist} ${version} stand-in (lab fixture lab/fixtures/rke2-server.mjs)\n`
    + `export RANCHER_PLAY_LAB_DIR=${q(labDir)} RP_LAB_CA=${q(caCert)} RP_RUNTIME_IMAGE=${q(RUNTIME_IMAGE)}\n`
    + `exec ${q(process.execPath)} ${q(join(fixtures, 'rke2-server.mjs'))} --dist ${dist} --build ${q(version)} "$@"\n`;
}

/** The release assets as install.sh downloads them, and the channel files. */
export async function writeDownloads(dir: string, pki: string, labDir: string, fixtures: string, caCert: string): Promise<{ root: string; cert: string; key: string }> {
  const root = join(dir, 'downloads');
  const put = (host: string, path: string, data: string | Buffer, mode = 0o644) => {
    const f = join(root, host, path);
    mkdirSync(join(f, '..'), { recursive: true });
    writeFileSync(f, data, { mode });
  };
  const up = join(fixtures, 'upstream');
  put('get.rke2.io', 'index', readFileSync(join(up, 'rke2-install.sh')));
  put('update.rke2.io', 'channels/stable', `${RKE2_RELEASES[RKE2_RELEASES.length - 1]}\n`);
  put('update.rke2.io', 'channels/latest', `${RKE2_RELEASES[RKE2_RELEASES.length - 1]}\n`);
  for (const v of RKE2_RELEASES) {
    const stage = join(dir, 'build', `rke2-${v}`);
    mkdirSync(join(stage, 'bin'), { recursive: true });
    mkdirSync(join(stage, 'lib', 'systemd', 'system'), { recursive: true });
    writeFileSync(join(stage, 'bin', 'rke2'), wrapper('rke2', v, labDir, fixtures, caCert), { mode: 0o755 });
    writeFileSync(join(stage, 'bin', 'rke2-uninstall.sh'), '#!/bin/sh\n# rancher-play lab: rke2-uninstall.sh placeholder\nexit 0\n', { mode: 0o755 });
    copyFileSync(join(up, 'rke2-server.service'), join(stage, 'lib', 'systemd', 'system', 'rke2-server.service'));
    // bundle/lib/systemd/system/rke2-server.env upstream: HOME for the service.
    writeFileSync(join(stage, 'lib', 'systemd', 'system', 'rke2-server.env'), 'HOME=/root\n');
    const tgz = join(dir, 'build', `rke2.linux-amd64-${v}.tar.gz`);
    await must('tar', ['-czf', tgz, '-C', stage, 'bin', 'lib']);
    const data = readFileSync(tgz);
    const sum = createHash('sha256').update(data).digest('hex');
    put('github.com', `rancher/rke2/releases/download/${v}/rke2.linux-amd64.tar.gz`, data);
    put('github.com', `rancher/rke2/releases/download/${v}/sha256sum-amd64.txt`, `${sum}  rke2.linux-amd64.tar.gz\n`);
    put('github.com', `rancher/rke2/releases/tag/${v}`, `rke2 ${v}\n`);
  }
  // K3s: one binary per release (k3s install.sh download_hash / download_binary).
  put('get.k3s.io', 'index', readFileSync(join(fixtures, 'k3s-install.sh')));
  put('update.k3s.io', 'channels/stable', `${K3S_RELEASES[K3S_RELEASES.length - 1]}\n`);
  put('update.k3s.io', 'channels/latest', `${K3S_RELEASES[K3S_RELEASES.length - 1]}\n`);
  for (const v of K3S_RELEASES) {
    const bin = wrapper('k3s', v, labDir, fixtures, caCert);
    put('github.com', `k3s-io/k3s/releases/download/${v}/k3s`, bin, 0o755);
    put('github.com', `k3s-io/k3s/releases/download/${v}/sha256sum-amd64.txt`, `${createHash('sha256').update(bin).digest('hex')}  k3s\n`);
    put('github.com', `k3s-io/k3s/releases/tag/${v}`, `k3s ${v}\n`);
  }
  const { cert, key } = await signMulti(pki, 'downloads', DOWNLOAD_HOSTS);
  return { root, cert, key };
}

/** Lines for a node's setup script (run inside the node's namespaces by lab.ts). */
export function nodeSetupLines(opts: { caCert: string; lbPublic: string; lbCluster: string; fixtures: string }): string[] {
  return [
    // The lab CA joins the node's system bundle (its own copy in the node's /etc).
    `if [ -f /etc/ssl/certs/ca-certificates.crt ]; then cp /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt.lab && cat /etc/ssl/certs/ca-certificates.crt.lab ${q(opts.caCert)} > /etc/ssl/certs/ca-certificates.crt && rm -f /etc/ssl/certs/ca-certificates.crt.lab; fi`,
    `ip route replace ${opts.lbPublic}/32 via ${opts.lbCluster}`,
    `rm -f /usr/local/bin/journalctl && : > /usr/local/bin/journalctl && mount --bind ${q(join(opts.fixtures, 'journalctl-fixture'))} /usr/local/bin/journalctl`,
  ];
}
