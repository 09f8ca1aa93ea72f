// The lab's API server stand-in (lab/fixtures/kube-api.mjs serve) and the kubectl stand-in talking
// to it as client-go does (lab/fixtures/kube-client.mjs), on loopback: the kubeconfig's CA and
// client certificate are checked, a kind the cluster's release does not serve is refused with
// kubectl's mapping error, a CRD in the cluster makes its kind served, and a missing or refused
// connection reads as kubectl prints it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './ssh-helpers.js';

const KUBE_API = resolve('lab/fixtures/kube-api.mjs');
const KUBECTL = resolve('lab/fixtures/kubectl-fixture');
const dir = mkdtempSync(join(tmpdir(), 'rp-kubeapi-'));
const lab = join(dir, 'lab');
const pki = join(lab, 'cluster', 'kube-pki');
let server: ChildProcess;
let port = 0;

const ossl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
function ca(d: string, cn: string): void {
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${cn}.key`, '-out', `${cn}.pem`, '-days', '2', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], d);
}
function leaf(d: string, name: string, signer: string, ext: string): void {
  writeFileSync(join(d, `${name}.ext`), ext);
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], d);
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.pem`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], d);
}
const b64 = (f: string) => readFileSync(join(pki, f)).toString('base64');
function kubeconfig(name: string, over: { server?: string; caFile?: string; user?: boolean; serverName?: string } = {}): string {
  const file = join(dir, name);
  writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    certificate-authority-data: ${over.caFile ? readFileSync(over.caFile).toString('base64') : b64('kube-ca.pem')}
    server: ${over.server ?? `https://127.0.0.1:${port}`}${over.serverName ? `\n    tls-server-name: ${over.serverName}` : ''}
contexts:
- name: local
  context: { cluster: local, user: kube-admin-local }
current-context: local
users:
- name: kube-admin-local
  user: ${over.user === false ? '{}' : `{ client-certificate-data: ${b64('kube-admin.pem')}, client-key-data: ${b64('kube-admin.key')} }`}
`, { mode: 0o600 });
  return file;
}
const kubectl = (k: string, args: string[], input = '') => spawnSync(KUBECTL, ['--kubeconfig', k, ...args], { encoding: 'utf8', input, env: { ...process.env, K8S_FIXTURE_DIR: join(lab, 'cluster'), RANCHER_PLAY_LAB_DIR: '' } });

test.before(async () => {
  mkdirSync(pki, { recursive: true });
  ca(pki, 'kube-ca');
  leaf(pki, 'kube-apiserver', 'kube-ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  leaf(pki, 'kube-admin', 'kube-ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  ca(dir, 'other-ca');
  writeFileSync(join(lab, 'cluster', 'kube-api.json'), JSON.stringify({ version: 'v1.26.8-rancher1-1', nodes: ['127.0.0.1'] }));
  writeFileSync(join(lab, 'cluster', 'objects.json'), JSON.stringify({ '/Namespace/cattle-system': { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'cattle-system' } } }));
  port = await freePort();
  server = spawn(process.execPath, [KUBE_API, 'serve', '127.0.0.1', String(port)], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: lab }, stdio: 'ignore' });
  for (let i = 0; i < 400; i++) {
    const up = await new Promise<boolean>((r) => { const s = connect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (up) break;
    await new Promise((r) => setTimeout(r, 25));
  }
});
test.after(() => {
  server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const ingressV1beta1 = 'apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: { name: rancher, namespace: cattle-system }\nspec: {}\n';
const issuer = 'apiVersion: cert-manager.io/v1\nkind: Issuer\nmetadata: { name: rancher, namespace: cattle-system }\nspec: { ca: { secretName: tls-rancher } }\n';

test('an API the release no longer serves: kubectl\'s mapping error, nothing applied', () => {
  const r = kubectl(kubeconfig('ok.yml'), ['apply', '-f', '-'], ingressV1beta1);
  assert.is(r.status, 1);
  assert.is(r.stderr, 'error: resource mapping not found for name: "rancher" namespace: "cattle-system" from "STDIN": no matches for kind "Ingress" in version "extensions/v1beta1"\nensure CRDs are installed first\n');
  assert.not.match(readFileSync(join(lab, 'cluster', 'objects.json'), 'utf8'), /Ingress/);
  const ok = kubectl(kubeconfig('ok.yml'), ['apply', '-f', '-'], ingressV1beta1.replace('extensions/v1beta1', 'networking.k8s.io/v1'));
  assert.is(ok.status, 0, ok.stderr);
  assert.is(ok.stdout.trim(), 'ingress.networking.k8s.io/rancher created');
});

test('a custom resource is served once its CRD is in the cluster', () => {
  const before = kubectl(kubeconfig('ok.yml'), ['diff', '-f', '-'], issuer);
  assert.match(before.stderr, /no matches for kind "Issuer" in version "cert-manager\.io\/v1"/);
  const crd = 'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: issuers.cert-manager.io }\nspec:\n  group: cert-manager.io\n  names: { kind: Issuer, plural: issuers }\n  scope: Namespaced\n  versions: [{ name: v1, served: true, storage: true }]\n';
  assert.is(kubectl(kubeconfig('ok.yml'), ['apply', '-f', '-'], crd).status, 0);
  const after = kubectl(kubeconfig('ok.yml'), ['apply', '-f', '-'], issuer);
  assert.is(after.status, 0, after.stderr);
  assert.is(after.stdout.trim(), 'issuer.cert-manager.io/rancher created');
});

test('TLS and credentials are checked as client-go checks them', () => {
  const wrongCa = kubectl(kubeconfig('wrong-ca.yml', { caFile: join(dir, 'other-ca.pem') }), ['apply', '-f', '-'], issuer);
  assert.is(wrongCa.stderr.trim(), 'Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority');
  const anon = kubectl(kubeconfig('anon.yml', { user: false }), ['apply', '-f', '-'], issuer);
  assert.is(anon.stderr.trim(), 'error: You must be logged in to the server (Unauthorized)');
  // tls-server-name is the name checked (what rancher-play's tunnel relies on).
  const good = kubectl(kubeconfig('name.yml', { serverName: 'localhost' }), ['get', 'ns', 'cattle-system']);
  assert.is(good.status, 0, good.stderr);
  const bad = kubectl(kubeconfig('bad-name.yml', { serverName: 'node9.lab.test' }), ['get', 'ns', 'cattle-system']);
  assert.match(bad.stderr.trim(), /^Unable to connect to the server: tls: failed to verify certificate: x509: certificate is valid for .*localhost.*, not node9\.lab\.test$/);
});

test('nobody listening: kubectl\'s refused sentence', async () => {
  const dead = await freePort();
  const r = kubectl(kubeconfig('dead.yml', { server: `https://127.0.0.1:${dead}` }), ['rollout', 'status', 'deploy/rancher', '-n', 'cattle-system']);
  assert.is(r.status, 1);
  assert.is(r.stderr.trim(), `The connection to the server 127.0.0.1:${dead} was refused - did you specify the right host or port?`);
});

test.run();
