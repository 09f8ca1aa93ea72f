// kubectl-apply on the controller against the lab's `kubectl` stand-in (lab/fixtures/kubectl-fixture:
// `kubectl diff` runs the real `diff -u -N` over LIVE/MERGED directories with kubectl's exit codes
// and Secret masking; `apply` prints created/configured/unchanged). Secret data must never reach
// a message or a diff, whatever kubectl prints.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import kubectlApply, { maskSecretData, parseKubectlDiff } from '../../tasks/kubectl-apply.js';

const KUBECTL = resolve('lab/fixtures/kubectl-fixture');

function env(): { dir: string; kubeconfig: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rp-kubectl-'));
  const kubeconfig = join(dir, 'kube_config_rancher-cluster.yml');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  return { dir, kubeconfig };
}

const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretkeybody\n-----END PRIVATE KEY-----\n';
const tlsSecret = (key: string) => [
  'apiVersion: v1', 'kind: Namespace', 'metadata:', '  name: cattle-system', '---',
  'apiVersion: v1', 'kind: Secret', 'type: kubernetes.io/tls', 'metadata:', '  name: tls-rancher-ingress', '  namespace: cattle-system',
  'stringData:', '  tls.crt: "cert-not-secret"', `  tls.key: ${JSON.stringify(key)}`, '',
].join('\n');

test('fresh cluster: namespace and secret applied once, then no differences; secret never printed', async () => {
  const e = env();
  const p = { manifest: tlsSecret(KEY), kubeconfig: e.kubeconfig, kubectl: KUBECTL };
  const check = await runTask(kubectlApply, p, { check: true, diff: true });
  assert.is(check.status, 'changed', check.msg);
  assert.match(check.msg, /namespace cattle-system does not exist yet/);

  const first = await runTask(kubectlApply, p, { diff: true });
  assert.is(first.status, 'changed', first.msg);
  assert.is(first.msg, 'namespace/cattle-system created; secret/tls-rancher-ingress created');
  const again = await runTask(kubectlApply, p, { diff: true });
  assert.is(again.status, 'ok', again.msg);
  assert.match(again.msg, /no differences \(kubectl diff\)/);

  // A new key: a diff that says the key changed, never what it is (nor its base64).
  const key2 = KEY.replace('secretkeybody', 'otherkeybody0');
  const changed = await runTask(kubectlApply, { ...p, manifest: tlsSecret(key2) }, { diff: true });
  assert.is(changed.status, 'changed');
  const shown = JSON.stringify([check, first, again, changed]);
  for (const k of [KEY, key2]) {
    assert.not.ok(shown.includes('secretkeybody') || shown.includes('otherkeybody0'), 'key text printed');
    assert.not.ok(shown.includes(Buffer.from(k).toString('base64').slice(0, 40)), 'key base64 printed');
  }
  assert.is(changed.msg, 'namespace/cattle-system unchanged; secret/tls-rancher-ingress configured');
  rmSync(e.dir, { recursive: true, force: true });
});

test('kubectl diff differs → diff per object, masked; other exit codes are errors with kubectl\'s text', async () => {
  const e = env();
  const base = { kubeconfig: e.kubeconfig, kubectl: KUBECTL };
  const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cattle-system\n';
  assert.is((await runTask(kubectlApply, { ...base, manifest: ns })).status, 'changed');
  const cm = (v: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: cattle-system\ndata:\n  level: "${v}"\n`;
  assert.is((await runTask(kubectlApply, { ...base, manifest: cm('1') })).status, 'changed');
  const d = await runTask(kubectlApply, { ...base, manifest: cm('2') }, { check: true, diff: true });
  assert.is(d.status, 'changed');
  assert.is(d.diff!.length, 1);
  assert.is(d.diff![0]!.path, 'v1.ConfigMap.cattle-system.settings');
  assert.match(d.diff![0]!.before!, /level: "1"/);
  assert.match(d.diff![0]!.after!, /level: "2"/);

  // A namespace the manifest does not create is an error (exit 2), reported in kubectl's words.
  const other = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: nowhere\n';
  const err = await runTask(kubectlApply, { ...base, manifest: other }, { check: true });
  assert.is(err.status, 'failed');
  assert.is(err.msg, 'kubectl diff failed (exit 2): Error from server (NotFound): namespaces "nowhere" not found');

  const bad = await runTask(kubectlApply, { ...base, manifest: ns, kubeconfig: join(e.dir, 'none.yml') });
  assert.is(bad.status, 'failed');
  assert.match(bad.msg, /kubeconfig \S+none\.yml not found on the controller/);
  rmSync(e.dir, { recursive: true, force: true });
});

test('a kubectl that shows secrets (no masking of its own) is masked by the task', async () => {
  const e = env();
  // An old kubectl printed Secret data in diffs: simulate it with --show-secrets.
  const wrapper = join(e.dir, 'kubectl');
  writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" diff "*) exec ${KUBECTL} "$@" --show-secrets;; esac\nexec ${KUBECTL} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const data = (v: string) => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: s\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-ca\n  namespace: s\ndata:\n  cacerts.pem: ${Buffer.from(v).toString('base64')}\n`;
  const base = { kubeconfig: e.kubeconfig, kubectl: wrapper };
  assert.is((await runTask(kubectlApply, { ...base, manifest: data('first-ca-body') })).status, 'changed');
  const d = await runTask(kubectlApply, { ...base, manifest: data('second-ca-body') }, { check: true, diff: true });
  assert.is(d.status, 'changed');
  const shown = JSON.stringify(d);
  assert.not.ok(shown.includes(Buffer.from('first-ca-body').toString('base64')), shown);
  assert.not.ok(shown.includes(Buffer.from('second-ca-body').toString('base64')), shown);
  assert.match(d.diff![0]!.after!, /cacerts\.pem: \*{8}/);
  rmSync(e.dir, { recursive: true, force: true });
});

test('src: a manifest template rendered with the vars (b64file relative to the playbook directory)', async () => {
  const e = env();
  writeFileSync(join(e.dir, 'ca.pem'), 'ca-body-from-file\n');
  writeFileSync(join(e.dir, 'tls-ca.yml.hbs'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {{ns}}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: tls-ca\n  namespace: {{ns}}\ndata:\n  cacerts.pem: {{b64file "ca.pem"}}\n');
  const opts = { playbookDir: e.dir, vars: { ns: 'cattle-system' } };
  const first = await runTask(kubectlApply, { src: 'tls-ca.yml.hbs', kubeconfig: e.kubeconfig, kubectl: KUBECTL }, opts);
  assert.is(first.msg, 'namespace/cattle-system created; secret/tls-ca created');
  const live = JSON.parse(execFileSync(KUBECTL, ['--kubeconfig', e.kubeconfig, '-n', 'cattle-system', 'get', 'secret', 'tls-ca', '-o', 'json'], { encoding: 'utf8' })) as { data: Record<string, string> };
  assert.is(Buffer.from(live.data['cacerts.pem']!, 'base64').toString(), 'ca-body-from-file\n');
  assert.is((await runTask(kubectlApply, { src: 'tls-ca.yml.hbs', kubeconfig: e.kubeconfig, kubectl: KUBECTL }, opts)).status, 'ok');
  const missing = await runTask(kubectlApply, { src: 'nope.hbs', kubeconfig: e.kubeconfig, kubectl: KUBECTL }, opts);
  assert.is(missing.status, 'failed');
  assert.match(missing.msg, /template \S+nope\.hbs not found on the controller/);
  rmSync(e.dir, { recursive: true, force: true });
});

test('parseKubectlDiff and maskSecretData', () => {
  const out = [
    'diff -u -N /tmp/LIVE-1/v1.Secret.ns.s /tmp/MERGED-1/v1.Secret.ns.s',
    '--- /tmp/LIVE-1/v1.Secret.ns.s\t2026-01-01 00:00:00.000000000 +0000',
    '+++ /tmp/MERGED-1/v1.Secret.ns.s\t2026-01-01 00:00:00.000000000 +0000',
    '@@ -1,3 +1,3 @@',
    ' data:',
    '-  a: b2xk',
    '+  a: bmV3',
    ' kind: Secret',
  ].join('\n');
  const [d] = parseKubectlDiff(out);
  assert.is(d!.path, 'v1.Secret.ns.s');
  assert.is(d!.before, 'data:\n  a: ********\nkind: Secret\n');
  assert.is(d!.after, 'data:\n  a: ********\nkind: Secret\n');
  assert.is(maskSecretData('data:\n  x: "*** (before)"\nkind: Secret'), 'data:\n  x: "*** (before)"\nkind: Secret');
});

test.run();
