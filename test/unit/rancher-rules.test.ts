// The Rancher rules that stop a bad install before anything runs: concrete versions, valid FQDN,
// certificate chain order, etcd quorum, and the small parsers the tasks rely on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import {
  certChainProblems, checkRkeConfig, compareVersions, etcdProblems, fqdnProblems, groupHosts, listParam,
  parseRkeLine, rancherVersionProblems, unservedAddonProblems,
} from '../../tasks/rancher-rules.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './cli-helpers.js';
import { withStreamInclude } from '../../tasks/configure-nginx-lb.js';
import { dropinEnv } from '../../tasks/check-proxy.js';
import { parseSums, sumsText } from '../../tasks/backup-kubeconfig.js';
import { makePki } from './rancher-pki.js';

const pki = makePki();

test('rancher_version: concrete vX.Y.Z only; stable/latest rejected by name', () => {
  assert.equal(rancherVersionProblems('v2.0.6'), []);
  assert.match(rancherVersionProblems('latest')[0]!, /moving tag.*never stable or latest/);
  assert.match(rancherVersionProblems('stable')[0]!, /moving tag/);
  assert.match(rancherVersionProblems('2.0.6')[0]!, /vX\.Y\.Z/);
  assert.match(rancherVersionProblems('v2.0')[0]!, /vX\.Y\.Z/);
  assert.equal(rancherVersionProblems(undefined).length, 1);
});

test('docker versions compare numerically (17.03 < 20.10.24, 1.13.1 < 17.03)', () => {
  assert.ok(compareVersions('20.10.24', '17.03') > 0);
  assert.ok(compareVersions('1.13.1', '17.03') < 0);
  assert.ok(compareVersions('17.3.0', '17.03') === 0);
  assert.ok(compareVersions('17.03.2-ce', '17.03') > 0);
  assert.ok(compareVersions('v20.10.9', '20.10.24') < 0);
});

test('fqdn: valid host names pass, junk is named in the message', () => {
  assert.equal(fqdnProblems('rancher.example.com'), []);
  assert.equal(fqdnProblems('rancher.lab.test.'), []);
  for (const bad of ['rancher', 'ranch_er.example.com', '-a.example.com', 'a..b', 'http://rancher.example.com', '10.0.0.1', 'x'.repeat(64) + '.com']) {
    const p = fqdnProblems(bad);
    assert.is(p.length, 1, bad);
    assert.ok(p[0]!.includes(JSON.stringify(bad)), p[0]);
  }
});

test('certificate chain: server first then intermediate passes; reversed order is rejected', () => {
  assert.equal(certChainProblems(pki.pem(pki.chain), 'chain.pem'), []);
  assert.equal(certChainProblems(pki.pem(pki.ca), 'ca.pem'), [], 'a lone CA certificate is a valid cacerts.pem');
  const bad = certChainProblems(pki.pem(pki.badChain), 'bad.pem');
  assert.is(bad.length, 1);
  assert.match(bad[0]!, /bad\.pem: the server certificate \(rancher\.example\.com\) is at position 2; put the server certificate first/);
});

test('certificate chain: base64 of the PEM is accepted, garbage and gaps are not', () => {
  assert.equal(certChainProblems(Buffer.from(pki.pem(pki.chain)).toString('base64'), 'b64'), []);
  assert.match(certChainProblems('hello', 'x.pem')[0]!, /no PEM certificate found/);
  // server cert followed by the root (skipping the intermediate): issuer does not match.
  const gap = certChainProblems(pki.pem(pki.server) + pki.pem(pki.ca), 'gap.pem');
  assert.match(gap[0]!, /certificate 1 \(rancher\.example\.com\) is not issued by certificate 2 \(Test Root CA\)/);
});

test('etcd quorum: odd counts pass, even counts and zero fail; not three nodes warns', () => {
  const all = ['controlplane', 'etcd', 'worker'];
  assert.equal(etcdProblems([all, all, all]), { problems: [], warnings: [] });
  const even = etcdProblems([all, all]);
  assert.match(even.problems[0]!, /2 etcd nodes: etcd needs an odd number of members for quorum/);
  assert.match(even.warnings[0]!, /three nodes are recommended/);
  assert.match(etcdProblems([['worker']]).problems[0]!, /no node has the etcd role/);
  assert.equal(etcdProblems([all]).problems, []);
});

test('RKE config check: YAML errors, missing nodes/fields and key paths are reported', () => {
  assert.match(checkRkeConfig('nodes: [', 'c.yml').problems[0]!, /c\.yml does not parse as YAML/);
  assert.match(checkRkeConfig('services: {}', 'c.yml').problems[0]!, /c\.yml has no nodes/);
  const r = checkRkeConfig('nodes:\n- {address: 10.0.0.1, role: [etcd], ssh_key_path: ~/.ssh/k}\n- {address: 10.0.0.2, user: u, role: [etcd]}\n', 'c.yml');
  assert.ok(r.problems.some((p) => /nodes\[0\] has no user/.test(p)));
  assert.ok(r.problems.some((p) => /2 etcd nodes/.test(p)));
  assert.ok(r.keyPaths[0]!.endsWith('/.ssh/k') && !r.keyPaths[0]!.startsWith('~'));
});

test('group hosts: addresses from hostvars host info, vars, or the name', () => {
  const vars = {
    groups: { rancher: ['n1', 'n2', 'n3'] },
    hostvars: { n1: { host: { address: '10.0.0.1' } }, n2: { ansible_host: '10.0.0.2' }, n3: {} },
  };
  assert.equal(groupHosts(vars, 'rancher').map((h) => h.address), ['10.0.0.1', '10.0.0.2', 'n3']);
  assert.equal(groupHosts(vars, 'nope'), []);
  assert.equal(listParam('a, b,,c'), ['a', 'b', 'c']);
  assert.equal(listParam(['a', ' b ']), ['a', 'b']);
});

test('nginx.conf stream include is added once for l4 and removed for l7', () => {
  const base = 'events {}\nhttp {\n  include /etc/nginx/conf.d/*.conf;\n}\n';
  const l4 = withStreamInclude(base, '/etc/nginx/rancher-stream.conf', true);
  assert.ok(l4.startsWith(base));
  assert.match(l4, /\ninclude \/etc\/nginx\/rancher-stream\.conf;\n$/);
  assert.is(withStreamInclude(l4, '/etc/nginx/rancher-stream.conf', true), l4, 'idempotent');
  assert.is(withStreamInclude(l4, '/etc/nginx/rancher-stream.conf', false), base, 'l7 removes it again');
});

test('docker drop-in Environment parsing and SHA256SUMS round trip', () => {
  const env = dropinEnv('[Service]\nEnvironment="HTTP_PROXY=http://p:3128" "HTTPS_PROXY=http://p:3128" "NO_PROXY=localhost,.svc"\n');
  assert.equal(env, { HTTP_PROXY: 'http://p:3128', HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'localhost,.svc' });
  const text = sumsText([{ name: 'a.yml', data: Buffer.from('x') }]);
  assert.match(text, /^[0-9a-f]{64} {2}a\.yml\n$/);
  assert.equal([...parseSums(text).keys()], ['a.yml']);
});

test.after(() => rmSync(pki.dir, { recursive: true, force: true }));
test('removed apiVersions: each object named with its apiVersion and the release that stopped serving it', () => {
  const addons = [
    'kind: Deployment\napiVersion: extensions/v1beta1\nmetadata: { name: cattle, namespace: cattle-system }',
    'kind: Ingress\napiVersion: extensions/v1beta1\nmetadata: { name: web }',
    'kind: StatefulSet\napiVersion: apps/v1beta2\nmetadata: { name: db }',
    'kind: ClusterRoleBinding\napiVersion: rbac.authorization.k8s.io/v1beta1\nmetadata: { name: crb }',
    'kind: CronJob\napiVersion: batch/v1beta1\nmetadata: { name: nightly }',
    'kind: PodDisruptionBudget\napiVersion: policy/v1beta1\nmetadata: { name: pdb }',
    'kind: Deployment\napiVersion: apps/v1\nmetadata: { name: fine }',
  ].join('\n---\n');
  const at = (v: string) => unservedAddonProblems(addons, v).map((p) => /add-on (\S+ \S+) uses apiVersion (\S+), which Kubernetes stopped serving in (\S+) /.exec(p)!.slice(1).join(' '));
  assert.equal(at('v1.15.12'), []);
  assert.equal(at('v1.16.0'), ['Deployment cattle-system/cattle extensions/v1beta1 1.16', 'StatefulSet db apps/v1beta2 1.16']);
  assert.equal(at('v1.26.8-rancher1-1'), [
    'Deployment cattle-system/cattle extensions/v1beta1 1.16', 'Ingress web extensions/v1beta1 1.22', 'StatefulSet db apps/v1beta2 1.16',
    'ClusterRoleBinding crb rbac.authorization.k8s.io/v1beta1 1.22', 'CronJob nightly batch/v1beta1 1.25', 'PodDisruptionBudget pdb policy/v1beta1 1.25',
  ]);
});

test('RKE log lines: logrus on a terminal and piped, msg unquoted; other output ignored', () => {
  assert.equal(parseRkeLine('FATA[0034] Failed to get job complete status'), { level: 'fatal', msg: 'Failed to get job complete status' });
  assert.equal(parseRkeLine('\x1b[33mWARN\x1b[0m[0002] Removing host [10.0.0.3] from node lists'), { level: 'warning', msg: 'Removing host [10.0.0.3] from node lists' });
  assert.equal(parseRkeLine('time="2026-12-01T10:00:00Z" level=warning msg="Failed to deploy addon execute job [rke-user-includes-addons]: \\"x\\" failed"'),
    { level: 'warning', msg: 'Failed to deploy addon execute job [rke-user-includes-addons]: "x" failed' });
  assert.equal(parseRkeLine('time="2026-12-01T10:00:00Z" level=info msg=done'), { level: 'info', msg: 'done' });
  assert.is(parseRkeLine('deployment.apps/cattle created'), undefined);
});

test('ha-l7/ha-l4: rancher_version above v2.0.8 refused with exit 5 before connecting, naming where it was set and ha-helm.yml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rp-addon-'));
  const key = join(dir, 'id');
  writeFileSync(key, 'k\n');
  const inv = join(dir, 'inv.yml');
  writeFileSync(inv, readFileSync('inventory/lab.yml', 'utf8').replace(/"[^"]*\/ssh\/id_ed25519"/g, JSON.stringify(key))
    .replace(/^ {2}(ca_cert|tls_cert|tls_key): .*$/gm, (_m, k: string) => `  ${k}: ${JSON.stringify(k === 'tls_key' ? pki.serverKey : k === 'ca_cert' ? pki.ca : pki.chain)}`)
    .replace(/^ {2}rancher_version: .*$/m, '  rancher_version: v2.1.0'));
  const line = readFileSync(inv, 'utf8').split('\n').findIndex((l) => l.includes('rancher_version')) + 1;
  for (const pb of ['playbooks/ha-l7.yml', 'playbooks/ha-l4.yml']) {
    const r = cli(['check', pb, '-i', inv]);
    assert.is(r.code, 5, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, new RegExp(`${inv.replace(/[.]/g, '\\.')}:${line}:3: rancher_version v2\\.1\\.0 is above v2\\.0\\.8.*playbooks/ha-helm\\.yml`));
    const e = cli(['check', pb, '-i', inv, '-e', 'rancher_version=v2.4.8']);
    assert.is(e.code, 5);
    assert.match(e.stdout + e.stderr, /-e rancher_version: rancher_version v2\.4\.8 is above v2\.0\.8/);
  }
  writeFileSync(inv, readFileSync(inv, 'utf8').replace('rancher_version: v2.1.0', 'rancher_version: v2.0.8'));
  assert.is(cli(['validate', 'playbooks/ha-l7.yml', '-i', inv]).code, 0, 'v2.0.8 is the last one accepted');
  rmSync(dir, { recursive: true, force: true });
});

test.run();
