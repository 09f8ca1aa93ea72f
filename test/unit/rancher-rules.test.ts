// The Rancher rules that stop a bad install before anything runs: concrete versions, valid FQDN,
// certificate chain order, etcd quorum, and the small parsers the tasks rely on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import {
  certChainProblems, checkRkeConfig, compareVersions, etcdProblems, fqdnProblems, groupHosts, listParam,
  rancherVersionProblems,
} from '../../tasks/rancher-rules.js';
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
test.run();
