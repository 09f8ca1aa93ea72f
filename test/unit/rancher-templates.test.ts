// The shipped RKE cluster templates, rendered exactly as a playbook renders them (inventory →
// template scope → strict Handlebars): valid YAML, addons as Kubernetes documents in the order
// of Rancher's RKE add-on install, the inventory's nodes, FQDN, version, the CA as one-line base64.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadInventory } from '../../runner/model/inventory.js';
import { templateScope } from '../../runner/model/vars.js';
import { renderString } from '../../runner/model/template.js';
import { templatePath } from '../../tasks/templates/index.js';
import { makePki } from './rancher-pki.js';
import { unservedAddonProblems } from '../../tasks/rancher-rules.js';

const pki = makePki('rancher.example.com');
const dir = mkdtempSync(join(tmpdir(), 'rp-tpl-'));
const key = join(dir, 'id_rsa');
writeFileSync(key, 'not a real key\n', { mode: 0o600 });

function inventory(extraVars = '', ca = true): string {
  const file = join(dir, `inv-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, `defaults:
  user: rancher
  ssh_key_path: ${key}
hosts:
  node1: { address: 10.9.0.11 }
  node2: { address: 10.9.0.12 }
  node3: { address: 10.9.0.13, user: ops, port: 2222 }
  lb1: { address: 10.9.0.5 }
groups:
  rancher: { hosts: [node1, node2, node3], vars: { rke_roles: [controlplane, etcd, worker] } }
  lb: { hosts: [lb1] }
vars:
  fqdn: rancher.example.com
  rancher_version: v2.0.6
${ca ? `  ca_cert: ${pki.ca}\n` : ''}  tls_cert: ${pki.chain}
  tls_key: ${pki.serverKey}
${extraVars}`);
  return file;
}

function render(name: string, extraVars = '', ca = true): { text: string; doc: Record<string, unknown>; addons: Record<string, any>[] } {
  const inv = loadInventory(inventory(extraVars, ca));
  const scope = templateScope(inv, 'localhost', { ...inv.vars, __dir: dir }, {});
  const text = renderString(readFileSync(templatePath(name), 'utf8'), scope);
  const doc = parse(text) as Record<string, unknown>;
  const docs = parseAllDocuments(String(doc.addons));
  for (const d of docs) assert.equal(d.errors, [], 'every addon document parses');
  return { text, doc, addons: docs.map((d) => d.toJS()) };
}

const ORDER = [
  'Namespace/cattle-system', 'ServiceAccount/cattle-admin', 'ClusterRoleBinding/cattle-crb', 'Secret/cattle-keys-server',
  'Service/cattle-service', 'Ingress/cattle-ingress-http', 'Deployment/cattle',
];
const kinds = (addons: Record<string, any>[]) => addons.map((a) => `${a.kind}/${a.metadata.name}`);

const TEMPLATES = ['rancher-cluster-selfsigned.yml.hbs', 'rancher-cluster-recognizedca.yml.hbs', 'rancher-cluster-l4.yml.hbs'];

test('self-signed: nodes from the rancher group with address, user, port, roles and key', () => {
  const { doc } = render('rancher-cluster-selfsigned.yml.hbs');
  assert.equal(doc.nodes, [
    { address: '10.9.0.11', user: 'rancher', role: ['controlplane', 'etcd', 'worker'], port: 22, ssh_key_path: key },
    { address: '10.9.0.12', user: 'rancher', role: ['controlplane', 'etcd', 'worker'], port: 22, ssh_key_path: key },
    { address: '10.9.0.13', user: 'ops', role: ['controlplane', 'etcd', 'worker'], port: 2222, ssh_key_path: key },
  ]);
});

test('every template: etcd snapshots as RKE reads them (snapshot/creation/retention, no ignored backup key)', () => {
  for (const t of TEMPLATES) {
    assert.equal((render(t).doc.services as any).etcd, { snapshot: true, creation: '6h', retention: '24h' }, t);
    assert.is((render(t, '  etcd_snapshot: false\n').doc.services as any).etcd.snapshot, false, t);
    assert.is((render(t, '  etcd_backup: false\n').doc.services as any).etcd.snapshot, false, `${t}: the older var still turns them off`);
  }
});

test('every template: add-ons in rke-templates\' API versions (extensions/v1beta1), served by Rancher v2.0.x\'s Kubernetes v1.11', () => {
  for (const t of TEMPLATES) {
    const { doc, addons } = render(t);
    assert.equal(unservedAddonProblems(String(doc.addons), 'v1.11.1-rancher1-1'), [], t);
    const dep = addons.find((a) => a.kind === 'Deployment')!;
    assert.is(dep.apiVersion, 'extensions/v1beta1', t);
    const ing = addons.find((a) => a.kind === 'Ingress')!;
    assert.is(ing.apiVersion, 'extensions/v1beta1', t);
    assert.equal(ing.spec.rules[0].http.paths[0].backend, { serviceName: 'cattle-service', servicePort: 80 }, t);
    // On RKE v1.x's Kubernetes they would not be served: validate refuses that pair (support-matrix.test.ts).
    assert.is(unservedAddonProblems(String(doc.addons), 'v1.26.8-rancher1-1').length, 2, t);
  }
});

test('ignore_docker_version goes into every cluster config when set (RKE then only warns about Docker)', () => {
  for (const t of [...TEMPLATES, 'rancher-cluster-nodes.yml.hbs']) {
    assert.not.ok('ignore_docker_version' in render(t).doc, t);
    assert.is(render(t, '  ignore_docker_version: true\n').doc.ignore_docker_version, true, t);
  }
});

test('L4 with a certificate from a recognised CA (no ca_cert): Rancher gets --no-cacerts, as in rke-templates 3-node-certificate-recognizedca.yml', () => {
  const pod = render('rancher-cluster-l4.yml.hbs', '', false).addons.find((a) => a.kind === 'Deployment')!.spec.template.spec;
  assert.equal(pod.containers[0].args, ['--no-cacerts'], 'without it Rancher publishes its own CA and agents\' CA checksum fails');
  assert.is(pod.volumes, undefined, 'no cattle-keys-server mount');
  const own = render('rancher-cluster-l4.yml.hbs').addons.find((a) => a.kind === 'Deployment')!.spec.template.spec;
  assert.is(own.containers[0].args, undefined, 'a private CA (ca_cert) is published: no --no-cacerts');
});

test('layer 7 templates: ingress-nginx trusts the LB\'s X-Forwarded-Proto (use-forwarded-headers); layer 4 does not need it', () => {
  for (const t of TEMPLATES.slice(0, 2)) {
    assert.equal(render(t).doc.ingress, { provider: 'nginx', options: { 'use-forwarded-headers': 'true' } }, t);
  }
  assert.equal(render('rancher-cluster-l4.yml.hbs').doc.ingress, { provider: 'nginx' });
});

test('kubernetes_version only when the var is set; agent auth where no key path is set (never ssh_key_path: null)', () => {
  for (const t of TEMPLATES) {
    assert.not.ok('kubernetes_version' in render(t).doc, t);
    assert.is(render(t, '  kubernetes_version: v1.25.13-rancher1-1\n').doc.kubernetes_version, 'v1.25.13-rancher1-1', t);
  }
  const file = join(dir, 'inv-agent.yml');
  writeFileSync(file, readFileSync(inventory(), 'utf8').replace(`  ssh_key_path: ${key}\n`, ''));
  const inv = loadInventory(file);
  const scope = templateScope(inv, 'localhost', { ...inv.vars, __dir: dir }, {});
  const text = renderString(readFileSync(templatePath('rancher-cluster-recognizedca.yml.hbs'), 'utf8'), scope);
  assert.not.match(text, /ssh_key_path/);
  for (const n of (parse(text) as any).nodes) assert.is(n.ssh_agent_auth, true);
});

test('self-signed: addons in the RKE add-on install order, FQDN, version, single-line base64 CA mounted', () => {
  const { addons, text } = render('rancher-cluster-selfsigned.yml.hbs');
  assert.equal(kinds(addons), ORDER);
  const secret = addons[3]!;
  const b64 = secret.data['cacerts.pem'] as string;
  assert.not.match(b64, /\s/);
  assert.is(Buffer.from(b64, 'base64').toString('utf8'), readFileSync(pki.ca, 'utf8'));
  const ingress = addons[5]!;
  assert.is(ingress.spec.rules[0].host, 'rancher.example.com');
  assert.is(ingress.metadata.annotations['nginx.ingress.kubernetes.io/ssl-redirect'], 'false');
  assert.is(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'], '1800');
  const pod = addons[6]!.spec.template.spec;
  assert.is(pod.containers[0].image, 'rancher/rancher:v2.0.6');
  assert.is(pod.containers[0].imagePullPolicy, 'Always');
  assert.is(pod.containers[0].livenessProbe.httpGet.path, '/ping');
  assert.is(pod.containers[0].volumeMounts[0].mountPath, '/etc/rancher/ssl');
  assert.is(pod.volumes[0].secret.secretName, 'cattle-keys-server');
  assert.is(pod.containers[0].env, undefined, 'no proxy env without vars.proxy');
  assert.not.ok(text.includes('{{'), 'nothing left unrendered');
});

test('proxy vars add HTTP_PROXY/HTTPS_PROXY/NO_PROXY (with every node) to the cattle Deployment', () => {
  const { addons } = render('rancher-cluster-selfsigned.yml.hbs', '  proxy: { http: "http://10.9.0.7:3128", https: "http://10.9.0.7:3128" }\n');
  const env = Object.fromEntries((addons[6]!.spec.template.spec.containers[0].env as { name: string; value: string }[]).map((e) => [e.name, e.value]));
  assert.is(env.HTTP_PROXY, 'http://10.9.0.7:3128');
  assert.is(env.HTTPS_PROXY, 'http://10.9.0.7:3128');
  const np = env.NO_PROXY!.split(',');
  for (const want of ['localhost', '127.0.0.1', '0.0.0.0', '10.0.0.0/8', 'cattle-system.svc', '.svc', '.cluster.local', '10.9.0.11', '10.9.0.12', '10.9.0.13']) {
    assert.ok(np.includes(want), `NO_PROXY has ${want}`);
  }
});

test('recognised CA: no secret and no mount, otherwise the same order', () => {
  const { addons } = render('rancher-cluster-recognizedca.yml.hbs');
  assert.equal(kinds(addons), ORDER.filter((k) => !k.startsWith('Secret/')));
  const pod = addons.at(-1)!.spec.template.spec;
  assert.is(pod.volumes, undefined);
  assert.is(pod.containers[0].volumeMounts, undefined);
  assert.is(pod.containers[0].image, 'rancher/rancher:v2.0.6');
  assert.equal(pod.containers[0].args, ['--no-cacerts'], 'Rancher publishes no CA of its own');
  const self = render('rancher-cluster-selfsigned.yml.hbs').addons.at(-1)!.spec.template.spec;
  assert.is(self.containers[0].args, undefined, 'the self-signed install publishes its CA');
});

test('L4: ingress terminates TLS with the chain and key as a TLS secret', () => {
  const { addons } = render('rancher-cluster-l4.yml.hbs');
  assert.equal(kinds(addons), [ORDER[0], ORDER[1], ORDER[2], 'Secret/cattle-keys-ingress', ...ORDER.slice(3)]);
  const tls = addons[3]!;
  assert.is(tls.type, 'kubernetes.io/tls');
  assert.is(Buffer.from(tls.data['tls.crt'], 'base64').toString('utf8'), readFileSync(pki.chain, 'utf8'));
  const ingress = addons.find((a) => a.kind === 'Ingress')!;
  assert.equal(ingress.spec.tls, [{ secretName: 'cattle-keys-ingress', hosts: ['rancher.example.com'] }]);
  assert.is(ingress.metadata.annotations['nginx.ingress.kubernetes.io/ssl-redirect'], undefined, 'the ingress redirects to https itself');
});

test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});
test.run();
