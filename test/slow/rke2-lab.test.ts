// playbooks/ha-rke2.yml on fresh labs of its own, through the CLI with --json. The install
// script is rke2's own install.sh (lab/fixtures/upstream), fetched through the lab's real
// tinyproxy from the lab "internet" (get.rke2.io, github.com release assets over HTTPS from the
// lab CA); the rke2 binary it unpacks is the stand-in (lab/fixtures/rke2-server.mjs) started by
// the lab's systemctl with the unit's environment file. The servers' log (logs/rke2.log) shows
// when each one started and became Ready.
// - fresh lab: check predicts exactly what the run changes; the run is green and ends with
//   /ping → pong through the LB; node2 and node3 start only after node1 is Ready, one at a time;
//   a rerun and a check change nothing; the kubeconfig on the controller is 0600 and points at
//   https://FQDN:6443;
// - upgrade (-e rke2_version=…): every server restarts on the new release, one at a time, green;
// - a config key the server does not know is exit 5 before anything connects;
// - a wrong token, a joiner with no first server up, and a server without the proxy each fail
//   with rke2's own message and a hint naming the fix.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, useLab, type LabInfo } from '../lab/_lab.js';

const NAME = 'k2';
const NAME_K3S = 'k3';
const workK3s = mkdtempSync(join(tmpdir(), 'rp-k3s-lab-'));
const OLD = 'v1.28.14+rke2r1';
const NEW = 'v1.28.15+rke2r1';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-rke2-lab-'));

interface TaskEv { event: 'task'; id: string; task?: string; host: string; status: string; changed: boolean; msg: string }
interface Recap { event: 'recap'; hosts: Record<string, { ok: number; changed: number; failed: number; skipped: number; unreachable: number }> }
interface Run { code: number; tasks: TaskEv[]; recap?: Recap; stdout: string; stderr: string }

function cli(args: string[]): Run {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const events = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv | Recap);
  return {
    code: r.status ?? -1,
    tasks: events.filter((e): e is TaskEv => e.event === 'task'),
    recap: events.find((e): e is Recap => e.event === 'recap'),
    stdout: r.stdout ?? '', stderr: r.stderr ?? '',
  };
}
const play = (verb: 'run' | 'check' | 'validate', extra: string[] = []) =>
  cli([verb, 'playbooks/ha-rke2.yml', '-i', info.inventory, '-e', `work_dir=${work}`, ...extra]);
const changedSet = (r: Run) => r.tasks.filter((t) => t.changed).map((t) => `${t.host} ${t.task}`).sort();
const totalChanged = (r: Run) => Object.values(r.recap?.hosts ?? {}).reduce((n, h) => n + h.changed, 0);
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}`;
const failed = (r: Run) => r.tasks.filter((t) => t.status === 'failed');

/** The servers' start/Ready lines since `from` (lines of logs/rke2.log). */
function events(from = 0): { node: string; what: string }[] {
  let text = '';
  try { text = readFileSync(join(info.dir, 'logs', 'rke2.log'), 'utf8'); } catch { /* none yet */ }
  return text.split('\n').filter(Boolean).slice(from).map((l) => {
    const [, node = '', , ...rest] = l.split(' ');
    return { node, what: rest.join(' ') };
  });
}
const logLength = () => events().length;
async function sh(host: string, cmd: string) {
  const r = await lab.labExec(host, cmd, info.name);
  assert.is(r.code, 0, `${host}: ${cmd}: ${r.stderr}`);
  return r.stdout;
}
/** The order servers started and became Ready in: each server Ready before the next one starts. */
function assertOneAtATime(ev: { node: string; what: string }[], order: string[]) {
  const seq = ev.filter((e) => /^(starting|Ready)/.test(e.what)).map((e) => `${e.node} ${e.what.split(' ')[0]}`);
  assert.equal(seq, order.flatMap((n) => [`${n} starting`, `${n} Ready`]), `servers one at a time:\n${seq.join('\n')}`);
}

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
});
test.after(async () => {
  await lab.labDown(NAME);
  await lab.labDown(NAME_K3S);
  rmSync(work, { recursive: true, force: true });
  rmSync(workK3s, { recursive: true, force: true });
});

test('fresh lab: check predicts the run; the run is green, servers join one at a time after the first is Ready, /ping through the LB', async () => {
  const predicted = play('check', ['-e', `rke2_version=${OLD}`]);
  assert.is(predicted.code, 0, show(predicted));
  assert.equal(events(), [], 'check starts no server');
  const r = play('run', ['-e', `rke2_version=${OLD}`]);
  assert.is(r.code, 0, show(r));
  assert.equal(changedSet(r), changedSet(predicted), 'check predicted the changed set');
  const verify = r.tasks.at(-1)!;
  assert.is(verify.id, 'verify-rancher');
  assert.is(verify.status, 'ok', verify.msg);
  assertOneAtATime(events(), ['node1', 'node2', 'node3']);
  // Upstream's files, as the stand-in and the install script left them.
  assert.match(await sh('node2', `sudo cat /etc/rancher/rke2/config.yaml`), new RegExp(`server: https://${info.fqdn}:9345`));
  assert.not.match(await sh('node1', `sudo cat /etc/rancher/rke2/config.yaml`), /server:/);
  assert.match(await sh('node1', 'sudo cat /etc/default/rke2-server'), /^HTTPS_PROXY=http:\/\/.*\nNO_PROXY=.*10\.42\.0\.0\/16,10\.43\.0\.0\/16,\.svc,\.cluster\.local/m);
  assert.match(await sh('node1', 'sudo cat /var/lib/rancher/rke2/server/manifests/rke2-ingress-nginx-config.yaml'), /name: rke2-ingress-nginx[\s\S]*use-forwarded-headers: "true"/);
  assert.match(await sh('node1', 'sudo stat -c %a /etc/rancher/rke2/rke2.yaml'), /^600/);
  const kube = join(work, 'kube_config_rke2.yaml');
  assert.is(statSync(kube).mode & 0o777, 0o600);
  assert.match(readFileSync(kube, 'utf8'), new RegExp(`server: https://${info.fqdn.replace(/\./g, '\\.')}:6443`));
  assert.not.match(readFileSync(kube, 'utf8'), /127\.0\.0\.1/);
  // The downloads went through the real proxy.
  assert.match(readFileSync(info.proxy.log, 'utf8'), /get\.rke2\.io:443/);
});

test('a rerun changes nothing, and neither does check', () => {
  const before = logLength();
  const again = play('run', ['-e', `rke2_version=${OLD}`]);
  assert.is(again.code, 0, show(again));
  assert.is(totalChanged(again), 0, show(again));
  const check = play('check', ['-e', `rke2_version=${OLD}`]);
  assert.is(check.code, 0, show(check));
  assert.is(totalChanged(check), 0, show(check));
  assert.equal(events(before), [], 'no server restarted');
});

test('upgrade: -e rke2_version restarts one server at a time, each Ready before the next, green', async () => {
  const from = logLength();
  const r = play('run', ['-e', `rke2_version=${NEW}`]);
  assert.is(r.code, 0, show(r));
  const ev = events(from);
  const seq = ev.map((e) => `${e.node} ${e.what.split(' ')[0]}`);
  assert.equal(seq, ['node1', 'node2', 'node3'].flatMap((n) => [`${n} stopped`, `${n} starting`, `${n} Ready`]), seq.join('\n'));
  assert.ok(ev.filter((e) => e.what.startsWith('Ready')).every((e) => e.what.includes(NEW)), 'every server on the new release');
  assert.match(await sh('node3', '/opt/rke2/bin/rke2 --version'), new RegExp(`rke2 version ${NEW.replace('+', '\\+')}`));
  assert.is(totalChanged(play('run', ['-e', `rke2_version=${NEW}`])), 0);
});

test('a config key rke2 does not know is refused before anything connects (exit 5)', () => {
  const from = logLength();
  const r = play('run', ['-e', `rke2_version=${NEW}`, '-e', '{"rke2_config": {"tls-sans": ["other.example.com"]}}']);
  assert.is(r.code, 5, show(r));
  assert.match(r.stderr, /rke2-server\.config\.tls-sans \(extra_config\): `rke2 server` has no flag --tls-sans/);
  assert.match(r.stderr, /Unknown flag --tls-sans found in config\.yaml, skipping/);
  assert.match(r.stderr, /did you mean tls-san\?/);
  assert.equal(events(from), []);
});

test('a joiner with another token fails with rke2\'s 401 and the hint to use the first server\'s token', async () => {
  await sh('node2', 'sudo systemctl stop rke2-server && sudo rm -rf /var/lib/rancher/rke2/server');
  const r = play('run', ['-e', `rke2_version=${NEW}`, '-e', 'rke2_token=not-the-cluster-token', '--limit', 'node2']);
  assert.is(r.code, 2, show(r));
  const [f] = failed(r);
  assert.match(f!.msg, /failed to validate server configuration: https:\/\/rancher\.lab\.test:9345\/v1-rke2\/config: 401 Unauthorized/);
  assert.match(f!.msg, /give every server the same token/);
  assert.not.match(r.stdout, /not-the-cluster-token/);
  // With the cluster's token it joins again.
  const ok = play('run', ['-e', `rke2_version=${NEW}`, '--limit', 'node2']);
  assert.is(ok.code, 0, show(ok));
});

test('a joiner started while no server answers fails with rke2\'s "failed to get CA certs" and the hint to start the first server', async () => {
  await sh('node1', 'sudo systemctl stop rke2-server');
  await sh('node3', 'sudo systemctl stop rke2-server');
  await sh('node2', 'sudo systemctl stop rke2-server && sudo rm -rf /var/lib/rancher/rke2/server');
  const r = play('run', ['-e', `rke2_version=${NEW}`, '--limit', 'node2']);
  assert.is(r.code, 2, show(r));
  const [f] = failed(r);
  assert.match(f!.msg, /failed to get CA certs: Get "https:\/\/rancher\.lab\.test:9345\/cacerts"/);
  assert.match(f!.msg, /the first server must be started and Ready before others join/);
  await sh('node1', 'sudo systemctl start rke2-server');
  await sh('node3', 'sudo systemctl start rke2-server');
  assert.is(play('run', ['-e', `rke2_version=${NEW}`]).code, 0);
});

test('a server without the proxy in its environment file cannot pull its runtime image: rke2\'s message and the hint', async () => {
  await sh('node3', 'sudo systemctl stop rke2-server && sudo rm -rf /var/lib/rancher/rke2/server /etc/default/rke2-server');
  const r = play('run', ['-e', `rke2_version=${NEW}`, '-e', '{"proxy": {}}', '--limit', 'node3']);
  assert.is(r.code, 2, show(r));
  const [f] = failed(r);
  assert.match(f!.msg, /failed to get runtime image registry\.lab\.test\/rancher\/rancher:v2\.0\.6: .*network is unreachable/);
  assert.match(f!.msg, /put HTTP_PROXY, HTTPS_PROXY and NO_PROXY into \/etc\/default\/rke2-server/);
  const ok = play('run', ['-e', `rke2_version=${NEW}`]);
  assert.is(ok.code, 0, show(ok));
});

// ---------------------------------------------------------------- K3s, on a lab of its own
const K3S_OLD = 'v1.28.14+k3s1';
const K3S_NEW = 'v1.28.15+k3s1';
const k3s = (verb: 'run' | 'check', version: string) =>
  cli([verb, 'playbooks/ha-rke2.yml', '-i', info.inventory, '-e', 'distribution=k3s', '-e', `k3s_version=${version}`, '-e', `work_dir=${workK3s}`]);

test('K3s: check predicts the run; green with /ping via the LB; cluster-init first, the others join on :6443 one at a time', async () => {
  await lab.labDown(NAME);
  info = await useLab(NAME_K3S, { fresh: true });
  const predicted = k3s('check', K3S_OLD);
  assert.is(predicted.code, 0, show(predicted));
  const r = k3s('run', K3S_OLD);
  assert.is(r.code, 0, show(r));
  assert.equal(changedSet(r), changedSet(predicted));
  assert.is(r.tasks.at(-1)!.id, 'verify-rancher');
  assert.is(r.tasks.at(-1)!.status, 'ok', r.tasks.at(-1)!.msg);
  assertOneAtATime(events(), ['node1', 'node2', 'node3']);
  assert.match(await sh('node1', 'sudo cat /etc/rancher/k3s/config.yaml'), /cluster-init: true/);
  assert.match(await sh('node3', 'sudo cat /etc/rancher/k3s/config.yaml'), new RegExp(`server: https://${info.fqdn}:6443`));
  assert.match(await sh('node1', 'sudo cat /etc/default/k3s'), /^HTTPS_PROXY=/m);
  assert.match(await sh('node1', 'sudo cat /var/lib/rancher/k3s/server/manifests/rancher-play-traefik-config.yaml'), /name: traefik[\s\S]*trustedIPs/);
  const kube = join(workK3s, 'kube_config_k3s.yaml');
  assert.is(statSync(kube).mode & 0o777, 0o600);
  assert.match(readFileSync(kube, 'utf8'), new RegExp(`server: https://${info.fqdn.replace(/\./g, '\\.')}:6443`));
  assert.match(readFileSync(info.proxy.log, 'utf8'), /get\.k3s\.io:443/);
});

test('K3s: rerun and check change nothing; an upgrade restarts one server at a time', () => {
  assert.is(totalChanged(k3s('run', K3S_OLD)), 0);
  assert.is(totalChanged(k3s('check', K3S_OLD)), 0);
  const from = logLength();
  const up = k3s('run', K3S_NEW);
  assert.is(up.code, 0, show(up));
  const seq = events(from).map((e) => `${e.node} ${e.what.split(' ')[0]}`);
  assert.equal(seq, ['node1', 'node2', 'node3'].flatMap((n) => [`${n} stopped`, `${n} starting`, `${n} Ready`]), seq.join('\n'));
  assert.is(totalChanged(k3s('run', K3S_NEW)), 0);
});

test.run();
