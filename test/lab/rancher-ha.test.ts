// Rancher HA on the lab, through the CLI with --json: check-mode purity on a fresh lab, ha-l7
// end to end twice ending with Rancher's /ping answering pong, HTTPS/HTTP/WebSocket through the LB
// to the Rancher stand-in behind each node's real ingress nginx, backups, the failure cases (RKE's
// own words for a fatal line and a dropped node, the redirect loop without use-forwarded-headers),
// the read-only preflight, and ha-l4 passthrough. Uses its own lab ("rk") so it can break and
// repair services without disturbing other tests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { lab, useLab, type LabInfo } from './_lab.js';

const NAME = 'rk';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-ha-'));
const workL7 = join(work, 'l7');

interface TaskEv { event: 'task'; id: string; host: string; status: string; changed: boolean; msg: string; check?: boolean }
interface Recap { event: 'recap'; hosts: Record<string, { ok: number; changed: number; failed: number; skipped: number; unreachable: number }> }
interface Run { code: number; tasks: TaskEv[]; recap?: Recap; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', ...args, '--json'], {
    encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20,
  });
  const events = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv | Recap);
  return {
    code: r.status ?? -1,
    tasks: events.filter((e): e is TaskEv => e.event === 'task'),
    recap: events.find((e): e is Recap => e.event === 'recap'),
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
  };
}
const play = (pb: string, extra: string[] = [], env: Record<string, string> = {}, inv = info.inventory) =>
  cli(['run', `playbooks/${pb}.yml`, '-i', inv, ...extra], env);
const totals = (r: Run) => Object.values(r.recap?.hosts ?? {}).reduce((a, h) => ({ changed: a.changed + h.changed, failed: a.failed + h.failed }), { changed: 0, failed: 0 });
const failures = (r: Run) => r.tasks.filter((t) => t.status === 'failed');
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}`;

/**
 * Checksums of every file (content, mode) and link under a tree; logs written by sshd logins and
 * dockerd's own log (journald's job on a real host; the daemon writes it whenever it likes) excluded,
 * and so is the daemons' own state (containerd's meta.db, dockerd's network and buildkit databases):
 * they rewrite it on their own schedule, and a task's effect on Docker shows in /etc and the drop-ins.
 */
function treeSums(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      const rel = p.slice(root.length);
      if (/\/var\/log\/(wtmp|btmp|lastlog|docker\.log)$|\/run\/(utmp|sshd)|^\/var\/lib\/(containerd|docker)\/|^\/run\/(containerd|docker)\//.test(rel)) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.set(rel, `link ${readlinkSync(p)}`);
      else if (st.isDirectory()) { out.set(rel, `dir ${st.mode}`); walk(p); }
      else if (st.isFile()) out.set(rel, `${st.mode} ${createHash('sha256').update(readFileSync(p)).digest('hex')}`);
    }
  };
  if (existsSync(root)) walk(root);
  return out;
}
const hostsToWatch = () => [...info.nodes.map((n) => n.name), info.lb.name];
const snapshot = () => new Map(hostsToWatch().map((h) => [h, treeSums(lab.upperDir(h, NAME))]));
function changedPaths(a: Map<string, Map<string, string>>, b: Map<string, Map<string, string>>): string[] {
  const out: string[] = [];
  for (const [h, before] of a) {
    const after = b.get(h)!;
    for (const k of new Set([...before.keys(), ...after.keys()])) if (before.get(k) !== after.get(k)) out.push(`${h}:${k}`);
  }
  return out;
}

/** HTTP(S) request to the LB's public address for the lab FQDN; retried while nginx reloads. */
async function request(opts: { tls: boolean; path?: string; headers?: Record<string, string>; upgrade?: boolean }) {
  const resolver = new Resolver();
  resolver.setServers([info.dnsServer]);
  const [addr] = await resolver.resolve4(info.fqdn);
  const mod = opts.tls ? https : http;
  const once = () => new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; cert?: string }>((resolve, reject) => {
    const req = mod.request({
      host: addr, port: opts.tls ? 443 : 80, path: opts.path ?? '/', servername: info.fqdn,
      ca: opts.tls ? readFileSync(info.caCert) : undefined,
      headers: { host: info.fqdn, ...(opts.headers ?? {}) }, timeout: 5000,
    } as https.RequestOptions, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    // The handshake is the answer: the Rancher stand-in then waits for frames.
    req.on('upgrade', (res, socket, head: Buffer) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: head.toString('utf8') });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      return await once();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw last;
}

test.before(async () => {
  await lab.labDown(NAME); // a fresh lab: check mode must see everything still to do
  info = await useLab(NAME);
});

test('check ha-l7 on a fresh lab: reports would-be changes, changes nothing on any host or the controller', () => {
  const before = snapshot();
  const r = play('ha-l7', ['--check', '-e', `work_dir=${workL7}`]);
  assert.is(r.code, 0, show(r));
  assert.ok(r.tasks.every((t) => t.check === true));
  const changed = new Set(r.tasks.filter((t) => t.status === 'changed').map((t) => t.id));
  for (const id of ['check-proxy', 'configure-nginx-lb', 'render-template', 'rke-up', 'backup-kubeconfig']) assert.ok(changed.has(id), `${id} would change`);
  assert.equal(changedPaths(before, snapshot()), [], 'no file changed on nodes or lb');
  assert.not.ok(existsSync(workL7), 'nothing written on the controller');
});

test('preflight on a good lab: passes and only reads', () => {
  const before = snapshot();
  const r = play('preflight');
  assert.is(r.code, 0, show(r));
  assert.is(totals(r).changed, 0);
  assert.equal(changedPaths(before, snapshot()), []);
});

test('rancher_version latest: exit 5 before any connection, nothing run', () => {
  const r = play('ha-l7', ['-e', 'rancher_version=latest', '-e', `work_dir=${workL7}`]);
  assert.is(r.code, 5);
  assert.match(r.stderr, /rancher_version/);
  assert.match(r.stderr, /playbooks\/ha-l7\.yml:\d+:\d+/);
  assert.is(r.tasks.length, 0);
  assert.not.ok(existsSync(workL7));
});

test('ha-l7 end to end; the second run changes nothing; one verified backup with 0600/0700', () => {
  const r1 = play('ha-l7', ['-e', `work_dir=${workL7}`]);
  assert.is(r1.code, 0, show(r1));
  assert.ok(totals(r1).changed > 0);
  assert.ok(r1.tasks.some((t) => t.id === 'command' && t.host === 'node1' && t.status === 'changed'), 'restart docker handler ran');
  const last = r1.tasks.at(-1)!;
  assert.is(`${last.id} ${last.status}`, 'verify-rancher ok', show(r1));
  assert.match(last.msg, new RegExp(`^https://${info.fqdn.replace(/\./g, '\\.')}/ping answered 200 pong`));
  const r2 = play('ha-l7', ['-e', `work_dir=${workL7}`]);
  assert.is(r2.code, 0, show(r2));
  assert.is(totals(r2).changed, 0, show(r2));
  assert.is(r2.tasks.at(-1)!.id, 'verify-rancher');

  const cfg = parse(readFileSync(join(workL7, 'rancher-cluster.yml'), 'utf8'));
  assert.equal(cfg.nodes.map((n: { address: string }) => n.address), info.nodes.map((n) => n.address));
  const backups = readdirSync(join(workL7, 'backups'));
  assert.is(backups.length, 1);
  const b = join(workL7, 'backups', backups[0]!);
  assert.is(statSync(b).mode & 0o777, 0o700);
  for (const f of readdirSync(b)) assert.is(statSync(join(b, f)).mode & 0o777, 0o600, f);
  const sums = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: b, encoding: 'utf8' });
  assert.is(sums.status, 0, sums.stdout + sums.stderr);
  // The lab's RKE is v0.1.9 (Rancher v2.0.x's): kubeconfig and cluster config, no .rkestate before v0.2.0.
  assert.equal(sums.stdout.split('\n').filter((l) => / OK$/.test(l)).map((l) => l.replace(/: OK$/, '')).sort(), ['kube_config_rancher-cluster.yml', 'rancher-cluster.yml']);
});

test('HTTPS through the LB reaches a node with the forwarded headers; HTTP redirects; WebSocket upgrades', async () => {
  const res = await request({ tls: true, path: '/v3' });
  assert.is(res.status, 200);
  const echo = JSON.parse(res.body) as { node: string; headers: Record<string, string> };
  assert.ok(info.nodes.some((n) => n.name === echo.node));
  assert.is(echo.headers['x-forwarded-proto'], 'https', 'the LB\'s header kept by the ingress (use-forwarded-headers)');
  assert.is(echo.headers['x-forwarded-port'], '443');
  assert.ok(echo.headers['x-forwarded-for'], 'X-Forwarded-For set');
  assert.is(echo.headers.host, info.fqdn);

  const plain = await request({ tls: false, path: '/dashboard' });
  assert.is(plain.status, 301);
  assert.is(plain.headers.location, `https://${info.fqdn}/dashboard`);

  const ws = await request({
    tls: true, path: '/v3/subscribe',
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' },
  });
  assert.is(ws.status, 101);
  assert.is(ws.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
});

test('failure: proxy stopped → check-proxy fails naming the proxy and the host', async () => {
  await lab.stopService('proxy', undefined, NAME);
  try {
    const r = play('preflight');
    assert.is(r.code, 2, show(r));
    const f = failures(r).filter((t) => t.id === 'check-proxy');
    assert.is(f.length, 3);
    for (const t of f) {
      assert.ok(t.msg.includes(info.proxy.url.replace(/\/$/, '')), t.msg);
      assert.ok(t.msg.includes(t.host), t.msg);
      assert.match(t.msg, /does not answer/);
    }
  } finally {
    await lab.startService('proxy', undefined, NAME);
  }
});

test('failure: NO_PROXY without .svc → check-proxy lists what is missing', () => {
  const noProxy = ['localhost', '127.0.0.1', '0.0.0.0', '10.0.0.0/8', 'cattle-system.svc', '.cluster.local', ...info.nodes.map((n) => n.address)].join(',');
  const proxy = JSON.stringify({ proxy: { http: info.proxy.url, https: info.proxy.url, no_proxy: noProxy } });
  const r = play('preflight', ['-e', proxy]);
  assert.is(r.code, 2, show(r));
  const f = failures(r).filter((t) => t.id === 'check-proxy');
  assert.is(f.length, 3);
  for (const t of f) assert.match(t.msg, /NO_PROXY is missing \.svc/);
});

test('failure: docker down on one node → only that node fails check-docker', async () => {
  await lab.stopService('docker', 'node2', NAME);
  try {
    const r = play('preflight');
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node2 check-docker']);
    assert.match(f[0]!.msg, /Docker daemon is not running/);
    assert.is(r.recap!.hosts.node1!.failed, 0);
  } finally {
    await lab.startService('docker', 'node2', NAME);
  }
});

test('a drop-in the running Docker daemon has not picked up: preflight fails saying so; ha-l7 restarts docker and then passes', async () => {
  const dropin = '/etc/systemd/system/docker.service.d/http-proxy.conf';
  // node1's daemon restarted without the drop-in, then the (right) drop-in put back unannounced.
  await lab.labExec('node1', `mv ${dropin} /root/rp-dropin && systemctl daemon-reload && systemctl restart docker && mv /root/rp-dropin ${dropin}`, NAME);
  const pre = play('preflight');
  assert.is(pre.code, 2, show(pre));
  const f = failures(pre);
  assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node1 check-proxy']);
  assert.match(f[0]!.msg, /the running Docker daemon has not picked up .*http-proxy\.conf yet .*HTTP_PROXY is "", expected .*run systemctl daemon-reload && systemctl restart docker/);
  const check = play('ha-l7', ['--check', '--tags', 'proxy', '-e', `work_dir=${workL7}`]);
  assert.is(check.code, 0, show(check));
  assert.equal(check.tasks.filter((t) => t.status === 'changed' && t.id === 'check-proxy').map((t) => t.host), ['node1'], show(check));
  assert.match(check.tasks.find((t) => t.host === 'node1' && t.id === 'check-proxy')!.msg, /restart owed \(systemctl daemon-reload && systemctl restart docker\)/);
  const fix = play('ha-l7', ['--tags', 'proxy', '-e', `work_dir=${workL7}`]);
  assert.is(fix.code, 0, show(fix));
  assert.equal(fix.tasks.filter((t) => t.status === 'changed').map((t) => `${t.host} ${t.id}`), ['node1 check-proxy', 'node1 command'], `the restart docker handler ran on node1 only\n${show(fix)}`);
  assert.is(play('preflight').code, 0, 'the daemon now uses the proxy');
});

test('failure: SSH user root on a CentOS node → refused citing Red Hat bug 1527565', async () => {
  const inv = parse(readFileSync(info.inventory, 'utf8'));
  inv.hosts.node3.user = 'root';
  const file = join(work, 'inv-root.yml');
  writeFileSync(file, stringify(inv));
  await lab.labExec('node3', "cp /etc/os-release /etc/os-release.rp-bak && printf 'NAME=\"CentOS Linux\"\\nID=\"centos\"\\nID_LIKE=\"rhel fedora\"\\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\\n' > /etc/os-release", NAME);
  try {
    const r = play('preflight', [], {}, file);
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node3 check-docker']);
    assert.match(f[0]!.msg, /SSH user is root on CentOS Linux 7.*Red Hat bug 1527565/);
  } finally {
    await lab.labExec('node3', 'mv /etc/os-release.rp-bak /etc/os-release', NAME);
  }
});

test('failure: DNS pointing elsewhere → verify-dns names the answer and the expected address', async () => {
  const other = info.dnsRecords['other.lab.test'] ?? '198.18.0.99';
  await lab.setDnsRecord(info.fqdn, other, NAME);
  try {
    const r = play('preflight');
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => t.id), ['verify-dns']);
    assert.ok(f[0]!.msg.includes(`resolves to A ${other}`), f[0]!.msg);
    assert.ok(f[0]!.msg.includes(`expected ${info.lbPublic}`), f[0]!.msg);
  } finally {
    await lab.setDnsRecord(info.fqdn, info.lbPublic, NAME);
  }
});

test('failure: a config nginx -t rejects keeps the old config and nginx serving', async () => {
  const upper = lab.upperDir('lb1', NAME);
  const confFile = join(upper, 'etc', 'nginx', 'conf.d', 'rancher.conf');
  const oldConf = readFileSync(confFile, 'utf8');
  // Something else on the LB defines an upstream named like ours: the new config cannot load.
  await lab.labExec('lb1', "echo 'upstream rancher { server 127.0.0.1:8080; }' > /etc/nginx/conf.d/zz-other.conf", NAME);
  const before = treeSums(upper);
  try {
    const r = play('ha-l7', ['--tags', 'lb', '-e', 'fqdn=rancher2.lab.test', '-e', `work_dir=${workL7}`]);
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => t.id), ['configure-nginx-lb']);
    assert.match(f[0]!.msg, /nginx -t rejected the new config, the previous config was kept and nginx was not reloaded/);
    assert.match(f[0]!.msg, /duplicate upstream "rancher"/);
    const after = treeSums(upper);
    const diff = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k) && !/\/var\/log\//.test(k));
    assert.equal(diff, [], 'LB files as before');
    assert.is(readFileSync(confFile, 'utf8'), oldConf);
  } finally {
    await lab.labExec('lb1', 'rm -f /etc/nginx/conf.d/zz-other.conf', NAME);
  }
  const res = await request({ tls: true, path: '/still' });
  assert.is(res.status, 200, 'nginx still serving the old config');
  assert.is(JSON.parse(res.body).headers.host, info.fqdn);
});

test('failure: rke logging a fatal line (logrus text format, piped) → rke-up fails with RKE\'s words', () => {
  const w = join(work, 'fata');
  const r = play('ha-l7', ['--tags', 'cluster', '-e', `work_dir=${w}`], { RKE_FIXTURE_FAIL: '[workerPlane] Failed to bring up Worker Plane: "node2" is unhealthy' });
  assert.is(r.code, 2, show(r));
  const f = failures(r);
  assert.equal(f.map((t) => t.id), ['rke-up']);
  assert.is(f[0]!.msg, 'rke up failed (exit 1): [workerPlane] Failed to bring up Worker Plane: "node2" is unhealthy');
});

test('failure: a node RKE cannot reach (its Docker down) is dropped by RKE, which ends with exit 1 "Provisioning incomplete" → exit 2 naming it', async () => {
  const node2 = info.nodes.find((n) => n.name === 'node2')!;
  await lab.stopService('docker', 'node2', NAME);
  try {
    const r = play('ha-l7', ['--tags', 'cluster', '-e', `work_dir=${join(work, 'dropped')}`]);
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => t.id), ['rke-up']);
    assert.is(f[0]!.msg, `rke up failed (exit 1): Removing host [${node2.address}] from node lists; Provisioning incomplete, host(s) [${node2.address}] skipped because they could not be contacted`);
    assert.match(r.stdout, new RegExp(`Failed to set up SSH tunneling for host \\[${node2.address.replace(/\./g, '\\.')}\\]`));
  } finally {
    await lab.startService('docker', 'node2', NAME);
  }
});

test('failure: the ingress overwriting X-Forwarded-Proto (no use-forwarded-headers) → verify-rancher names the redirect loop', () => {
  const cluster = (spec: object) => spawnSync(process.execPath, ['lab/fixtures/cluster.mjs', 'apply', JSON.stringify(spec)], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir }, encoding: 'utf8' });
  const before = JSON.parse(spawnSync(process.execPath, ['lab/fixtures/cluster.mjs', 'show'], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir }, encoding: 'utf8' }).stdout);
  assert.is(cluster({ ingress: { options: {} } }).status, 0);
  try {
    const r = play('ha-l7', ['--tags', 'verify', '-e', `work_dir=${workL7}`]);
    assert.is(r.code, 2, show(r));
    const f = failures(r);
    assert.equal(f.map((t) => t.id), ['verify-rancher']);
    assert.match(f[0]!.msg, /^redirect loop: https:\/\/.*\/ping answers 302 to itself/);
    assert.match(f[0]!.msg, /X-Forwarded-Proto/);
    assert.match(f[0]!.msg, /use-forwarded-headers: "true"/);
  } finally {
    assert.is(cluster({ ingress: before.ingress }).status, 0);
  }
});

test('ha-l4: TCP 80 and 443 pass through to the nodes, TLS ends at the node', async () => {
  const r = play('ha-l4', ['-e', `work_dir=${join(work, 'l4')}`]);
  assert.is(r.code, 0, show(r));
  const again = play('ha-l4', ['-e', `work_dir=${join(work, 'l4')}`]);
  assert.is(again.code, 0, show(again));
  assert.is(totals(again).changed, 0, show(again));
  assert.is(`${r.tasks.at(-1)!.id} ${r.tasks.at(-1)!.status}`, 'verify-rancher ok', show(r));
  const res = await request({ tls: true, path: '/l4' });
  const echo = JSON.parse(res.body) as { node: string; headers: Record<string, string> };
  assert.is(echo.headers['x-forwarded-proto'], 'https', 'TLS ended at the node\'s ingress, which says so itself');
  assert.is(echo.headers['x-forwarded-for'], info.lb.address, 'the LB only passed TCP on: the ingress saw the LB\'s connection');
  const plain = await request({ tls: false, path: '/l4' });
  assert.is(plain.status, 308, 'port 80 reaches the node\'s ingress, which redirects (Ingress with TLS)');
  assert.is(plain.headers.location, `https://${info.fqdn}/l4`);
});

test.after(async () => {
  rmSync(work, { recursive: true, force: true });
  await lab.labDown(NAME);
});
test.run();
