// Files that hold credentials — the cluster config with its TLS key, RKE's
// kubeconfig and .rkestate, their backups — are 0600 (directories 0700) and owned as configured;
// `backup-kubeconfig` with `verify: true` checks SHA256SUMS and fails on a tampered, missing or
// loosened file. On the controller (`localhost`), with the lab's rke stand-in (lab/fixtures).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events, project, root } from './cli-helpers.js';

const p = project(1);
const work = join(p.dir, 'cluster');
const key = join(p.dir, 'node_key');
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
const daemonUid = Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' }).trim());

p.write('cluster.yml.hbs', `nodes:
{{#each nodes}}
  - { address: {{this}}, user: rancher, role: [controlplane, etcd, worker], ssh_key_path: {{../key}} }
{{/each}}
# stands for the embedded TLS key of the ha-l4 config
tls_key_b64: {{b64 secret_key}}
`);
const site = p.write('site.yml', `name: files
vars: { work: ${JSON.stringify(work)}, key: ${JSON.stringify(key)}, nodes: [10.0.0.11, 10.0.0.12, 10.0.0.13], secret_key: "-----BEGIN PRIVATE KEY-----" }
plays:
  - name: cluster
    hosts: localhost
    tasks:
      - command: { cmd: "mkdir -p -m 0700 {{work}}", creates: "{{work}}" }
      - render-template: { src: cluster.yml.hbs, dest: "{{work}}/rancher-cluster.yml", mode: "0600", owner: "daemon:daemon" }
      - rke-up: { config: "{{work}}/rancher-cluster.yml", binary: ${JSON.stringify(join(root, 'lab', 'fixtures', 'rke-fixture'))} }
      - backup-kubeconfig: { config: "{{work}}/rancher-cluster.yml", dir: "{{work}}/backups", keep: 2 }
`);
const verify = p.write('verify.yml', `name: verify
plays:
  - name: verify
    hosts: localhost
    tasks:
      - backup-kubeconfig: { config: ${JSON.stringify(join(work, 'rancher-cluster.yml'))}, dir: ${JSON.stringify(join(work, 'backups'))}, verify: true }
`);

const mode = (f: string): number => statSync(f).mode & 0o777;
const newestBackup = (): string => {
  const dirs = readdirSync(join(work, 'backups')).sort();
  return join(work, 'backups', dirs[dirs.length - 1]!);
};

test('cluster config, kubeconfig, rkestate: 0600, the config owned as configured; backups 0600 in 0700', () => {
  const r = cli(['run', site, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const cfg = join(work, 'rancher-cluster.yml');
  assert.is(mode(cfg), 0o600);
  assert.is(statSync(cfg).uid, daemonUid, 'owner daemon');
  assert.is(mode(join(work, 'kube_config_rancher-cluster.yml')), 0o600);
  assert.is(mode(join(work, 'rancher-cluster.rkestate')), 0o600);
  assert.is(mode(work), 0o700);
  const b = newestBackup();
  assert.is(mode(b), 0o700);
  assert.equal(readdirSync(b).sort(), ['SHA256SUMS', 'kube_config_rancher-cluster.yml', 'rancher-cluster.rkestate', 'rancher-cluster.yml']);
  for (const f of readdirSync(b)) assert.is(mode(join(b, f)), 0o600, f);
  // SHA256SUMS is in sha256sum's own format: the system tool agrees with it.
  execFileSync('sha256sum', ['--check', '--quiet', 'SHA256SUMS'], { cwd: b });
  // No temp file beside any of them.
  for (const d of [work, b]) assert.equal(readdirSync(d).filter((f) => /\.rp-|\.tmp/.test(f)), [], d);
});

test('a second run changes nothing and makes no new backup', () => {
  const before = readdirSync(join(work, 'backups'));
  const r = cli(['run', site, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const { recap } = events(r.stdout);
  assert.is(recap.hosts.localhost!.changed, 0);
  assert.equal(readdirSync(join(work, 'backups')), before);
});

test('verify: an intact backup passes', () => {
  const r = cli(['run', verify, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.match(events(r.stdout).tasks[0]!.msg, /verified \(3 files match SHA256SUMS\)/);
});

test('verify: a tampered kubeconfig fails, naming the file', () => {
  const f = join(newestBackup(), 'kube_config_rancher-cluster.yml');
  const orig = readFileSync(f);
  appendFileSync(f, '# tampered\n');
  try {
    const r = cli(['run', verify, '-i', p.inventory, '--json']);
    assert.is(r.code, 2, r.stderr + r.stdout);
    const ev = events(r.stdout).tasks[0]!;
    assert.is(ev.status, 'failed');
    assert.match(ev.msg, /kube_config_rancher-cluster\.yml does not match its checksum/);
  } finally {
    writeFileSync(f, orig);
    chmodSync(f, 0o600);
  }
});

test('verify: a loosened mode, a missing file or a missing SHA256SUMS fails', () => {
  const b = newestBackup();
  const state = join(b, 'rancher-cluster.rkestate');
  chmodSync(state, 0o644);
  let r = cli(['run', verify, '-i', p.inventory, '--json']);
  assert.is(r.code, 2, r.stdout);
  assert.match(events(r.stdout).tasks[0]!.msg, /rancher-cluster\.rkestate has mode 644, expected 600/);
  chmodSync(state, 0o600);

  const saved = readFileSync(state);
  rmSync(state);
  r = cli(['run', verify, '-i', p.inventory, '--json']);
  assert.is(r.code, 2, r.stdout);
  assert.match(events(r.stdout).tasks[0]!.msg, /rancher-cluster\.rkestate is missing/);
  writeFileSync(state, saved, { mode: 0o600 });

  const sums = join(b, 'SHA256SUMS');
  const savedSums = readFileSync(sums);
  rmSync(sums);
  r = cli(['run', verify, '-i', p.inventory, '--json']);
  assert.is(r.code, 2, r.stdout);
  assert.match(events(r.stdout).tasks[0]!.msg, /SHA256SUMS is missing/);
  writeFileSync(sums, savedSums, { mode: 0o600 });
  assert.is(cli(['run', verify, '-i', p.inventory]).code, 0, 'restored backup verifies again');
  assert.ok(existsSync(state));
});

test('rewriting an existing private file without `mode:` keeps it private (and its owner)', () => {
  const f = join(p.dir, 'token');
  writeFileSync(f, 'old-token\n', { mode: 0o600 });
  chmodSync(f, 0o600);
  execFileSync('chown', ['daemon:daemon', f]);
  const pb = p.write('rewrite.yml', `name: rewrite
plays:
  - name: p
    hosts: localhost
    tasks:
      - copy: { content: "new-token\\n", dest: ${JSON.stringify(f)} }
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.is(readFileSync(f, 'utf8'), 'new-token\n');
  assert.is(mode(f), 0o600, 'the mode was not loosened');
  assert.is(statSync(f).uid, daemonUid, 'the owner was kept');
});

test('rke-up: kubeconfig and .rkestate are 0600 also after a failed rke up (and rke runs under umask 077)', () => {
  const p = project(1);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(p.dir, 'key')]);
  // An rke that writes both files world-readable, then fails (what a half-done `rke up` leaves).
  const rke = p.write('rke', `#!/bin/sh
case "$1" in
  --version) echo "rke version v1.4.11" ;;
  config) echo "v1.26.8-rancher1-1" ;;
  up) umask > umask.seen; echo "apiVersion: v1" > kube_config_cluster.yml; echo "{}" > cluster.rkestate
      chmod 644 kube_config_cluster.yml cluster.rkestate
      echo 'time="2024-01-01T00:00:00Z" level=fatal msg="Failed to bring up"' >&2; exit 1 ;;
esac
`);
  chmodSync(rke, 0o755);
  p.write('cluster.yml', `kubernetes_version: v1.26.8-rancher1-1
nodes:
  - { address: 10.0.0.1, user: root, role: [controlplane, etcd, worker], ssh_key_path: ${join(p.dir, 'key')} }
`);
  const pb = p.write('pb.yml', `name: rke
plays:
  - name: p
    hosts: localhost
    tasks:
      - rke-up: { config: cluster.yml, binary: ${rke} }
`);
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /rke up failed \(exit 1\): Failed to bring up/);
  for (const f of ['kube_config_cluster.yml', 'cluster.rkestate']) assert.is(statSync(join(p.dir, f)).mode & 0o777, 0o600, f);
  assert.is(readFileSync(join(p.dir, 'umask.seen'), 'utf8').trim(), '0077');
});

test.run();
