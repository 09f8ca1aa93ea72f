// helm-release on the controller against the lab's `helm` stand-in (lab/fixtures/helm-fixture,
// helm v3's output formats, `Error: ...` texts and install-or-upgrade rules; the Rancher chart's
// rendering of tls/privateCA). A wrapper around the fixture records each call and the values file
// helm was given (its mode and content), so the tests see what a real helm would have been told.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import helmRelease, { canonical, maskValues, splitChart } from '../../tasks/helm-release.js';
import kubectlApply from '../../tasks/kubectl-apply.js';
import { cli, cliAsync, events, project, totalChanged } from '../unit/cli-helpers.js';

const HELM = resolve('lab/fixtures/helm-fixture');
const KUBECTL = resolve('lab/fixtures/kubectl-fixture');

interface Env { dir: string; kubeconfig: string; helm: string; calls: string; tmp: string; fixtureDir: string }
function env(): Env {
  const dir = mkdtempSync(join(tmpdir(), 'rp-helm-'));
  const kubeconfig = join(dir, 'kube_config_rancher-cluster.yml');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  const calls = join(dir, 'calls.log');
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const helm = join(dir, 'helm');
  // Records argv and, for -f FILE, the file's mode and content (the file is gone afterwards).
  writeFileSync(helm, `#!/bin/sh
echo "$*" >> ${calls}
prev=
for a in "$@"; do
  if [ "$prev" = "-f" ]; then stat -c '%a' "$a" >> ${calls}.modes; cat "$a" > ${dir}/values.seen; fi
  prev="$a"
done
exec ${HELM} "$@"
`);
  chmodSync(helm, 0o755);
  return { dir, kubeconfig, helm, calls, tmp, fixtureDir: join(dir, '.k8s-fixture') };
}

const upgrades = (e: Env): string[] => readFileSync(e.calls, 'utf8').split('\n').filter((l) => / upgrade --install /.test(l));
const leftovers = (e: Env): string[] => readdirSync(e.tmp).filter((f) => f.startsWith('rancher-play-helm.'));

const rancherParams = (e: Env, version: string, values: unknown) => ({
  name: 'rancher', namespace: 'cattle-system', chart: 'rancher-stable/rancher',
  repo: { name: 'rancher-stable', url: 'https://releases.rancher.com/server-charts/stable' },
  version, values, kubeconfig: e.kubeconfig, helm: e.helm,
});

async function withTmp<T>(e: Env, fn: () => Promise<T>): Promise<T> {
  const old = process.env.TMPDIR;
  process.env.TMPDIR = e.tmp;
  delete process.env.HELM_FIXTURE_FAIL;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = old;
  }
}

const helmJson = (e: Env, ...args: string[]): unknown => JSON.parse(execFileSync(HELM, ['--kubeconfig', e.kubeconfig, ...args], { encoding: 'utf8' }));

test('install from the repo, then ok; values reach helm in a 0600 file that is removed; chart renders tls external', async () => {
  const e = env();
  const values = { hostname: 'rancher.example.test', tls: 'external', replicas: 3 };
  await withTmp(e, async () => {
    const check = await runTask(helmRelease, rancherParams(e, 'v2.4.17', values), { check: true });
    assert.is(check.status, 'changed');
    assert.match(check.msg, /would install rancher \(rancher-2\.4\.17\) in cattle-system/);

    const first = await runTask(helmRelease, rancherParams(e, 'v2.4.17', values));
    assert.is(first.status, 'changed', first.msg);
    assert.match(first.msg, /installed rancher rancher-2\.4\.17 in cattle-system \(revision 1\)/);
    assert.equal(upgrades(e).length, 1);
    const call = upgrades(e)[0]!;
    // Positionals after `--`, so a value starting with `-` is never taken for a flag.
    assert.match(call, /upgrade --install --namespace cattle-system --create-namespace --version 2\.4\.17 -f \S+values\.yaml --wait --timeout 10m -- rancher rancher-stable\/rancher$/);
    assert.match(readFileSync(e.calls, 'utf8'), /repo add --force-update -- rancher-stable https:\/\/releases\.rancher\.com\/server-charts\/stable/);
    assert.is(readFileSync(`${e.calls}.modes`, 'utf8').trim(), '600');
    assert.match(readFileSync(join(e.dir, 'values.seen'), 'utf8'), /tls: external/);
    assert.equal(leftovers(e), [], 'no values file left in TMPDIR');

    // What the chart made of the values (rancher/rancher chart/templates/ingress.yaml).
    const status = helmJson(e, 'status', 'rancher', '-n', 'cattle-system', '-o', 'json') as { manifest: string; info: { status: string } };
    assert.is(status.info.status, 'deployed');
    assert.match(status.manifest, /nginx\.ingress\.kubernetes\.io\/ssl-redirect: "false"/);
    assert.not.match(status.manifest, /secretName: tls-rancher-ingress/);
    assert.equal(helmJson(e, 'get', 'values', 'rancher', '-n', 'cattle-system', '-o', 'json'), values);

    const again = await runTask(helmRelease, rancherParams(e, 'v2.4.17', { replicas: 3, tls: 'external', hostname: 'rancher.example.test' }));
    assert.is(again.status, 'ok', again.msg);
    assert.match(again.msg, /rancher-2\.4\.17 deployed in cattle-system with the wanted values/);
    assert.equal(upgrades(e).length, 1, 'no second helm upgrade');
  });
  rmSync(e.dir, { recursive: true, force: true });
});

test('a new version upgrades once; check mode predicts it with a values diff and changes nothing', async () => {
  const e = env();
  const values = 'hostname: rancher.example.test\ntls: external\n';
  await withTmp(e, async () => {
    assert.is((await runTask(helmRelease, rancherParams(e, '2.4.17', values))).status, 'changed');
    const check = await runTask(helmRelease, rancherParams(e, '2.4.18', `${values}replicas: 1\n`), { check: true, diff: true });
    assert.is(check.status, 'changed');
    assert.match(check.msg, /would upgrade rancher: version 2\.4\.17 → 2\.4\.18; values differ \(replicas\)/);
    assert.match(check.diff![0]!.before!, /# chart: rancher-2\.4\.17/);
    assert.match(check.diff![0]!.after!, /# chart: rancher-2\.4\.18\n[^]*replicas: 1/);
    assert.equal(upgrades(e).length, 1, 'check mode ran no upgrade');

    const up = await runTask(helmRelease, rancherParams(e, '2.4.18', `${values}replicas: 1\n`));
    assert.is(up.status, 'changed', up.msg);
    assert.match(up.msg, /upgraded rancher rancher-2\.4\.17 → rancher-2\.4\.18 in cattle-system \(revision 2\)/);
    assert.equal(upgrades(e).length, 2, 'exactly one upgrade call');
    const hist = helmJson(e, 'history', 'rancher', '-n', 'cattle-system', '-o', 'json') as { status: string; chart: string }[];
    assert.equal(hist.map((h) => `${h.chart} ${h.status}`), ['rancher-2.4.17 superseded', 'rancher-2.4.18 deployed']);
    assert.is((await runTask(helmRelease, rancherParams(e, '2.4.18', `${values}replicas: 1\n`))).status, 'ok');
  });
  rmSync(e.dir, { recursive: true, force: true });
});

test('privateCA without the tls-ca secret: helm waits out --timeout; with kubectl-apply first the install succeeds', async () => {
  const e = env();
  const values = { hostname: 'rancher.example.test', tls: 'external', privateCA: true };
  await withTmp(e, async () => {
    const bad = await runTask(helmRelease, rancherParams(e, '2.4.18', values));
    assert.is(bad.status, 'failed');
    assert.match(bad.msg, /helm upgrade --install rancher failed \(exit 1\): Error: context deadline exceeded/);
    assert.equal(leftovers(e), [], 'values file removed after the failure too');

    // The failed release is retried (status failed ≠ deployed), after the CA secret exists.
    const ca = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUfakefakefake\n-----END CERTIFICATE-----\n';
    const manifest = `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cattle-system\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-ca\n  namespace: cattle-system\ntype: Opaque\ndata:\n  cacerts.pem: ${Buffer.from(ca).toString('base64')}\n`;
    const applied = await runTask(kubectlApply, { manifest, kubeconfig: e.kubeconfig, kubectl: KUBECTL });
    assert.is(applied.status, 'changed', applied.msg);
    const probe = await runTask(helmRelease, rancherParams(e, '2.4.18', values), { check: true });
    assert.match(probe.msg, /release status is failed/);
    const good = await runTask(helmRelease, rancherParams(e, '2.4.18', values));
    assert.is(good.status, 'changed', good.msg);
    const status = helmJson(e, 'status', 'rancher', '-n', 'cattle-system', '-o', 'json') as { manifest: string };
    assert.match(status.manifest, /secretName: tls-ca/);
    assert.not.match(status.manifest, /--no-cacerts/, 'privateCA keeps the CA certs (chart deployment.yaml)');
    assert.is(execFileSync(KUBECTL, ['--kubeconfig', e.kubeconfig, '-n', 'cattle-system', 'rollout', 'status', 'deploy/rancher'], { encoding: 'utf8' }).trim(),
      'deployment "rancher" successfully rolled out');
  });
  rmSync(e.dir, { recursive: true, force: true });
});

test('helm errors come back in helm\'s words: unknown chart version, unreachable cluster, injected timeout', async () => {
  const e = env();
  await withTmp(e, async () => {
    const nover = await runTask(helmRelease, rancherParams(e, '9.9.9', {}));
    assert.is(nover.status, 'failed');
    assert.match(nover.msg, /Error: chart "rancher" matching 9\.9\.9 not found in rancher-stable index\. \(try 'helm repo update'\): no chart version found for rancher-9\.9\.9/);

    const gone = await runTask(helmRelease, { ...rancherParams(e, '2.4.18', {}), kubeconfig: join(e.dir, 'nope.yml') });
    assert.is(gone.status, 'failed');
    assert.match(gone.msg, /kubeconfig \S+nope\.yml not found on the controller/);
    const gonePredicted = await runTask(helmRelease, { ...rancherParams(e, '2.4.18', {}), kubeconfig: join(e.dir, 'nope.yml') }, { check: true });
    assert.is(gonePredicted.status, 'changed', 'check mode before rke up: predicts the install');

    assert.is((await runTask(helmRelease, rancherParams(e, '2.4.17', { hostname: 'a.test' }))).status, 'changed');
    process.env.HELM_FIXTURE_FAIL = 'context deadline exceeded';
    const t = await runTask(helmRelease, rancherParams(e, '2.4.18', { hostname: 'a.test' }));
    delete process.env.HELM_FIXTURE_FAIL;
    assert.is(t.status, 'failed');
    assert.match(t.msg, /Error: UPGRADE FAILED: context deadline exceeded/);
    assert.equal(leftovers(e), []);
  });
  rmSync(e.dir, { recursive: true, force: true });
});

test('the chart\'s kubeVersion against the cluster\'s Kubernetes (from the RKE state): helm\'s refusal, nothing recorded', async () => {
  const e = env();
  writeFileSync(join(e.dir, 'rancher-cluster.rkestate'), JSON.stringify({ currentState: { rkeConfig: { kubernetes_version: 'v1.26.8-rancher1-1' } } }));
  await withTmp(e, async () => {
    const old = await runTask(helmRelease, rancherParams(e, 'v2.4.18', { hostname: 'a.test' }));
    assert.is(old.status, 'failed');
    assert.match(old.msg, /Error: chart requires kubeVersion: < 1\.20\.0-0 which is incompatible with Kubernetes v1\.26\.8$/);
    const check = await runTask(helmRelease, rancherParams(e, 'v2.7.5', { hostname: 'a.test' }), { check: true });
    assert.match(check.msg, /would install/, 'the refused chart left no release behind');
    assert.is((await runTask(helmRelease, rancherParams(e, 'v2.7.5', { hostname: 'a.test' }))).status, 'changed');
  });
  rmSync(e.dir, { recursive: true, force: true });
});

test('a local chart .tgz: its Chart.yaml decides, a mismatching version is refused before helm runs', async () => {
  const e = env();
  const src = join(e.dir, 'chart', 'rancher');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'Chart.yaml'), 'apiVersion: v1\nname: rancher\nversion: 2.4.18\nappVersion: v2.4.18\n');
  execFileSync('tar', ['-czf', join(e.dir, 'rancher-2.4.18.tgz'), '-C', join(e.dir, 'chart'), 'rancher']);
  const local = (version: string) => ({ ...rancherParams(e, version, { hostname: 'a.test' }), chart: join(e.dir, 'rancher-2.4.18.tgz') });
  await withTmp(e, async () => {
    const wrong = await runTask(helmRelease, local('2.4.17'));
    assert.is(wrong.status, 'failed');
    assert.match(wrong.msg, /holds rancher 2\.4\.18, not the wanted version 2\.4\.17/);
    const ok = await runTask(helmRelease, local('v2.4.18'));
    assert.is(ok.status, 'changed', ok.msg);
    assert.not.match(readFileSync(e.calls, 'utf8'), /repo add/, 'no repository for a local chart');
    assert.match(upgrades(e)[0]!, /--namespace cattle-system --create-namespace -f \S+ --wait --timeout 10m -- rancher \S+rancher-2\.4\.18\.tgz$/);
    assert.is((await runTask(helmRelease, local('v2.4.18'))).status, 'ok');
  });
  try {
    await runTask(helmRelease, { ...local('2.4.18'), chart: join(e.dir, 'missing.tgz') });
    assert.unreachable('a missing local chart is bad input');
  } catch (err) {
    assert.match(String(err), /chart \S+missing\.tgz does not exist on the controller/);
  }
  rmSync(e.dir, { recursive: true, force: true });
});

test('secret values are masked in diffs: both sides, marked when they differ', () => {
  const before = { hostname: 'a', auth: { password: 'old-pass', token: 'same' } };
  const after = { hostname: 'a', auth: { password: 'new-pass', token: 'same' } };
  assert.equal(maskValues(before, after, 'before'), { hostname: 'a', auth: { password: '******** (before)', token: '********' } });
  assert.equal(maskValues(after, before, 'after'), { hostname: 'a', auth: { password: '******** (after)', token: '********' } });
  assert.is(canonical({ b: 1, a: [1, { d: 1, c: 2 }] }), canonical({ a: [1, { c: 2, d: 1 }], b: 1 }));
  assert.equal(splitChart('rancher-2.4.9-rc5'), { name: 'rancher', version: '2.4.9-rc5' });
  // jetstack's chart versions keep their v (cert-manager-v1.11.0 in helm history).
  assert.equal(splitChart('cert-manager-v1.0.4'), { name: 'cert-manager', version: 'v1.0.4' });
});

test('in a playbook: a helm failure ends the run with exit 2 and helm\'s own text; a !secret value never printed', () => {
  const e = env();
  const p = project(1, `  kubeconfig: ${e.kubeconfig}\n  helm_binary: ${e.helm}\n  proxy_pass: !secret s3cr3t-proxy-pass\n`);
  const pb = p.write('pb.yml', [
    'plays:',
    '  - hosts: localhost',
    '    tasks:',
    '      - name: rancher',
    '        helm-release:',
    '          name: rancher',
    '          namespace: cattle-system',
    '          chart: rancher-stable/rancher',
    '          repo: { name: rancher-stable, url: "https://releases.rancher.com/server-charts/stable" }',
    '          version: "2.4.18"',
    '          kubeconfig: "{{ kubeconfig }}"',
    '          values: |',
    '            hostname: rancher.example.test',
    '            tls: external',
    '            proxy: "http://user:{{ proxy_pass }}@proxy.example.test:3128"',
    '',
  ].join('\n'));
  const run = (extra: NodeJS.ProcessEnv = {}) => cli(['run', pb, '-i', p.inventory, '--json', '--diff'], { env: { TMPDIR: e.tmp, ...extra } });
  const failed = run({ HELM_FIXTURE_FAIL: 'timed out waiting for the condition' });
  assert.is(failed.code, 2, failed.stdout + failed.stderr);
  const ev = events(failed.stdout).tasks.find((t) => t.id === 'helm-release')!;
  assert.match(ev.msg, /Error: timed out waiting for the condition/);
  assert.equal(leftovers(e), []);

  const ok = run();
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  assert.not.match(ok.stdout + ok.stderr, /s3cr3t-proxy-pass/);
  assert.match(readFileSync(join(e.dir, 'values.seen'), 'utf8'), /s3cr3t-proxy-pass/, 'helm itself got the real value');
  const second = run();
  assert.is(second.code, 0);
  assert.is(totalChanged(events(second.stdout).recap), 0, 'second run: 0 changed');
  rmSync(e.dir, { recursive: true, force: true });
  rmSync(p.dir, { recursive: true, force: true });
});

test('interrupted while helm runs: the values file is removed all the same', async () => {
  const e = env();
  // A helm whose upgrade hangs (e.g. --wait on pods that never get ready) until interrupted.
  const slow = join(e.dir, 'helm-slow');
  writeFileSync(slow, `#!/bin/sh\ncase " $* " in *" upgrade "*) touch ${e.dir}/upgrading; sleep 60;; esac\nexec ${e.helm} "$@"\n`);
  chmodSync(slow, 0o755);
  const p = project(1, `  kubeconfig: ${e.kubeconfig}\n  helm_binary: ${slow}\n`);
  const pb = p.write('pb.yml', [
    'plays:', '  - hosts: localhost', '    tasks:', '      - helm-release:',
    '          { name: rancher, namespace: cattle-system, chart: rancher-stable/rancher, version: "2.7.5", kubeconfig: "{{ kubeconfig }}",',
    '            repo: { name: rancher-stable, url: "https://releases.rancher.com/server-charts/stable" }, values: { hostname: a.test } }', '',
  ].join('\n'));
  const child = cliAsync(['run', pb, '-i', p.inventory], { env: { TMPDIR: e.tmp } });
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  while (!existsSync(join(e.dir, 'upgrading'))) await new Promise((r) => setTimeout(r, 100));
  assert.equal(readdirSync(e.tmp).filter((f) => f.startsWith('rancher-play-helm.')).length, 1, 'the values file exists while helm runs');
  child.kill('SIGINT');
  const code = await exited;
  assert.is(code, 130);
  assert.equal(leftovers(e), [], 'values file removed after the interrupt');
  rmSync(e.dir, { recursive: true, force: true });
  rmSync(p.dir, { recursive: true, force: true });
});

test.run();
