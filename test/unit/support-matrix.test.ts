// The support matrix as the user meets it: `validate` of the shipped playbooks refuses each
// combination upstream cannot run (exit 5, naming the rule and its source) before anything runs,
// with the lab's rke stand-in (lab/fixtures/rke-fixture, playing RKE v0.1.9 or v1.4.11 as those
// tags do) answering `rke --version` and `rke config --list-version`; check-docker applies the
// Docker whitelist RKE itself applies (a docker CLI stand-in prints what Docker's does).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import checkDocker from '../../tasks/check-docker.js';
import helmRelease from '../../tasks/helm-release.js';
import { chartK8sProblems, rancherK8sProblems, rkeDockerVersions, RANCHER_K8S, RKE, CHARTS } from '../../tasks/_support-matrix.js';
import { cli, project } from './cli-helpers.js';
import { makePki } from './rancher-pki.js';

const FIXTURE = resolve('lab/fixtures/rke-fixture');
const pki = makePki();
const p = project(0);
const rke = (version: string) => {
  const path = p.write(`bin/rke-${version}`, `#!/bin/sh\nexport RKE_FIXTURE_VERSION=${version}\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(FIXTURE)} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
};
const RKE_OLD = rke('v0.1.9');
const RKE_NEW = rke('v1.4.11');
const inventory = p.write('lab.yml', [
  'hosts:',
  '  node1: { address: 10.0.0.11 }',
  '  node2: { address: 10.0.0.12 }',
  '  node3: { address: 10.0.0.13 }',
  '  lb1: { address: 10.0.0.5 }',
  'groups:',
  '  rancher: { hosts: [node1, node2, node3] }',
  '  lb: { hosts: [lb1] }',
  'vars:',
  '  fqdn: rancher.example.com',
  '  rancher_version: v2.0.6',
  `  tls_cert: ${pki.chain}`,
  `  tls_key: ${pki.serverKey}`,
  `  ca_cert: ${pki.ca}`, // (ha-helm's validate renders the tls-ca manifest even when ca_cert is unset)
  `  rke_binary: ${RKE_OLD}`,
  `  work_dir: ${p.work}`,
  '',
].join('\n'));
test.after(() => {
  rmSync(p.dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

const validate = (pb: string, ...e: string[]) => cli(['validate', `playbooks/${pb}.yml`, '-i', inventory, ...e.flatMap((x) => ['-e', x])]);

test('every row names its upstream source', () => {
  for (const r of [...RANCHER_K8S, ...RKE, ...CHARTS]) assert.match(r.source, /rancher\/|kontainer-driver-metadata|suse\.com/, JSON.stringify(r));
});

test('add-on playbooks on RKE v0.1.9 and its default Kubernetes v1.11: valid', () => {
  for (const pb of ['ha-l7', 'ha-l4']) {
    const r = validate(pb);
    assert.is(r.code, 0, `${pb}: ${r.stderr}`);
  }
});

test('add-on playbooks: a Kubernetes that no longer serves extensions/v1beta1 is exit 5, naming the rule and its sources', () => {
  for (const pb of ['ha-l7', 'ha-l4']) {
    const r = validate(pb, 'kubernetes_version=v1.16.15-rancher1-1');
    assert.is(r.code, 5, r.stderr);
    assert.match(r.stderr, /-e kubernetes_version: kubernetes_version v1\.16\.15-rancher1-1: the add-on manifests use extensions\/v1beta1 Deployment, which Kubernetes serves only up to 1\.15/);
    assert.match(r.stderr, /rke-templates\/3-node-\*\.yml/);
    assert.match(r.stderr, /deprecation-guide\.md/);
    assert.match(r.stderr, /outside what Rancher v2\.0\.x supports \(v1\.8–v1\.11; source: rancher\/rancher v2\.0\.8 vendor\/.*k8s_defaults\.go/);
  }
  // v1.13 still serves the manifests, but Rancher v2.0.x does not support it.
  const r = validate('ha-l7', 'kubernetes_version=v1.13.5-rancher1-1');
  assert.is(r.code, 5);
  assert.not.match(r.stderr, /serves only up to/);
  assert.match(r.stderr, /v1\.13\.5-rancher1-1 is outside what Rancher v2\.0\.x supports/);
});

test('add-on playbooks with an RKE that ships no Kubernetes v1.11 (v1.4.11): exit 5 naming kontainer-driver-metadata', () => {
  const r = validate('ha-l7', `rke_binary=${RKE_NEW}`);
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /rke v1\.4\.11 ships no Kubernetes that Rancher v2\.0\.x supports \(v1\.11 was last in RKE v0\.2\.2; source: rancher\/kontainer-driver-metadata pkg\/rke\/k8s_version_info\.go/);
  // RKE v1.4.11's default (rke config --list-version: v1.26.8) is named as such.
  assert.match(r.stderr, /rke v1\.4\.11's default Kubernetes: kubernetes_version v1\.26\.8-rancher1-1: the add-on manifests use extensions\/v1beta1/);
});

test('a kubernetes_version the RKE release does not ship: exit 5', () => {
  const r = validate('ha-helm', `rke_binary=${RKE_NEW}`, 'rancher_version=v2.7.6', 'kubernetes_version=v1.27.6-rancher1-1');
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /kubernetes_version v1\.27\.6-rancher1-1 is not one RKE v1\.4\.11 ships \(v1\.23–v1\.26; source: /);
});

test('Helm path: chart/cluster pairs helm fails on, and Rancher/Kubernetes pairs outside the matrix, are exit 5', () => {
  // server-chart 2.0.x: extensions/v1beta1 Deployment on RKE v1.4.11's default v1.26.
  let r = validate('ha-helm', `rke_binary=${RKE_NEW}`);
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /Rancher chart 2\.0\.6 renders extensions\/v1beta1 Deployment, which Kubernetes v1\.26\.8-rancher1-1 no longer serves .*"no matches for kind" \(source: rancher\/server-chart/);
  // rancher/rancher charts up to 2.5.3: extensions/v1beta1 Ingress on >= 1.22.
  r = validate('ha-helm', `rke_binary=${RKE_NEW}`, 'rancher_version=v2.5.2', 'kubernetes_version=v1.23.16-rancher2-3');
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /Rancher chart 2\.5\.2 renders extensions\/v1beta1 Ingress, .*source: rancher\/rancher v2\.2\.0–v2\.5\.3 chart\/templates\/ingress\.yaml/);
  // Rancher v2.7.6 on Kubernetes v1.11 (the add-on lab's cluster): outside Rancher's matrix.
  r = validate('ha-helm', 'rancher_version=v2.7.6');
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /Rancher v2\.7\.6 supports Kubernetes v1\.23–v1\.26 for its cluster, not v1\.11\.1-rancher1-1 \(rule: Rancher ↔ Kubernetes; source: rancher\/rancher v2\.7\.5 chart\/Chart\.yaml kubeVersion: "< 1\.27\.0-0"/);
  // The supported pairs: v2.0.6 on v1.11 (RKE v0.1.9), v2.7.6 on v1.26 (RKE v1.4.11).
  r = validate('ha-helm');
  assert.is(r.code, 0, r.stderr);
  r = validate('ha-helm', `rke_binary=${RKE_NEW}`, 'rancher_version=v2.7.6');
  assert.is(r.code, 0, r.stderr);
});

test('the rules behind them, directly', () => {
  assert.equal(chartK8sProblems('v2.7.6', 'v1.26.8-rancher1-1'), []);
  assert.equal(chartK8sProblems('v2.6.0', 'v1.21.14'), []);
  assert.is(chartK8sProblems('v2.6.0', 'v1.22.1').length, 1);
  assert.equal(rkeDockerVersions('v0.1.9', 'v1.11.1-rancher1-1')?.versions, ['1.11.x', '1.12.x', '1.13.x', '17.03.x']);
  assert.ok(rkeDockerVersions('v1.4.11', 'v1.26.8-rancher1-1')?.versions.includes('20.10.x'));
  assert.is(rkeDockerVersions('v9.9.9', 'v1.26.8'), undefined, 'an RKE the matrix does not know: no rule');
  // RKE2/K3s rows: the same chart bounds, the distribution named.
  assert.equal(rancherK8sProblems('v2.7.6', 'v1.26.10+rke2r1', 'rke2'), []);
  assert.match(rancherK8sProblems('v2.7.6', 'v1.28.3+k3s1', 'k3s')[0]!, /^Rancher v2\.7\.6 supports K3S Kubernetes v1\.23–v1\.26 for its cluster, not v1\.28\.3\+k3s1 \(rule: Rancher ↔ Kubernetes; source: rancher\/rancher v2\.7\.5 chart\/Chart\.yaml/);
  assert.ok(RANCHER_K8S.some((r) => r.distribution === 'rke2' && r.playbooks.includes('playbooks/ha-rke2.yml')));
});

// A docker CLI printing what Docker 20.10.24's does for these commands (server version; `ps` ok).
const docker = p.write('bin/docker', '#!/bin/sh\ncase "$1" in version) echo 20.10.24;; ps) exit 0;; *) exit 1;; esac\n');
chmodSync(docker, 0o755);

test('check-docker with rke: Docker 20.10 on RKE v0.1.9 fails as rke up would; ignore_docker_version makes it a warning', async () => {
  const r = await runTask(checkDocker, { docker, rke: true, rke_version: 'v0.1.9', pull_probe: '' }, { vars: {} });
  assert.is(r.status, 'failed', r.msg);
  assert.match(r.msg, /Docker 20\.10\.24 is not one RKE v0\.1\.9 accepts for Kubernetes v1\.11\.1-rancher1-1 \(1\.11\.x, 1\.12\.x, 1\.13\.x, 17\.03\.x; source: rancher\/rke v0\.1\.9 docker\/docker\.go/);
  assert.match(r.msg, /rke up would stop with "Unsupported Docker version found \[20\.10\.24\]"/);
  assert.match(r.msg, /ignore_docker_version: true/);
  const ok = await runTask(checkDocker, { docker, rke: true, rke_version: 'v0.1.9', pull_probe: '' }, { vars: { ignore_docker_version: true } });
  assert.is(ok.status, 'ok', ok.msg);
  assert.match(ok.warnings.join('\n'), /not one RKE v0\.1\.9 accepts .*ignore_docker_version: true, so RKE only warns/);
  // RKE v1.4.11 (its binary asked on the controller) accepts 20.10 for Kubernetes v1.26.
  const v1 = await runTask(checkDocker, { docker, rke: true, pull_probe: '' }, { vars: { rke_binary: RKE_NEW } });
  assert.is(v1.status, 'ok', v1.msg);
  assert.equal(v1.warnings, []);
  // Without rke: the minimum version only, as before.
  assert.is((await runTask(checkDocker, { docker, pull_probe: '' }, { vars: {} })).status, 'ok');
});

test('helm-release: Helm 2 and Helm before 3.3.2 are refused before any release is touched', async () => {
  // What `helm version --short` prints: Helm 2 its client, then fails asking Tiller (helm/helm v2
  // cmd/helm/version.go); Helm 3 the version with its commit (internal/version/version.go).
  const helm = (out: string, code = 0) => {
    const path = p.write(`bin/helm-${Math.random().toString(36).slice(2)}`, `#!/bin/sh\nif [ "$1" = version ]; then printf '%s\\n' '${out}'; exit ${code}; fi\necho "$@" >> ${p.work}/helm-calls; exit 1\n`);
    chmodSync(path, 0o755);
    return path;
  };
  const params = (bin: string) => ({ name: 'rancher', namespace: 'cattle-system', chart: 'rancher-stable/rancher', version: 'v2.7.6', helm: bin, kubeconfig: join(p.work, 'none.yml') });
  const two = await runTask(helmRelease, params(helm('Client: v2.16.1+gbbdfe5e', 1)), { vars: {} });
  assert.is(two.status, 'failed');
  assert.match(two.msg, /is Helm 2 \(its CLI has no -n and needs Tiller in the cluster\); helm-release needs Helm ≥ 3\.3\.2 .*\(source: helm\/helm/);
  const old = await runTask(helmRelease, params(helm('v3.2.4+g0ad800e')), { vars: {} });
  assert.match(old.msg, /is Helm v3\.2\.4; helm-release needs Helm ≥ 3\.3\.2/);
  const ok = await runTask(helmRelease, params(helm('v3.19.5+g1ad1a4e')), { vars: {} });
  assert.match(ok.msg, /kubeconfig .*none\.yml not found/, 'a recent Helm gets past the check');
  assert.not.ok(existsSync(join(p.work, 'helm-calls')), 'no other helm command was run');
});

test.run();
