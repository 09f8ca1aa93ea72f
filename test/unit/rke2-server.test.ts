// rke2-server and fetch without a lab: the facts parse recorded output of the real commands'
// formats, the config keys are checked against rke2's / k3s' server flags (an unknown key is an
// error naming it, with upstream's warning and a did-you-mean), the environment file and NO_PROXY
// follow rke2-docs, the HelmChartConfig is upstream's, and a failed start is explained from
// journal lines as rke2 logs them. fetch runs for real on this machine (local transport).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { runTask, ParamsError } from '../../runner/sdk/testing.js';
import rke2, {
  closest, envFileText, rancherProblems, forwardedHeadersManifest, installedVersion, journalError, noProxyList, startHint, unitActive, unknownKeys,
} from '../../tasks/rke2-server.js';
import fetchTask from '../../tasks/fetch.js';

const ok = (stdout: string, code = 0) => ({ stdout, stderr: '', code });

test('installed-version fact: rke2 and k3s --version output, absent binary, unreadable output', () => {
  assert.is(installedVersion.parse(ok('rke2 version v1.28.15+rke2r1 (d7a5c1a2b0e3d5f4c6b7a8e9f0a1b2c3d4e5f6a7)\ngo version go1.22.8 X:boringcrypto\n'), { dist: 'rke2' }), 'v1.28.15+rke2r1');
  assert.is(installedVersion.parse(ok('k3s version v1.28.15+k3s1 (869dd4d6)\ngo version go1.22.8\n'), { dist: 'k3s' }), 'v1.28.15+k3s1');
  assert.is(installedVersion.parse(ok('absent\n'), { dist: 'rke2' }), null);
  assert.throws(() => installedVersion.parse(ok('Segmentation fault\n', 139), { dist: 'rke2' }), /cannot read the rke2 version from: Segmentation fault/);
  assert.match(installedVersion.command({ dist: 'rke2' }, (s) => s), /\/opt\/rke2\/bin\/rke2/, 'the tarball prefix install.sh falls back to');
});

test('unit-active fact: systemctl is-active output', () => {
  assert.is(unitActive.parse(ok('active\n'), { unit: 'rke2-server' }), true);
  assert.is(unitActive.parse(ok('inactive\n'), { unit: 'rke2-server' }), false);
  assert.is(unitActive.parse(ok('activating\n'), { unit: 'rke2-server' }), false);
  assert.is(unitActive.parse(ok('failed\n'), { unit: 'k3s' }), false);
});

test('config keys: flags of rke2 server / k3s server pass; others are named, cluster-init is K3s-only', () => {
  assert.equal(unknownKeys('rke2', { 'tls-san': [], 'node-label': [], cni: 'canal', 'write-kubeconfig-mode': '0600', 'ingress-controller': 'ingress-nginx' }), []);
  assert.equal(unknownKeys('rke2', { 'tls-sans': [], 'cluster-init': true, 'flannel-backend': 'vxlan' }), ['tls-sans', 'cluster-init', 'flannel-backend']);
  assert.equal(unknownKeys('k3s', { 'cluster-init': true, 'flannel-backend': 'vxlan', 'tls-san': [], 'node-label+': [] }), []);
  assert.equal(unknownKeys('k3s', { cni: 'canal' }), ['cni'], 'cni is rke2\'s own flag');
  assert.is(closest('rke2', 'tls-sans'), 'tls-san');
  assert.is(closest('rke2', 'completely-different-thing'), undefined);
});

test('precheck: an unknown key is refused with upstream\'s warning; server and token belong to params', async () => {
  const err = await runTask(rke2, { config: { 'tls-sans': ['x'] } }).then(() => null, (e: unknown) => e);
  assert.instance(err, ParamsError);
  const msg = (err as ParamsError).problems.join('\n');
  assert.match(msg, /config\.tls-sans \(config\): `rke2 server` has no flag --tls-sans: the server would log "Unknown flag --tls-sans found in config\.yaml, skipping"/);
  assert.match(msg, /did you mean tls-san\?/);
  const more = await runTask(rke2, { config: { server: 'https://x:9345', 'cluster-init': true }, extra_config: { token: 't' } }).then(() => null, (e: unknown) => e) as ParamsError;
  const text = more.problems.join('\n');
  assert.match(text, /config\.server: give the host to join as param join/);
  assert.match(text, /cluster-init is a K3s key/);
  assert.match(text, /config\.token: give the token as the task param token/);
  const ver = await runTask(rke2, { config: {}, distribution: 'k3s', version: 'v1.28.15+rke2r1' }).then(() => null, (e: unknown) => e) as ParamsError;
  assert.match(ver.problems.join('\n'), /v1\.28\.15\+rke2r1 is not a k3s release/);
});

test('environment file: the proxy as rke2-docs gives it, or the CONTAINERD_ variants; nothing without a proxy', () => {
  const np = noProxyList(['10.0.0.11', '10.0.0.12'], ['rancher.example.com', '203.0.113.5'], '.corp.example,10.0.0.11');
  assert.equal(np, ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '10.42.0.0/16', '10.43.0.0/16', '.svc', '.cluster.local',
    '10.0.0.11', '10.0.0.12', 'rancher.example.com', '203.0.113.5', '.corp.example']);
  const all = envFileText({ http: 'http://proxy:3128', https: 'http://proxy:3128' }, np, 'all');
  assert.match(all, /^HTTP_PROXY=http:\/\/proxy:3128$/m);
  assert.match(all, /^HTTPS_PROXY=http:\/\/proxy:3128$/m);
  assert.match(all, new RegExp(`^NO_PROXY=${np.join(',').replace(/[./]/g, '\\$&')}$`, 'm'));
  const cd = envFileText({ https: 'http://proxy:3128' }, np, 'containerd');
  assert.match(cd, /^CONTAINERD_HTTP_PROXY=http:\/\/proxy:3128$/m, 'http falls back to the https proxy');
  assert.match(cd, /^CONTAINERD_NO_PROXY=/m);
  assert.not.match(cd, /^HTTPS_PROXY/m);
  assert.is(envFileText(undefined, np, 'all'), '');
  assert.is(envFileText({}, np, 'all'), '');
});

test('HelmChartConfig: rke2-ingress-nginx use-forwarded-headers "true"; K3s traefik trusts forwarded headers', () => {
  const r = forwardedHeadersManifest('rke2');
  assert.is(r.path, '/var/lib/rancher/rke2/server/manifests/rke2-ingress-nginx-config.yaml');
  const doc = YAML.parse(r.content);
  assert.is(doc.kind, 'HelmChartConfig');
  assert.equal(doc.metadata, { name: 'rke2-ingress-nginx', namespace: 'kube-system' });
  assert.is(YAML.parse(doc.spec.valuesContent).controller.config['use-forwarded-headers'], 'true', 'a string, as the ConfigMap needs');
  const k = forwardedHeadersManifest('k3s');
  assert.is(k.path, '/var/lib/rancher/k3s/server/manifests/rancher-play-traefik-config.yaml');
  const kd = YAML.parse(k.content);
  assert.equal(kd.metadata, { name: 'traefik', namespace: 'kube-system' });
  const v = YAML.parse(kd.spec.valuesContent);
  assert.ok(v.ports.websecure.forwardedHeaders.trustedIPs.includes('10.0.0.0/8'));
});

// Journal lines as rke2/k3s log them under systemd (logrus text format).
const J401 = 'time="2026-12-02T16:44:44Z" level=info msg="Starting rke2 v1.28.15+rke2r1"\n'
  + 'time="2026-12-02T16:44:44Z" level=fatal msg="starting kubernetes: preparing server: failed to validate server configuration: https://rancher.example.com:9345/v1-rke2/config: 401 Unauthorized"\n';
const JCA = 'time="2026-12-02T16:44:44Z" level=fatal msg="starting kubernetes: preparing server: failed to get CA certs: Get \\"https://rancher.example.com:9345/cacerts\\": EOF"\n';
const JPULL = 'time="2026-12-02T16:44:44Z" level=info msg="Pulling runtime image index.docker.io/rancher/rke2-runtime:v1.28.15-rke2r1"\n'
  + 'time="2026-12-02T16:44:45Z" level=fatal msg="failed to get runtime image index.docker.io/rancher/rke2-runtime:v1.28.15-rke2r1: Get \\"https://index.docker.io/v2/\\": dial tcp 54.0.0.1:443: connect: network is unreachable"\n';
const JTOKEN = 'time="2026-12-02T16:44:45Z" level=fatal msg="starting kubernetes: preparing server: bootstrap data already found and encrypted with different token"\n';

test('a failed start: rke2\'s fatal message and a hint naming the fix', () => {
  assert.is(journalError(J401), 'starting kubernetes: preparing server: failed to validate server configuration: https://rancher.example.com:9345/v1-rke2/config: 401 Unauthorized');
  assert.match(startHint('rke2', J401)!, /same token/);
  assert.is(journalError(JCA), 'starting kubernetes: preparing server: failed to get CA certs: Get "https://rancher.example.com:9345/cacerts": EOF');
  assert.match(startHint('rke2', JCA, 'https://rancher.example.com:9345')!, /no server answers at https:\/\/rancher\.example\.com:9345: the first server must be started and Ready/);
  assert.match(startHint('k3s', JCA)!, /pass TCP 6443/);
  assert.match(journalError(JPULL), /^failed to get runtime image index\.docker\.io\/rancher\/rke2-runtime:v1\.28\.15-rke2r1: .*network is unreachable$/);
  assert.match(startHint('rke2', JPULL)!, /HTTP_PROXY, HTTPS_PROXY and NO_PROXY into \/etc\/default\/rke2-server/);
  assert.match(startHint('rke2', JTOKEN)!, /first started with another token/);
  assert.is(startHint('rke2', 'time="x" level=fatal msg="something new"\n'), undefined);
});

test('fetch: copies to the controller 0600 with replacements, then ok; a check before the file exists predicts it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rp-fetch-'));
  const src = join(dir, 'rke2.yaml');
  const dest = join(dir, 'out', 'kube_config_rke2.yaml');
  const params = { src, dest, replace: [{ from: 'https://127.0.0.1:6443', to: 'https://rancher.example.com:6443' }] };
  const early = await runTask(fetchTask, params, { check: true });
  assert.is(early.status, 'changed', early.msg);
  assert.match(early.msg, /not there yet/);
  writeFileSync(src, 'clusters:\n- cluster:\n    server: https://127.0.0.1:6443\n');
  const dry = await runTask(fetchTask, params, { check: true });
  assert.is(dry.status, 'changed');
  assert.not.ok(existsSync(dest), 'check writes nothing');
  const r = await runTask(fetchTask, params, { diff: true });
  assert.is(r.status, 'changed', r.msg);
  assert.is(readFileSync(dest, 'utf8'), 'clusters:\n- cluster:\n    server: https://rancher.example.com:6443\n');
  assert.is(statSync(dest).mode & 0o777, 0o600);
  assert.not.match(JSON.stringify(r.diff), /rancher\.example\.com:6443/, 'a secret file stays out of the diff');
  assert.is((await runTask(fetchTask, params)).status, 'ok');
  const missing = await runTask(fetchTask, { src: join(dir, 'nope'), dest });
  assert.is(missing.status, 'failed');
  assert.match(missing.msg, /cannot read .*nope/);
});

test('support matrix: Rancher on RKE2/K3s only where upstream runs it', () => {
  assert.equal(rancherProblems('rke2', 'v2.8.5', 'v1.28.15+rke2r1'), []);
  assert.equal(rancherProblems('k3s', 'v2.8.5', 'v1.25.3+k3s1'), []);
  assert.match(rancherProblems('rke2', 'v2.8.2', 'v1.28.15+rke2r1').join(), /Rancher v2\.8\.2 runs on rke2 Kubernetes 1\.25 to 1\.27, not v1\.28\.15\+rke2r1 \(rancher\/rancher v2\.8\.0 chart\/Chart\.yaml/);
  assert.match(rancherProblems('k3s', 'v2.0.6', 'v1.28.15+k3s1').join(), /Rancher v2\.0\.6 has no k3s row .*use -e rancher_version=v2\.8\.5, or playbooks\/ha-helm\.yml/);
  assert.equal(rancherProblems('rke2', undefined, ''), [], 'no rancher_version: nothing to compare');
});

test.run();
