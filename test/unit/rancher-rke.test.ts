// rke-up and backup-kubeconfig on the controller, with the lab's `rke` stand-in
// (lab/fixtures/rke-fixture: parses the config, prints RKE's log lines, writes the kubeconfig and
// .rkestate). Covers the pre-checks, the skip when nothing changed, FATA reporting, check-mode
// purity, and backups (checksums verified with the real sha256sum, modes, pruning, verify mode).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/testing.js';
import rkeUp from '../../tasks/rke-up.js';
import backup from '../../tasks/backup-kubeconfig.js';
import { makePki } from './rancher-pki.js';

const FIXTURE = resolve('lab/fixtures/rke-fixture');

function workdir(etcdNodes = 3): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), 'rp-rke-'));
  const key = join(dir, 'id_rsa');
  writeFileSync(key, 'key\n', { mode: 0o600 });
  const nodes = [1, 2, 3].map((i) => `  - address: 10.9.0.1${i}\n    user: rancher\n    role: [controlplane, ${i <= etcdNodes ? 'etcd, ' : ''}worker]\n    ssh_key_path: ${key}\n`);
  const config = join(dir, 'rancher-cluster.yml');
  writeFileSync(config, `nodes:\n${nodes.join('')}addons: |-\n  ---\n  kind: Namespace\n  apiVersion: v1\n  metadata:\n    name: cattle-system\n`);
  return { dir, config };
}

const files = (dir: string) => readdirSync(dir).sort();

test('rke-up: runs rke, streams its log, writes kubeconfig/rkestate 0600; second run skipped; force reruns', async () => {
  const { dir, config } = workdir();
  const r = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(r.status, 'changed', r.msg);
  assert.ok(r.logs.includes('INFO[0000] Building Kubernetes cluster'), 'log streamed');
  assert.ok(r.logs.some((l) => /\[dialer\] Setup tunnel for host \[10\.9\.0\.11\]/.test(l)));
  assert.match(r.msg, /Finished building Kubernetes cluster successfully/);
  for (const f of ['kube_config_rancher-cluster.yml', 'rancher-cluster.rkestate']) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);

  const again = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(again.status, 'ok');
  assert.match(again.msg, /unchanged since the last successful rke up/);
  assert.equal(again.logs, [], 'rke not run');

  assert.is((await runTask(rkeUp, { config, binary: FIXTURE, force: true })).status, 'changed');
  writeFileSync(config, readFileSync(config, 'utf8') + '# edited\n');
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed', 'a changed config runs again');
  rmSync(join(dir, 'rancher-cluster.rkestate'));
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed', 'a missing .rkestate runs again');
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up: even etcd count and missing ssh key fail before rke runs', async () => {
  const even = workdir(2);
  const r = await runTask(rkeUp, { config: even.config, binary: FIXTURE });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /2 etcd nodes: etcd needs an odd number of members for quorum/);
  assert.not.ok(existsSync(join(even.dir, 'kube_config_rancher-cluster.yml')));

  const nokey = workdir();
  rmSync(join(nokey.dir, 'id_rsa'));
  const k = await runTask(rkeUp, { config: nokey.config, binary: FIXTURE });
  assert.is(k.status, 'failed');
  assert.match(k.msg, /ssh_key_path .*id_rsa does not exist on the controller/);
  const nobin = await runTask(rkeUp, { config: even.config.replace('rancher-cluster', 'x'), binary: FIXTURE });
  assert.match(nobin.msg, /not found: render it first/);
  rmSync(even.dir, { recursive: true, force: true });
  rmSync(nokey.dir, { recursive: true, force: true });
});

test('rke-up: RKE failing with a FATA line fails the task with that line', async () => {
  const { dir, config } = workdir();
  const wrapper = join(dir, 'rke');
  writeFileSync(wrapper, `#!/bin/sh\nRKE_FIXTURE_FAIL='[network] Can not reach host [10.9.0.12]: connection refused' exec ${FIXTURE} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const r = await runTask(rkeUp, { config, binary: wrapper });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /^rke up failed \(exit 1\): FATA\[\d+\] \[network\] Can not reach host \[10\.9\.0\.12\]: connection refused$/);
  assert.not.ok(existsSync(join(dir, '.rancher-play-rke.json')), 'no success recorded');
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up check mode: pre-checks and the command it would run, nothing written', async () => {
  const { dir, config } = workdir();
  const before = files(dir);
  const r = await runTask(rkeUp, { config, binary: FIXTURE }, { check: true });
  assert.is(r.status, 'changed');
  assert.match(r.msg, /^would run: .*rke-fixture up --config rancher-cluster\.yml/);
  assert.equal(files(dir), before);
  rmSync(dir, { recursive: true, force: true });
});

test('backup-kubeconfig: one verified backup (0700 dir, 0600 files), no new copy when unchanged, prune to keep', async () => {
  const { dir, config } = workdir();
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed');
  const root = join(dir, 'backups');
  const r = await runTask(backup, { config, dir: root, keep: 2 });
  assert.is(r.status, 'changed', r.msg);
  const [first] = files(root);
  assert.ok(first, 'one backup');
  const b = join(root, first!);
  assert.is(statSync(b).mode & 0o777, 0o700);
  assert.equal(files(b), ['SHA256SUMS', 'kube_config_rancher-cluster.yml', 'rancher-cluster.rkestate', 'rancher-cluster.yml']);
  for (const f of files(b)) assert.is(statSync(join(b, f)).mode & 0o777, 0o600, f);
  execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: b, stdio: 'pipe' }); // throws on mismatch
  assert.is(readFileSync(join(b, 'rancher-cluster.rkestate'), 'utf8'), readFileSync(join(dir, 'rancher-cluster.rkestate'), 'utf8'));

  const same = await runTask(backup, { config, dir: root, keep: 2 });
  assert.is(same.status, 'ok');
  assert.is(files(root).length, 1);
  assert.is((await runTask(backup, { config, dir: root, verify: true })).status, 'ok');

  for (let i = 0; i < 3; i++) {
    writeFileSync(config, readFileSync(config, 'utf8') + `# change ${i}\n`);
    assert.is((await runTask(backup, { config, dir: root, keep: 2 })).status, 'changed');
  }
  const kept = files(root);
  assert.is(kept.length, 2, 'pruned to keep');
  assert.not.ok(kept.includes(first!), 'the oldest went first');
  rmSync(dir, { recursive: true, force: true });
});

test('backup-kubeconfig verify: a changed file or loose mode fails, naming it', async () => {
  const { dir, config } = workdir();
  await runTask(rkeUp, { config, binary: FIXTURE });
  const root = join(dir, 'backups');
  await runTask(backup, { config, dir: root });
  const b = join(root, files(root)[0]!);
  writeFileSync(join(b, 'rancher-cluster.rkestate'), '{}\n', { mode: 0o600 });
  const r = await runTask(backup, { config, dir: root, verify: true });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /rancher-cluster\.rkestate does not match its checksum/);
  chmodSync(join(b, 'kube_config_rancher-cluster.yml'), 0o644);
  assert.match((await runTask(backup, { config, dir: root, verify: true })).msg, /kube_config_rancher-cluster\.yml has mode 644, expected 600/);
  rmSync(dir, { recursive: true, force: true });
});

test('backup-kubeconfig before rke-up: failed, or would-back-up in check mode without writing', async () => {
  const { dir, config } = workdir();
  const r = await runTask(backup, { config });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /kube_config_rancher-cluster\.yml.*missing \(run rke-up first\)/);
  assert.is((await runTask(backup, { config }, { check: true })).status, 'changed');
  assert.not.ok(existsSync(join(dir, 'backups')));
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up precheck: the Rancher rules from the inventory stop the run before anything connects', async () => {
  const { dir, config } = workdir();
  const pki = makePki();
  const vars = (over: Record<string, unknown>) => ({
    fqdn: 'rancher.example.com', rancher_version: 'v2.0.6', ca_cert: pki.ca,
    groups: { rancher: ['n1', 'n2', 'n3'] },
    hostvars: { n1: { rke_roles: ['etcd'] }, n2: { rke_roles: ['etcd'] }, n3: { rke_roles: ['etcd'] } },
    ...over,
  });
  const problems = async (over: Record<string, unknown>) => {
    try {
      await runTask(rkeUp, { config, binary: FIXTURE }, { vars: vars(over), check: true });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.is(await problems({}), '');
  assert.match(await problems({ rancher_version: 'latest' }), /rancher_version "latest" is a moving tag/);
  assert.match(await problems({ fqdn: 'rancher' }), /fqdn "rancher" is not a valid/);
  assert.match(await problems({ ca_cert: pki.badChain }), /the server certificate \(rancher\.example\.com\) is at position 2/);
  assert.match(await problems({ hostvars: { n1: { rke_roles: ['etcd'] }, n2: { rke_roles: ['etcd'] }, n3: { rke_roles: ['worker'] } } }),
    /group rancher: 2 etcd nodes: etcd needs an odd number/);
  assert.match(await problems({ hostvars: { n1: { rke_ssh_key_path: join(dir, 'nope') }, n2: {}, n3: {} } }), /n1: ssh_key_path .*nope does not exist/);
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

test.run();
