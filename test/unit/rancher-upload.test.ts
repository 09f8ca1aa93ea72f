// backup-kubeconfig `upload` (the newest controller backup copied to a backup host, 0600/0700,
// ok when the copy matches its SHA256SUMS, redone when tampered, pruned to keep, a corrupt
// controller backup never uploaded) and verify-dns `delegate: host` (getent on the host).
// The "backup host" here is this machine through the local transport, as a `connection: local` host.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTask, ParamsError } from '../../runner/sdk/testing.js';
import rkeUp from '../../tasks/rke-up.js';
import backup from '../../tasks/backup-kubeconfig.js';
import verifyDns, { parseGetent } from '../../tasks/verify-dns.js';
import { cli, project } from './cli-helpers.js';

const FIXTURE = resolve('lab/fixtures/rke-fixture');
const files = (dir: string) => readdirSync(dir).sort();

async function cluster(): Promise<{ dir: string; config: string; root: string; dest: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rp-upload-'));
  const key = join(dir, 'id_rsa');
  writeFileSync(key, 'key\n', { mode: 0o600 });
  const config = join(dir, 'rancher-cluster.yml');
  writeFileSync(config, `nodes:\n${[1, 2, 3].map((i) => `  - address: 10.9.0.1${i}\n    user: rancher\n    role: [controlplane, etcd, worker]\n    ssh_key_path: ${key}\n`).join('')}`);
  assert.is((await runTask(rkeUp, { config, binary: FIXTURE })).status, 'changed');
  return { dir, config, root: join(dir, 'backups'), dest: join(dir, 'remote', 'rancher-backups') };
}

test('upload: the newest backup lands in dest/<timestamp>/ with 0700/0600; again → ok; check mode writes nothing', async () => {
  const { dir, config, root, dest } = await cluster();
  assert.is((await runTask(backup, { config, dir: root })).status, 'changed');
  const [name] = files(root);
  const up = { config, dir: root, upload: { dest }, delegate: 'host' as const };

  const dry = await runTask(backup, up, { check: true });
  assert.is(dry.status, 'changed');
  assert.match(dry.msg, /would upload .* \(not there\)/);
  assert.not.ok(existsSync(dest), 'check mode wrote nothing');

  const r = await runTask(backup, up);
  assert.is(r.status, 'changed', r.msg);
  const b = join(dest, name!);
  assert.equal(files(dest), [name]);
  assert.is(statSync(dest).mode & 0o777, 0o700);
  assert.is(statSync(b).mode & 0o777, 0o700);
  assert.equal(files(b), files(join(root, name!)));
  for (const f of files(b)) {
    assert.is(statSync(join(b, f)).mode & 0o777, 0o600, f);
    assert.is(readFileSync(join(b, f), 'utf8'), readFileSync(join(root, name!, f), 'utf8'), f);
  }
  execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: b, stdio: 'pipe' });

  const again = await runTask(backup, up);
  assert.is(again.status, 'ok', again.msg);
  assert.match(again.msg, /already matches/);
  rmSync(dir, { recursive: true, force: true });
});

test('upload: a tampered or loosened remote copy is copied again; old remote backups pruned to keep', async () => {
  const { dir, config, root, dest } = await cluster();
  await runTask(backup, { config, dir: root });
  const up = { config, dir: root, keep: 2, upload: { dest }, delegate: 'host' as const };
  await runTask(backup, up);
  const [name] = files(dest);
  const kube = join(dest, name!, 'kube_config_rancher-cluster.yml');
  writeFileSync(kube, 'tampered\n');
  const r = await runTask(backup, up);
  assert.is(r.status, 'changed');
  assert.match(r.msg, /files do not match SHA256SUMS/);
  assert.is(readFileSync(kube, 'utf8'), readFileSync(join(root, name!, 'kube_config_rancher-cluster.yml'), 'utf8'));

  chmodSync(kube, 0o644);
  const loose = await runTask(backup, up);
  assert.is(loose.status, 'changed');
  assert.match(loose.msg, /has mode 644/);
  assert.is(statSync(kube).mode & 0o777, 0o600);

  for (let i = 0; i < 3; i++) {
    writeFileSync(config, readFileSync(config, 'utf8') + `# change ${i}\n`);
    await runTask(backup, { config, dir: root, keep: 2 });
    assert.is((await runTask(backup, up)).status, 'changed');
  }
  assert.equal(files(dest), files(root), 'the remote keeps the same newest 2');
  assert.is(files(dest).length, 2);
  rmSync(dir, { recursive: true, force: true });
});

test('upload: a controller backup that fails its checksums is not uploaded; no backup → clear failure', async () => {
  const { dir, config, root, dest } = await cluster();
  const up = { config, dir: root, upload: { dest }, delegate: 'host' as const };
  const none = await runTask(backup, up);
  assert.is(none.status, 'failed');
  assert.match(none.msg, /no backup in .* to upload/);
  await runTask(backup, { config, dir: root });
  const [name] = files(root);
  writeFileSync(join(root, name!, 'rancher-cluster.rkestate'), 'corrupt');
  const r = await runTask(backup, up);
  assert.is(r.status, 'failed');
  assert.match(r.msg, /rancher-cluster\.rkestate does not match its checksum: not uploading a corrupt backup/);
  assert.not.ok(existsSync(dest));
  rmSync(dir, { recursive: true, force: true });
});

test('upload params: needs delegate: host and an absolute dest; delegate: host alone is refused', async () => {
  const e1 = await runTask(backup, { config: '/x/c.yml', upload: { dest: '/b' } }).catch((e: unknown) => e);
  assert.instance(e1, ParamsError);
  assert.match(String(e1), /upload needs delegate: host/);
  const e2 = await runTask(backup, { config: '/x/c.yml', upload: { dest: 'rel' }, delegate: 'host' }).catch((e: unknown) => e);
  assert.match(String(e2), /upload\.dest must be an absolute path/);
  const e3 = await runTask(backup, { config: '/x/c.yml', delegate: 'host' }).catch((e: unknown) => e);
  assert.match(String(e3), /delegate: host is only for upload/);
});

test('playbook: upload without delegate is bad input (exit 5, file:line:column)', () => {
  const p = project();
  p.write('inv.yml', 'hosts:\n  backup1: { connection: local }\ngroups:\n  backup: { hosts: [backup1] }\n');
  const pb = p.write('pb.yml', 'plays:\n  - hosts: backup\n    tasks:\n      - backup-kubeconfig: { config: /nonexistent/c.yml, upload: { dest: /tmp/x } }\n');
  const r = cli(['run', pb, '-i', join(p.dir, 'inv.yml')]);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, /pb\.yml:4:\d+/);
  assert.match(r.stdout + r.stderr, /upload needs delegate: host/);
});

test('verify-dns on a host: getent output parsed (real getent for localhost); resolver with delegate: host refused', async () => {
  const out = execFileSync('getent', ['ahostsv4', 'localhost'], { encoding: 'utf8' });
  assert.equal(parseGetent('localhost', out), { cnames: [], addrs: ['127.0.0.1'] });
  assert.equal(parseGetent('rancher.lab.test', '198.18.1.20   STREAM lb.lab.test\n198.18.1.20   DGRAM  \n198.18.1.20   RAW    \n'),
    { cnames: ['lb.lab.test'], addrs: ['198.18.1.20'] });
  const e = await runTask(verifyDns, { fqdn: 'rancher.lab.test', resolver: '127.0.0.1', delegate: 'host' }).catch((x: unknown) => x);
  assert.instance(e, ParamsError);
  assert.match(String(e), /resolver applies to the controller only/);
});

test.run();
