// The lab's real Docker Engine, registry and ingress, seen the way an operator would: the ha-l7
// preflight makes every node's dockerd pull through tinyproxy; a stopped proxy, a user outside
// group docker and a stopped daemon fail with Docker's own words; the node ingress answers as
// ingress-nginx does, and `/ping` through the LB loops or answers `pong` depending on the cluster
// config's use-forwarded-headers. Own lab ("dk"): it breaks and repairs services.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, sshVia, useLab, type LabInfo } from '../lab/_lab.js';

const NAME = 'dk';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-dockerlab-'));

interface TaskEv { event: 'task'; play: string; id: string; host: string; status: string; changed: boolean; msg: string }
interface Run { code: number; tasks: TaskEv[]; stdout: string; stderr: string }

function play(pb: string, extra: string[] = []): Run {
  const file = pb.includes('/') ? pb : `playbooks/${pb}.yml`;
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', 'run', file, '-i', info.inventory, ...extra, '--json'],
    { encoding: 'utf8', maxBuffer: 64 << 20 });
  const events = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv);
  return { code: r.status ?? -1, tasks: events.filter((e) => e.event === 'task'), stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}`;
const preflight = () => play('ha-l7', ['--tags', 'preflight', '-e', `work_dir=${join(work, 'l7')}`]);
const onNode = (node: string, cmd: string) => sshVia(info, 'rancher', info.nodes.find((n) => n.name === node)!.address, cmd);
const probeImage = () => info.registry.pullProbe;
const PULL_PLAY = 'Docker pulls through the proxy'; // ha-l7's play after the preflight's restart handler
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** curl on the controller to the lab LB for the FQDN, TLS verified with the lab CA. */
function curlLb(path: string, args: string[] = []) {
  const r = spawnSync('curl', ['-sS', '--resolve', `${info.fqdn}:443:${info.lbPublic}`, '--resolve', `${info.fqdn}:80:${info.lbPublic}`,
    '--cacert', info.caCert, '--max-time', '10', '-o', '-', '-w', '\n%{http_code} %{num_redirects} %{redirect_url}', ...args, `https://${info.fqdn}${path}`], { encoding: 'utf8' });
  const lines = (r.stdout ?? '').split('\n');
  const [code, redirects, location] = (lines.pop() ?? '').split(' ');
  return { rc: r.status, body: lines.join('\n'), code: Number(code), redirects: Number(redirects), location, stderr: r.stderr ?? '' };
}
const cluster = (spec: unknown) => spawnSync(process.execPath, ['lab/fixtures/cluster.mjs', 'apply', JSON.stringify(spec)],
  { encoding: 'utf8', env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir } });
const rancher = { hostname: 'rancher.lab.test', ingress_tls: false, ssl_redirect: null, version: 'v2.0.6', replicas: 3 };

test.before(async () => {
  await lab.labDown(NAME);
  info = await useLab(NAME);
});

test('fresh lab: a real dockerd per node, socket root:docker 0660, rancher in group docker, no proxy yet', () => {
  for (const n of info.nodes) {
    const r = onNode(n.name, "docker info --format '{{.ServerVersion}}|{{.Driver}}|{{.HTTPSProxy}}|{{.Name}}'; stat -c '%U:%G %a' /var/run/docker.sock; id -nG");
    assert.is(r.code, 0, r.stderr);
    const [infoLine, sock, groups] = r.stdout.trim().split('\n');
    assert.match(infoLine!, new RegExp(`^20\\.10\\.24(\\+dfsg\\d+)?\\|vfs\\|\\|${n.name}$`));
    assert.is(sock, 'root:docker 660');
    assert.ok(groups!.split(' ').includes('docker'), groups);
  }
});

test('check-docker registers the real daemon\'s version as the fact docker_version', () => {
  const pb = join(work, 'fact.yml');
  writeFileSync(pb, 'name: fact\nplays:\n  - name: fact\n    hosts: rancher\n    tasks:\n      - name: docker\n        check-docker: { pull_probe: "" }\n        register: d\n'
    + '      - name: keep it\n        copy: { content: "{{ d.docker_version }}", dest: /tmp/rp-docker-version }\n');
  const r = play(pb);
  assert.is(r.code, 0, show(r));
  for (const n of info.nodes) {
    const real = onNode(n.name, "docker version --format '{{.Server.Version}}'; cat /tmp/rp-docker-version").stdout.trim().split('\n');
    assert.match(real[0]!, /^20\.10\.24/);
    assert.is(real[1], real[0], `${n.name}: the fact is the server's version`);
  }
});

test('fresh lab: the node ingress is up without Rancher (404 default backend, /healthz 200)', () => {
  const r = onNode('node1', `curl -s -w ' %{http_code}' -H 'Host: ${info.fqdn}' http://${info.nodes[1]!.address}/ping; echo; curl -s -o /dev/null -w '%{http_code}' http://${info.nodes[1]!.address}/healthz`);
  assert.is(r.stdout.trim(), 'default backend - 404 404\n200');
});

test('ha-l7 preflight: the drop-in, the restart handler, then every dockerd pulls the probe image through tinyproxy', () => {
  const logBefore = readFileSync(info.proxy.log, 'utf8').length;
  const r = preflight();
  assert.is(r.code, 0, show(r));
  assert.ok(r.tasks.some((t) => t.id === 'command' && t.status === 'changed'), 'restart docker handler ran');
  const want = info.registry.images.find((i) => i.ref === probeImage())!.digest;
  const pulls = r.tasks.filter((t) => t.id === 'check-docker' && t.play === PULL_PLAY);
  assert.is(pulls.length, 3, show(r));
  for (const t of pulls) {
    assert.is(t.status, 'changed', t.msg);
    assert.is(t.msg, `pulled ${probeImage()} (${want})`);
  }
  for (const n of info.nodes) {
    const d = onNode(n.name, "docker info --format '{{.HTTPProxy}}|{{.HTTPSProxy}}'; docker images --format '{{.Repository}}:{{.Tag}}'");
    assert.is(d.code, 0, `${n.name}: ${d.stderr}`);
    const [proxies, ...images] = d.stdout.trim().split('\n');
    assert.is(proxies, `${info.proxy.url}|${info.proxy.url}`);
    assert.ok(images.includes(probeImage()), d.stdout);
  }
  const log = readFileSync(info.proxy.log, 'utf8').slice(logBefore);
  assert.match(log, new RegExp(`CONNECT .*registry\\.lab\\.test:443`));
  // The same again: nothing to pull, nothing changed (the registry is still asked, through the proxy).
  const again = preflight();
  assert.is(again.code, 0, show(again));
  assert.is(again.tasks.filter((t) => t.changed).length, 0, show(again));
  const upToDate = again.tasks.filter((t) => t.play === PULL_PLAY);
  assert.is(upToDate.length, 3, show(again));
  for (const t of upToDate) assert.match(t.msg, new RegExp(`; pulled ${esc(probeImage())}: up to date \\(${want}\\)$`));
});

test('check mode: a missing probe image is reported as would-pull, nothing pulled', () => {
  assert.is(onNode('node2', `docker rmi -f ${probeImage()} >/dev/null && docker images -q | wc -l`).stdout.trim(), '0');
  const r = play('ha-l7', ['--tags', 'preflight', '--check', '-e', `work_dir=${join(work, 'l7')}`]);
  assert.is(r.code, 0, show(r));
  const t = r.tasks.find((x) => x.play === PULL_PLAY && x.host === 'node2');
  assert.is(t?.status, 'changed');
  assert.match(t!.msg, /would pull registry\.lab\.test\/rancher\/rancher:v2\.0\.6 \(not present\)/);
  assert.is(onNode('node2', 'docker images -q | wc -l').stdout.trim(), '0', 'check mode pulled nothing');
});

test('tinyproxy stopped: the pull fails with Docker\'s own error (missing image and present image alike)', async () => {
  // Only the pull (ha-l7's preflight would stop at check-proxy first, which names the proxy).
  const pullOnly = join(work, 'pull.yml');
  writeFileSync(pullOnly, `name: pull probe\nplays:\n  - name: ${PULL_PLAY}\n    hosts: rancher\n    tasks:\n      - name: pull\n        check-docker: {}\n`);
  await lab.stopService('proxy', undefined, NAME);
  try {
    assert.is(preflight().code, 2);
    const r = play(pullOnly);
    assert.is(r.code, 2, show(r));
    const f = r.tasks.filter((t) => t.id === 'check-docker' && t.status === 'failed');
    assert.equal(f.map((t) => t.host).sort(), ['node1', 'node2', 'node3'], show(r));
    for (const t of f) {
      assert.match(t.msg, new RegExp(`^${t.host}: docker pull registry\\.lab\\.test/rancher/rancher:v2\\.0\\.6 failed: Error response from daemon: .*proxyconnect tcp: dial tcp ${info.proxy.address.replace(/\./g, '\\.')}:3128: connect: connection refused`));
    }
  } finally {
    await lab.startService('proxy', undefined, NAME);
  }
  assert.is(preflight().code, 0, 'proxy back: the preflight passes again (node2 pulls again)');
});

test('a user outside group docker is refused with Docker\'s permission-denied text', async () => {
  await lab.labExec('node3', 'gpasswd -d rancher docker >/dev/null', NAME);
  try {
    const r = play('preflight');
    assert.is(r.code, 2, show(r));
    const f = r.tasks.filter((t) => t.status === 'failed');
    assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node3 check-docker'], show(r));
    assert.match(f[0]!.msg, /user rancher cannot reach the Docker socket without sudo: add it to the docker group \(sudo usermod -aG docker rancher\)/);
    assert.match(f[0]!.msg, /docker said: permission denied while trying to connect to the Docker daemon socket at unix:\/\/\/var\/run\/docker\.sock: Get "http:\/\/%2Fvar%2Frun%2Fdocker\.sock\/v[\d.]+\/version": dial unix \/var\/run\/docker\.sock: connect: permission denied/);
  } finally {
    await lab.labExec('node3', 'gpasswd -a rancher docker >/dev/null', NAME);
  }
});

test('dockerd stopped on one node: only that node fails, in the Docker CLI\'s words', async () => {
  await lab.stopService('docker', 'node2', NAME);
  try {
    assert.is(onNode('node2', 'systemctl is-active docker').stdout.trim(), 'inactive');
    const r = play('preflight');
    assert.is(r.code, 2, show(r));
    const f = r.tasks.filter((t) => t.status === 'failed');
    assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node2 check-docker'], show(r));
    assert.match(f[0]!.msg, /the Docker daemon is not running: start it \(sudo systemctl start docker\) — docker said: Cannot connect to the Docker daemon at unix:\/\/\/var\/run\/docker\.sock\. Is the docker daemon running\?/);
  } finally {
    await lab.startService('docker', 'node2', NAME);
  }
  assert.is(onNode('node2', "docker info --format '{{.HTTPSProxy}}'").stdout.trim(), info.proxy.url, 'restarted with the loaded drop-in');
});

test('a drop-in written but dockerd not restarted: check-proxy says so; ha-l7 restarts it and the pull passes', async () => {
  const dropin = '/etc/systemd/system/docker.service.d/http-proxy.conf';
  // dockerd without the proxy, then the right drop-in put back by hand without a restart.
  const setup = await lab.labExec('node1', `cp ${dropin} /root/dropin.keep && rm ${dropin} && systemctl daemon-reload && systemctl restart docker && cp /root/dropin.keep ${dropin} && docker info --format '{{.HTTPSProxy}}'`, NAME);
  assert.is(setup.code, 0, setup.stderr);
  assert.is(setup.stdout.trim(), '', 'the running daemon has no proxy');
  const r = play('preflight');
  assert.is(r.code, 2, show(r));
  const f = r.tasks.filter((t) => t.status === 'failed');
  assert.equal(f.map((t) => `${t.host} ${t.id}`), ['node1 check-proxy'], show(r));
  assert.match(f[0]!.msg, /the running Docker daemon has not picked up \/etc\/systemd\/system\/docker\.service\.d\/http-proxy\.conf yet .*run systemctl daemon-reload && systemctl restart docker/);
  const fix = preflight();
  assert.is(fix.code, 0, show(fix));
  assert.ok(fix.tasks.some((t) => t.id === 'command' && t.host === 'node1' && t.status === 'changed'), 'the restart handler ran on node1');
  assert.is(onNode('node1', "docker info --format '{{.HTTPSProxy}}'").stdout.trim(), info.proxy.url);
  assert.is(play('preflight').code, 0);
});

test('systemctl stand-in: Environment= parsed as systemd does, used only after daemon-reload', () => {
  const dir = '/etc/systemd/system/docker.service.d';
  const cmd = [
    `sudo sh -c 'printf "[Service]\\nEnvironment=\\"HTTP_PROXY=http://one:1\\" NO_PROXY=a,b\\nEnvironment=\\"HTTPS_PROXY=http://x y:2\\"\\n" > ${dir}/zz-50-a.conf'`,
    `sudo sh -c 'printf "[Service]\\nEnvironment=HTTP_PROXY=http://two:2\\n" > ${dir}/zz-60-b.conf'`,
    'sudo systemctl restart docker 2>&1', // not reloaded yet: systemd warns and keeps the old environment
    "docker info --format '{{.HTTPProxy}}'",
    'sudo systemctl daemon-reload && sudo systemctl restart docker',
    "docker info --format '{{.HTTPProxy}}|{{.HTTPSProxy}}|{{.NoProxy}}'",
    `sudo rm -f ${dir}/zz-50-a.conf ${dir}/zz-60-b.conf && sudo systemctl daemon-reload && sudo systemctl restart docker`,
    "docker info --format '{{.HTTPSProxy}}'",
  ].join(' && ');
  const r = onNode('node3', cmd);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.is(lines[0], "Warning: The unit file, source configuration file or drop-ins of docker.service changed on disk. Run 'systemctl daemon-reload' to reload units.");
  assert.is(lines[1], info.proxy.url, 'restart without daemon-reload: the old environment');
  assert.is(lines[2], 'http://two:2|http://x y:2|a,b', 'later file wins, quotes keep spaces');
  assert.is(lines[3], info.proxy.url);
});

test('/ping through the LB: a redirect loop without use-forwarded-headers, pong with it', () => {
  const lb = play('ha-l7', ['--tags', 'lb', '-e', `work_dir=${join(work, 'l7')}`]);
  assert.is(lb.code, 0, show(lb));
  let c = cluster({ ingress: { options: {} }, rancher });
  assert.is(c.status, 0, c.stderr);
  // The LB ends TLS and says X-Forwarded-Proto: https; ingress-nginx replaces it with the scheme of
  // its own connection (http), so Rancher redirects to https, which comes back the same way.
  const once = curlLb('/ping');
  assert.is(once.code, 302);
  assert.is(once.location, `https://${info.fqdn}/ping`);
  const loop = curlLb('/ping', ['-L', '--max-redirs', '5']);
  assert.is(loop.rc, 47, `curl: too many redirects\n${loop.stderr}`);
  assert.is(loop.redirects, 5);
  c = cluster({ ingress: { options: { 'use-forwarded-headers': 'true' } } });
  assert.is(c.status, 0, c.stderr);
  const ok = curlLb('/ping', ['-L', '--max-redirs', '5']);
  assert.is(ok.code, 200);
  assert.is(ok.body, 'pong');
  assert.is(ok.redirects, 0);
  // Other paths echo what reached Rancher: the LB's headers passed through the ingress.
  const echo = JSON.parse(curlLb('/v3').body) as { node: string; headers: Record<string, string> };
  assert.ok(info.nodes.some((n) => n.name === echo.node));
  assert.is(echo.headers['x-forwarded-proto'], 'https');
  assert.is(echo.headers['x-forwarded-port'], '443');
  assert.is(echo.headers.host, info.fqdn);
});

test('ingress TLS with ssl-redirect: http → 308 https; ssl_redirect "false" turns it off; no Rancher → 404', () => {
  assert.is(cluster({ rancher: { ...rancher, ingress_tls: true } }).status, 0);
  const node = info.nodes[0]!.address;
  const r = onNode('node2', `curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: ${info.fqdn}' http://${node}/dashboard/`);
  assert.is(r.stdout, `308 https://${info.fqdn}/dashboard`);
  assert.is(cluster({ rancher: { ...rancher, ingress_tls: true, ssl_redirect: 'false' } }).status, 0);
  const off = onNode('node2', `curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: ${info.fqdn}' -H 'X-Forwarded-Proto: https' http://${node}/ping`);
  assert.is(off.stdout, '200 ');
  assert.is(cluster({ rancher: null }).status, 0);
  assert.is(curlLb('/ping').code, 404);
  const show = spawnSync(process.execPath, ['lab/fixtures/cluster.mjs', 'show'], { encoding: 'utf8', env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir } });
  assert.equal(JSON.parse(show.stdout), { ingress: { options: { 'use-forwarded-headers': 'true' } } });
});

test.after(async () => {
  rmSync(work, { recursive: true, force: true });
  await lab.labDown(NAME);
});
test.run();
