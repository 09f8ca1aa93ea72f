// rke-up and backup-kubeconfig on the controller, with the lab's `rke` stand-in
// (lab/fixtures/rke-fixture, which behaves as rancher/rke v1.4.11: logrus text format when piped,
// a real SSH tunnel per node — here to a real sshd on 127.0.0.1-3 —, add-on and dropped-host
// warnings with exit 0, RKE's output file names) and with recorded real RKE output. Covers the
// pre-checks, the removed-apiVersion check, the skip when nothing changed, RKE's failure lines in
// both log formats, check-mode purity, and backups (checksums verified with the real sha256sum).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import rkeUp from '../../tasks/rke-up.js';
import backup from '../../tasks/backup-kubeconfig.js';
import { parseRkeLine } from '../../tasks/rancher-rules.js';
import { makePki } from '../unit/rancher-pki.js';
import { cli, tempDir } from '../unit/cli-helpers.js';
import { keygen, scratch, startSshd, type Sshd } from '../unit/ssh-helpers.js';

const FIXTURE = resolve('lab/fixtures/rke-fixture');

// One real sshd on 127.0.0.1, .2 and .3 stands for the three nodes. This machine runs no Docker
// daemon, so the sessions' PATH starts with a `docker` answering `docker version` the way the
// real CLI does with a daemon up (server version) or down (its error, exit 1), per address.
let sshd: Sshd;
let key: string;
const keyDir = scratch();
test.before(async () => {
  key = join(keyDir, 'id_ed25519');
  const pub = keygen(key);
  const bin = join(keyDir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'docker'), `#!/bin/sh
if [ -e ${keyDir}/down-"$(echo $SSH_CONNECTION | cut -d' ' -f3)" ]; then
  echo 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1
fi
[ "$1" = version ] && echo 24.0.7
`, { mode: 0o755 });
  sshd = await startSshd([{ path: key, pub }], `ListenAddress 127.0.0.2\nListenAddress 127.0.0.3\nSetEnv PATH=${bin}:/usr/bin:/bin`);
});
test.after(async () => {
  await sshd.stop();
  rmSync(keyDir, { recursive: true, force: true });
  rmSync(sshd.dir, { recursive: true, force: true });
});

const NAMESPACE = '  ---\n  kind: Namespace\n  apiVersion: v1\n  metadata:\n    name: cattle-system\n';
const OLD_DEPLOYMENT = '  ---\n  kind: Deployment\n  apiVersion: extensions/v1beta1\n  metadata:\n    namespace: cattle-system\n    name: cattle\n';

interface Opts { etcdNodes?: number; name?: string; addons?: string; deadPort?: number[]; extra?: string }
function workdir(o: Opts = {}): { dir: string; config: string } {
  const { etcdNodes = 3, name = 'rancher-cluster.yml', addons = NAMESPACE, deadPort = [], extra = '' } = o;
  const dir = tempDir('rp-rke-');
  const k = join(dir, 'id_rsa');
  writeFileSync(k, readFileSync(key), { mode: 0o600 });
  const nodes = [1, 2, 3].map((i) =>
    `  - address: 127.0.0.${i}\n    port: ${deadPort.includes(i) ? 1 : sshd.port}\n    user: root\n    role: [controlplane, ${i <= etcdNodes ? 'etcd, ' : ''}worker]\n    ssh_key_path: ${k}\n`);
  const config = join(dir, name);
  writeFileSync(config, `nodes:\n${nodes.join('')}${extra}addons: |-\n${addons}`);
  return { dir, config };
}

/** A `rke` whose `up` prints recorded output (real RKE, piped) and exits with `code`; the rest is the fixture. */
function recorded(dir: string, lines: string[], code = 0): string {
  const bin = join(dir, 'rke-recorded');
  const out = join(dir, 'recorded.txt');
  writeFileSync(out, lines.join('\n') + '\n');
  writeFileSync(bin, `#!/bin/sh\nif [ "$1" = up ]; then cat '${out}'; exit ${code}; fi\nexec '${FIXTURE}' "$@"\n`, { mode: 0o755 });
  return bin;
}

const files = (dir: string) => readdirSync(dir).sort();

test('rke-up: runs rke, streams its log, writes kubeconfig/rkestate 0600; second run skipped; force reruns', async () => {
  const { dir, config } = workdir();
  const r = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(r.status, 'changed', r.msg);
  assert.ok(r.logs.some((l) => /^time="[^"]+" level=info msg="Building Kubernetes cluster"$/.test(l)), 'log streamed (logrus text format: stdout is a pipe)');
  assert.ok(r.logs.some((l) => /\[dialer\] Setup tunnel for host \[127\.0\.0\.1\]/.test(l)));
  assert.match(r.msg, /Finished building Kubernetes cluster successfully/);
  for (const f of ['kube_config_rancher-cluster.yml', 'rancher-cluster.rkestate']) assert.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);

  const again = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(again.status, 'ok');
  assert.match(again.msg, /unchanged since the last successful rke up/);
  assert.equal(again.logs, [], 'rke not run');

  assert.is((await runTask(rkeUp, { config, binary: FIXTURE, force: true })).status, 'changed');

  // An `rke up` run by hand since, of another config under the same name, rewrote the cluster's
  // .rkestate: the config on disk is the one applied last here, but no longer the cluster's.
  const ours = readFileSync(config, 'utf8');
  writeFileSync(config, `ignore_docker_version: true\n${ours}`);
  const byHand = spawnSync(FIXTURE, ['up', '--config', 'rancher-cluster.yml'], { cwd: dir, encoding: 'utf8' });
  assert.is(byHand.status, 0, byHand.stdout + byHand.stderr);
  writeFileSync(config, ours);
  const redo = await runTask(rkeUp, { config, binary: FIXTURE }, { check: true });
  assert.is(redo.status, 'changed', redo.msg);
  assert.match(redo.msg, /rancher-cluster\.rkestate changed since the last successful rke up here .*another rke up ran/);
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed');
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'ok', 'our own run is the last one again');

  writeFileSync(config, readFileSync(config, 'utf8') + '# edited\n');
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed', 'a changed config runs again');
  rmSync(join(dir, 'rancher-cluster.rkestate'));
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed', 'a missing .rkestate runs again');
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up: even etcd count and missing ssh key fail before rke runs', async () => {
  const even = workdir({ etcdNodes: 2 });
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

test('rke-up: a fatal RKE line (logrus text format, msg unquoted) fails the task with RKE\'s words', async () => {
  const { dir, config } = workdir();
  const wrapper = join(dir, 'rke');
  writeFileSync(wrapper, `#!/bin/sh\nRKE_FIXTURE_FAIL='[network] Can not reach host [127.0.0.2]: "connection refused"' exec ${FIXTURE} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const r = await runTask(rkeUp, { config, binary: wrapper });
  assert.is(r.status, 'failed');
  assert.is(r.msg, 'rke up failed (exit 1): [network] Can not reach host [127.0.0.2]: "connection refused"');
  assert.not.ok(existsSync(join(dir, '.rancher-play-rke.json')), 'no success recorded');
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up: a node whose SSH tunnel fails is dropped by RKE, which ends with exit 1 "Provisioning incomplete": the task fails naming it', async () => {
  const { dir, config } = workdir({ deadPort: [3] });
  const r = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(r.status, 'failed', r.msg);
  assert.match(r.msg, /^rke up failed \(exit 1\): Removing host \[127\.0\.0\.3\] from node lists; Provisioning incomplete, host\(s\) \[127\.0\.0\.3\] skipped because they could not be contacted$/);
  assert.ok(r.warnings.some((w) => /^Failed to set up SSH tunneling for host \[127\.0\.0\.3\]: .*Connection refused/.test(w)), r.warnings.join('\n'));
  assert.ok(existsSync(join(dir, 'kube_config_rancher-cluster.yml')), 'RKE itself built the two-node cluster');
  assert.not.ok(existsSync(join(dir, '.rancher-play-rke.json')), 'no success recorded: the next run tries again');
  rmSync(dir, { recursive: true, force: true });

  // SSH works but the node's Docker daemon is down: RKE drops it the same way.
  const down = workdir();
  writeFileSync(join(keyDir, 'down-127.0.0.2'), '');
  const d = await runTask(rkeUp, { config: down.config, binary: FIXTURE });
  rmSync(join(keyDir, 'down-127.0.0.2'));
  assert.match(d.msg, /^rke up failed \(exit 1\): Removing host \[127\.0\.0\.2\] from node lists; Provisioning incomplete/);
  assert.ok(d.warnings.some((w) => /Unable to access the Docker socket .*Is the docker daemon running\?/.test(w)), d.warnings.join('\n'));
  rmSync(down.dir, { recursive: true, force: true });
});

test('rke-up: add-ons Kubernetes no longer serves fail before rke runs, naming object, apiVersion and release', async () => {
  const { dir, config } = workdir({ addons: NAMESPACE + OLD_DEPLOYMENT });
  const r = await runTask(rkeUp, { config, binary: FIXTURE });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /add-on Deployment cattle-system\/cattle uses apiVersion extensions\/v1beta1, which Kubernetes stopped serving in 1\.16 \(cluster: v1\.26\.8-rancher1-1\); use apps\/v1/);
  assert.match(r.msg, /RKE v1\.4\.11 would only warn/);
  assert.equal(r.logs, [], 'rke up not run');
  assert.not.ok(existsSync(join(dir, 'kube_config_rancher-cluster.yml')));
  const check = await runTask(rkeUp, { config, binary: FIXTURE }, { check: true });
  assert.is(check.status, 'failed', 'check mode shows it too');

  // The config's kubernetes_version wins over the RKE default; an Ingress is served until 1.22.
  const ing = '  ---\n  kind: Ingress\n  apiVersion: networking.k8s.io/v1beta1\n  metadata:\n    name: web\n';
  const pinned = workdir({ addons: ing, extra: 'kubernetes_version: v1.23.16-rancher2-3\n' });
  assert.match((await runTask(rkeUp, { config: pinned.config, binary: FIXTURE })).msg, /Ingress web uses apiVersion networking\.k8s\.io\/v1beta1, which Kubernetes stopped serving in 1\.22 \(cluster: v1\.23\.16-rancher2-3\)/);
  rmSync(dir, { recursive: true, force: true });
  rmSync(pinned.dir, { recursive: true, force: true });
});

test('rke-up: what RKE does when handed unserved add-ons anyway: a warning and exit 0, which the task fails', async () => {
  // RKE itself, run directly (rke-up would refuse before running it), then replayed to rke-up.
  const { dir, config } = workdir({ addons: NAMESPACE + OLD_DEPLOYMENT });
  const raw = execFileSync(FIXTURE, ['up', '--config', config], { encoding: 'utf8' });
  const warning = raw.split('\n').map(parseRkeLine).find((l) => l?.level === 'warning');
  assert.equal(warning, {
    level: 'warning',
    msg: 'Failed to deploy addon execute job [rke-user-includes-addons]: Failed to get job complete status for job rke-user-addon-deploy-job in namespace kube-system',
  });
  assert.match(raw, /level=info msg="Finished building Kubernetes cluster successfully"\n$/, 'and RKE exits 0 saying it finished');
  const again = workdir();
  const bin = recorded(again.dir, raw.trim().split('\n'));
  const r = await runTask(rkeUp, { config: again.config, binary: bin });
  assert.is(r.status, 'failed');
  assert.is(r.msg, 'rke up failed (exit 0): Failed to deploy addon execute job [rke-user-includes-addons]: Failed to get job complete status for job rke-user-addon-deploy-job in namespace kube-system');
  // The DNS add-on's failure (rancher/rke cluster/addons.go deployDNS) is logged in other words.
  const dnsDir = workdir();
  const dnsBin = recorded(dnsDir.dir, ['time="2026-12-01T10:00:40Z" level=warning msg="Failed to deploy DNS addon execute job for provider coredns: Failed to get job complete status for job rke-coredns-addon-deploy-job in namespace kube-system"'], 0);
  const dns = await runTask(rkeUp, { config: dnsDir.config, binary: dnsBin });
  assert.is(dns.status, 'failed');
  assert.match(dns.msg, /^rke up failed \(exit 0\): Failed to deploy DNS addon execute job for provider coredns: /);
  rmSync(dnsDir.dir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  rmSync(again.dir, { recursive: true, force: true });
});

test('rke-up: recorded RKE output on a terminal (FATA[0034]) and piped (level=fatal) both fail with RKE\'s text', async () => {
  const { dir, config } = workdir();
  const tty = recorded(dir, ['\x1b[36mINFO\x1b[0m[0000] Running RKE version: v1.4.11', 'WARN[0001] Failed to set up SSH tunneling for host [127.0.0.2]: boom', 'FATA[0034] Failed to get job complete status for job rke-network-plugin-deploy-job in namespace kube-system'], 1);
  const a = await runTask(rkeUp, { config, binary: tty });
  assert.is(a.msg, 'rke up failed (exit 1): Failed to get job complete status for job rke-network-plugin-deploy-job in namespace kube-system');
  assert.equal(a.warnings, ['Failed to set up SSH tunneling for host [127.0.0.2]: boom']);
  const piped = recorded(dir, ['time="2026-12-01T10:00:00Z" level=info msg="Running RKE version: v1.4.11"', 'time="2026-12-01T10:00:34Z" level=fatal msg="Failed to validate cluster: Cluster must have at least one etcd plane host: \\"x\\""'], 1);
  const b = await runTask(rkeUp, { config, binary: piped });
  assert.is(b.msg, 'rke up failed (exit 1): Failed to validate cluster: Cluster must have at least one etcd plane host: "x"');
  rmSync(dir, { recursive: true, force: true });
});

test('in a playbook run: a fatal line and a dropped host exit 2 with RKE\'s own words, in the tree and in --json', () => {
  for (const [what, opts, env, words] of [
    ['fatal', {}, { RKE_FIXTURE_FAIL: '[etcd] Failed to bring up Etcd Plane: etcd cluster is unhealthy' }, '[etcd] Failed to bring up Etcd Plane: etcd cluster is unhealthy'],
    ['dropped', { deadPort: [2] }, {}, 'Removing host [127.0.0.2] from node lists'],
  ] as const) {
    const { dir, config } = workdir(opts);
    const inv = join(dir, 'inv.yml');
    writeFileSync(inv, `hosts:\n  ctl: { connection: local }\nvars:\n  rke_binary: ${FIXTURE}\n`);
    const pb = join(dir, 'pb.yml');
    writeFileSync(pb, `plays:\n  - hosts: ctl\n    tasks:\n      - rke-up: { config: ${config} }\n`);
    const tree = cli(['run', pb, '-i', inv], { env: { ...process.env, ...env } });
    assert.is(tree.code, 2, `${what}: ${tree.stdout}${tree.stderr}`);
    assert.ok(tree.stdout.includes(words), `${what} (tree): ${tree.stdout}`);
    const json = cli(['run', pb, '-i', inv, '--json'], { env: { ...process.env, ...env } });
    assert.is(json.code, 2);
    const ev = json.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((e) => e.id === 'rke-up');
    assert.is(ev.status, 'failed');
    assert.ok(String(ev.msg).includes(words), `${what} (--json): ${ev.msg}`);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('RKE v0.1.9 (the add-on install\'s): its Docker whitelist, no --list-version, no .rkestate; rke-up and backup-kubeconfig cope', async () => {
  process.env.RKE_FIXTURE_VERSION = 'v0.1.9';
  try {
    // The nodes' Docker 24.0.7 is outside v0.1.9's list (1.11.x–17.03.x): RKE stops, naming it.
    const { dir, config } = workdir();
    const r = await runTask(rkeUp, { config, binary: FIXTURE });
    assert.is(r.status, 'failed');
    assert.is(r.msg, 'rke up failed (exit 1): Unsupported Docker version found [24.0.7], supported versions are [1.11.x 1.12.x 1.13.x 17.03.x]');
    // ignore_docker_version: true (what the playbooks' var renders): only RKE's warning.
    writeFileSync(config, `ignore_docker_version: true\n${readFileSync(config, 'utf8')}`);
    const ok = await runTask(rkeUp, { config, binary: FIXTURE });
    assert.is(ok.status, 'changed', ok.msg);
    assert.ok(ok.warnings.some((w) => w.startsWith('Unsupported Docker version found [24.0.7]')), ok.warnings.join('\n'));
    // No `config --list-version` asked (v0.1.9 has none): its default from the matrix.
    assert.ok(ok.logs.length > 0);
    assert.equal(files(dir).filter((f) => f.endsWith('.rkestate')), [], 'v0.1.9 writes no .rkestate');
    const again = await runTask(rkeUp, { config, binary: FIXTURE });
    assert.is(again.status, 'ok', again.msg);
    assert.match(again.msg, /kube_config_rancher-cluster\.yml present \(RKE v0\.1\.9, Kubernetes v1\.11\.1-rancher1-1\)$/);
    const b = await runTask(backup, { config });
    assert.is(b.status, 'changed', b.msg);
    const stamp = readdirSync(join(dir, 'backups'))[0]!;
    assert.equal(readdirSync(join(dir, 'backups', stamp)).sort(), ['SHA256SUMS', 'kube_config_rancher-cluster.yml', 'rancher-cluster.yml']);
    assert.is((await runTask(backup, { config })).status, 'ok');
    rmSync(dir, { recursive: true, force: true });
  } finally {
    delete process.env.RKE_FIXTURE_VERSION;
  }
});

test('rke fixture: ssh_agent_auth nodes are reached through the agent (SSH_AUTH_SOCK), as RKE does', () => {
  const { dir, config } = workdir();
  writeFileSync(config, readFileSync(config, 'utf8').replace(/    ssh_key_path: .*\n/g, '    ssh_agent_auth: true\n'));
  const sock = join(dir, 'agent.sock');
  const agent = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
  const pid = /SSH_AGENT_PID=(\d+)/.exec(agent)![1]!;
  try {
    const env = { ...process.env, SSH_AUTH_SOCK: sock };
    const empty = spawnSync(FIXTURE, ['up', '--config', config], { encoding: 'utf8', env });
    assert.is(empty.status, 1, 'no etcd host left');
    assert.match(empty.stdout, /level=warning msg="Removing host \[127\.0\.0\.1\] from node lists"/, 'an empty agent reaches nothing');
    execFileSync('ssh-add', ['-q', key], { env, stdio: 'ignore' });
    const out = execFileSync(FIXTURE, ['up', '--config', config], { encoding: 'utf8', env });
    assert.not.match(out, /level=warning/);
    assert.match(out, /Finished building Kubernetes cluster successfully/);
  } catch (e) {
    throw new Error(`${(e as { stdout?: string }).stdout ?? ''}${(e as Error).message}`);
  } finally {
    process.kill(Number(pid));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rke fixture: on a terminal it logs INFO[0000] as logrus does; --version and --list-version as RKE prints them', () => {
  const { dir, config } = workdir();
  const out = execFileSync('script', ['-qec', `${FIXTURE} up --config ${config}`, '/dev/null'], { encoding: 'utf8' });
  assert.match(out, /^\x1b\[36mINFO\x1b\[0m\[0000\] Running RKE version: v1\.4\.11\r?$/m);
  assert.is(parseRkeLine(out.split(/\r?\n/)[0]!)?.msg, 'Running RKE version: v1.4.11');
  assert.is(execFileSync(FIXTURE, ['--version'], { encoding: 'utf8' }), 'rke version v1.4.11\n');
  assert.is(execFileSync(FIXTURE, ['config', '--list-version'], { encoding: 'utf8' }), 'v1.26.8-rancher1-1\n');
  assert.ok(execFileSync(FIXTURE, ['config', '--list-version', '--all'], { encoding: 'utf8' }).split('\n').length > 2);
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up: output names as RKE derives them (cluster.yaml keeps its extension); skip and backup work', async () => {
  const { dir, config } = workdir({ name: 'cluster.yaml' });
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed');
  assert.ok(existsSync(join(dir, 'kube_config_cluster.yaml')), files(dir).join(' '));
  assert.ok(existsSync(join(dir, 'cluster.rkestate')));
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'ok', 'second run skipped');
  const b = await runTask(backup, { config, dir: join(dir, 'backups') });
  assert.is(b.status, 'changed', b.msg);
  const [one] = files(join(dir, 'backups'));
  assert.equal(files(join(dir, 'backups', one!)), ['SHA256SUMS', 'cluster.rkestate', 'cluster.yaml', 'kube_config_cluster.yaml']);
  rmSync(dir, { recursive: true, force: true });
});

test('rke-up check mode: pre-checks and the command it would run, nothing written', async () => {
  const { dir, config } = workdir();
  const before = files(dir);
  const r = await runTask(rkeUp, { config, binary: FIXTURE }, { check: true });
  assert.is(r.status, 'changed');
  assert.match(r.msg, /^would run: .*rke-fixture up --config rancher-cluster\.yml .*\(RKE v1\.4\.11, Kubernetes v1\.26\.8-rancher1-1\)$/);
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
  // The add-on install (ha-l7/ha-l4) stops at Rancher v2.0.8; a nodes-only cluster does not care.
  assert.is(await problems({ rancher_version: 'v2.4.8' }), '');
  const addon = async (v: string) => {
    try {
      await runTask(rkeUp, { config, binary: FIXTURE, rancher_addons: true }, { vars: vars({ rancher_version: v }), check: true });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  // RKE v1.4.11 ships no Kubernetes Rancher v2.0.x runs on; RKE v0.1.9 (its default v1.11.1) does.
  assert.match(await addon('v2.0.8'), /rke v1\.4\.11 ships no Kubernetes that Rancher v2\.0\.x supports/);
  const old = join(dir, 'rke-v0.1.9');
  writeFileSync(old, `#!/bin/sh\nexport RKE_FIXTURE_VERSION=v0.1.9\nexec '${FIXTURE}' "$@"\n`, { mode: 0o755 });
  const addonOld = async (v: string) => {
    try {
      await runTask(rkeUp, { config, binary: old, rancher_addons: true }, { vars: vars({ rancher_version: v }), check: true });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  assert.is(await addonOld('v2.0.8'), '');
  assert.match(await addonOld('v2.0.9'), /rancher_version v2\.0\.9 is above v2\.0\.8, .*playbooks\/ha-helm\.yml/);
  rmSync(dir, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

test.run();
