// helm-release reads `helm version` first and refuses a helm whose CLI lacks what it passes
// (Helm 2: no -n, Tiller; before 3.2.0 no --create-namespace; before 3.3.2 no repo add
// --force-update), before any release is asked about or touched. The helm stand-in plays the old
// release (HELM_FIXTURE_VERSION) and, like it, rejects those flags when called anyway.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import helmRelease, { helmVersionProblem } from '../../tasks/helm-release.js';

const HELM = resolve('lab/fixtures/helm-fixture');
const dir = mkdtempSync(join(tmpdir(), 'rp-helmver-'));
const kubeconfig = join(dir, 'kube_config_rancher-cluster.yml');
writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });

/** A helm that is HELM_FIXTURE_VERSION=version and logs each call. */
function helmOf(version: string): { bin: string; calls: () => string[] } {
  const bin = join(dir, `helm-${version}`);
  const log = `${bin}.calls`;
  writeFileSync(log, '');
  writeFileSync(bin, `#!/bin/sh\necho "$*" >> ${log}\nK8S_FIXTURE_DIR=${dir}/state HELM_FIXTURE_VERSION=${version} exec ${HELM} "$@"\n`);
  chmodSync(bin, 0o755);
  return { bin, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}
const params = (helm: string) => ({
  name: 'rancher', namespace: 'cattle-system', chart: 'rancher-stable/rancher',
  repo: { name: 'rancher-stable', url: 'https://releases.rancher.com/server-charts/stable' }, version: '2.7.6', kubeconfig, helm,
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the stand-in speaks each release\'s `version --short --client`, and refuses the flags that release lacks', () => {
  const out = (v: string, ...a: string[]) => spawnSync(helmOf(v).bin, a, { encoding: 'utf8' });
  assert.is(out('v2.17.0', 'version', '--short', '--client').stdout.trim(), 'Client: v2.17.0+ga690bad');
  assert.is(out('v3.19.5', 'version', '--short', '--client').stdout.trim(), 'v3.19.5+g1ad1a4e');
  assert.match(out('v2.17.0', 'status', 'rancher', '-n', 'cattle-system').stderr, /^Error: unknown shorthand flag: 'n' in -n/);
  assert.match(out('v3.1.3', 'upgrade', '--install', 'x', 'y', '--create-namespace').stderr, /^Error: unknown flag: --create-namespace/);
  assert.match(out('v3.3.1', 'repo', 'add', '--force-update', 'a', 'b').stderr, /^Error: unknown flag: --force-update/);
});

for (const [v, why] of [
  ['v2.17.0', /is Helm 2 \(its CLI has no -n and needs Tiller in the cluster\); helm-release needs Helm ≥ 3\.3\.2/],
  ['v3.2.4', /is Helm v3\.2\.4; helm-release needs Helm ≥ 3\.3\.2 \(--create-namespace since 3\.2\.0, repo add --force-update since 3\.3\.2\)/],
] as const) {
  test(`helm ${v}: refused before any release is touched, in check mode too`, async () => {
    for (const check of [true, false]) {
      const h = helmOf(v);
      const r = await runTask(helmRelease, params(h.bin), { check });
      assert.is(r.status, 'failed');
      assert.match(r.msg, why);
      assert.equal(h.calls(), ['version --short --client'], 'nothing but the version was asked');
    }
  });
}

test('Helm 3.3.2 and later pass; an answer that is no helm version is named', async () => {
  assert.is(helmVersionProblem('v3.3.2+g1e8c7a5', 'helm'), null);
  assert.is(helmVersionProblem('v3.19.5+g1ad1a4e', 'helm'), null);
  assert.match(helmVersionProblem('oops', '/usr/bin/helm')!, /\/usr\/bin\/helm version printed no version \(oops\): is it helm\?/);
  const h = helmOf('v3.3.2');
  const r = await runTask(helmRelease, params(h.bin), { check: true });
  assert.is(r.status, 'changed', r.msg);
  assert.match(r.msg, /would install rancher \(rancher-2\.7\.6\)/);
});

test.run();
