// On a lab of its own ("rv"): the Rancher stand-in follows the version it was installed at
// (lab/fixtures/cluster.mjs servedWithoutRedirect: v2.0.x–v2.1.x redirect every plain-HTTP path,
// v2.2.0+ serve /ping without it, rancher/rancher commit d42b05e198 and rancher/dynamiclistener
// redirect.go), behind the real LB nginx and each node's real ingress nginx. Without
// use-forwarded-headers ingress-nginx overwrites the LB's X-Forwarded-Proto: v2.0.6 loops on /ping,
// v2.7.6 answers /ping with pong but loops everywhere else, and verify-rancher fails on both.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { lab, useLab, type LabInfo } from './_lab.js';

const NAME = 'rv';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-versions-'));

interface TaskEv { event: 'task'; id: string; host: string; status: string; msg: string }
function run(pb: string, extra: string[] = []): { code: number; tasks: TaskEv[]; out: string } {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', 'run', pb, '-i', info.inventory, '--json', ...extra], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const tasks = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv).filter((e) => e.event === 'task');
  return { code: r.status ?? -1, tasks, out: `exit ${r.status}\n${tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}` };
}

/** What the rke and helm stand-ins hand the lab's cluster once "installed". */
function install(version: string, forwarded: boolean): void {
  const spec = {
    ingress: { options: forwarded ? { 'use-forwarded-headers': 'true' } : {} },
    rancher: { hostname: info.fqdn, ingress_tls: false, ssl_redirect: 'false', version, replicas: 1 },
  };
  const r = spawnSync(process.execPath, [resolve('lab/fixtures/cluster.mjs'), 'apply', JSON.stringify(spec)],
    { encoding: 'utf8', env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir } });
  assert.is(r.status, 0, r.stderr);
}

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
  const lb = run('playbooks/ha-helm.yml', ['--tags', 'lb', '-e', `work_dir=${work}`]);
  assert.is(lb.code, 0, lb.out);
});
test.after(async () => {
  await lab.labDown(NAME);
  rmSync(work, { recursive: true, force: true });
});

const verifyPb = join(work, 'verify.yml');
writeFileSync(verifyPb, 'plays:\n  - hosts: localhost\n    tasks:\n      - verify-rancher: { retries: 0 }\n');

test('Rancher v2.7.6 behind an ingress that overwrites X-Forwarded-Proto: /ping answers pong, the server URL loops, verify fails naming the loop', () => {
  install('v2.7.6', false);
  const r = run(verifyPb);
  assert.is(r.code, 2, r.out);
  const v = r.tasks.find((t) => t.id === 'verify-rancher')!;
  assert.match(v.msg, /^https:\/\/rancher\.lab\.test\/ping answered pong, but redirect loop: https:\/\/rancher\.lab\.test\/v3\/settings\/server-url answers 302 to itself/);
  assert.match(v.msg, /X-Forwarded-Proto is not https/);
  assert.match(v.msg, /use-forwarded-headers: "true"/);
});

test('Rancher v2.0.6 (no exemptions): the loop shows on /ping already', () => {
  install('v2.0.6', false);
  const r = run(verifyPb);
  assert.is(r.code, 2, r.out);
  assert.match(r.tasks.find((t) => t.id === 'verify-rancher')!.msg, /^redirect loop: https:\/\/rancher\.lab\.test\/ping answers 302 to itself/);
});

test('with use-forwarded-headers both versions answer, and verify passes', () => {
  for (const v of ['v2.0.6', 'v2.7.6']) {
    install(v, true);
    const r = run(verifyPb);
    assert.is(r.code, 0, `${v}: ${r.out}`);
    assert.match(r.tasks.find((t) => t.id === 'verify-rancher')!.msg, /answered 200 pong; \/v3\/settings\/server-url answered 200 without a redirect loop/);
  }
});

test('the nodes\' real Docker 20.10 against RKE v0.1.9: check-docker fails as the rke stand-in does, unless ignore_docker_version', () => {
  // The preflight, with the inventory's ignore_docker_version turned off.
  const pre = run('playbooks/ha-l7.yml', ['--tags', 'preflight', '-e', 'ignore_docker_version=false', '-e', `work_dir=${work}`]);
  assert.is(pre.code, 2, pre.out);
  const f = pre.tasks.filter((t) => t.id === 'check-docker' && t.status === 'failed');
  assert.equal(f.map((t) => t.host).sort(), ['node1', 'node2', 'node3'], pre.out);
  for (const t of f) {
    assert.match(t.msg, /Docker 20\.10\.\S+ is not one RKE v0\.1\.9 accepts for Kubernetes v1\.11\.1-rancher1-1 \(1\.11\.x, 1\.12\.x, 1\.13\.x, 17\.03\.x; source: rancher\/rke v0\.1\.9/);
    assert.match(t.msg, /rke up would stop with "Unsupported Docker version found \[20\.10\./);
  }
  // What rke up (the v0.1.9 stand-in, real ssh to the nodes' real dockerd) then says.
  const dir = join(work, 'rke-old');
  spawnSync('mkdir', ['-p', dir]);
  const nodes = info.nodes.map((x) => `  - { address: ${x.address}, user: rancher, role: [controlplane, etcd, worker], ssh_key_path: ${info.sshKey} }\n`).join('');
  writeFileSync(join(dir, 'cluster.yml'), `bastion_host: { address: ${info.bastion.address}, user: rancher, ssh_key_path: ${info.sshKey} }\nnodes:\n${nodes}`);
  const r = spawnSync(info.bin.rke, ['up', '--config', 'cluster.yml'], { cwd: dir, encoding: 'utf8' });
  assert.is(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /level=fatal msg="Unsupported Docker version found \[20\.10\.[^\]]+\], supported versions are \[1\.11\.x 1\.12\.x 1\.13\.x 17\.03\.x\]"/);
  // With the inventory as it is (ignore_docker_version: true): a warning, and the preflight passes.
  const ok = run('playbooks/ha-l7.yml', ['--tags', 'preflight', '-e', `work_dir=${work}`]);
  assert.is(ok.code, 0, ok.out);
});

test.run();
