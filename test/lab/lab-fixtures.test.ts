// The lab's stand-ins behave like the real CLIs where the tasks look: the `rke` fixture (output,
// exit codes, files written) and the nodes' ingress (default backend without Rancher; WebSocket
// upgrade through to the Rancher stand-in once deployed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, statSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { useLab, lab, type LabInfo } from './_lab.js';
import { tempDir } from '../unit/cli-helpers.js';

let info: LabInfo;
test.before(async () => { info = await useLab(); });

function rke(dir: string, config: string, env: Record<string, string> = {}) {
  writeFileSync(join(dir, 'rancher-cluster.yml'), config);
  // The lab's wrapper: the fixture knows the lab (RANCHER_PLAY_LAB_DIR), so it dials the nodes for real.
  // RKE v1.4.11 (the RKE v0.1.9 wrapper is the add-on inventory's; its rules: test/lab/rancher-versions.test.ts).
  const r = spawnSync(info.bin.rkeV1, ['up', '--config', 'rancher-cluster.yml'], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout + r.stderr, lines: (r.stdout + r.stderr).trim().split('\n') };
}
/** The lab's nodes, reached as RKE reaches them: through the bastion, with the lab key. */
const nodesYaml = (key: string, n = 3) => `bastion_host: { address: ${info.bastion.address}, user: rancher, ssh_key_path: ${info.sshKey} }\nnodes:\n`
  + info.nodes.slice(0, n).map((x) => `  - { address: ${x.address}, user: rancher, role: [controlplane, etcd, worker], ssh_key_path: ${key} }\n`).join('');
/** logrus text format (stdout is not a terminal): the message of each line at `level`. */
const msgs = (lines: string[], level: string) => lines.map((l) => new RegExp(`^time="[^"]+" level=${level} msg=(.*)$`).exec(l)?.[1])
  .filter((m): m is string => m !== undefined).map((m) => (m.startsWith('"') ? JSON.parse(m) as string : m));

test('rke fixture: reaches every lab node through the bastion (real ssh, real docker), writes kubeconfig and rkestate 0600', () => {
  const dir = tempDir('rp-rke-');
  const r = rke(dir, nodesYaml(info.sshKey) + 'addons: |-\n  ---\n  apiVersion: v1\n  kind: Namespace\n  metadata: { name: x }\n');
  assert.is(r.code, 0, r.out);
  const info_ = msgs(r.lines, 'info');
  assert.ok(info_.includes('Building Kubernetes cluster'), r.out);
  for (const n of info.nodes) assert.ok(info_.includes(`[dialer] Setup tunnel for host [${n.address}]`), r.out);
  assert.equal(msgs(r.lines, 'warning'), [], r.out);
  assert.is(info_[info_.length - 1], 'Finished building Kubernetes cluster successfully');
  const kube = join(dir, 'kube_config_rancher-cluster.yml');
  const state = join(dir, 'rancher-cluster.rkestate');
  assert.is(statSync(kube).mode & 0o777, 0o600);
  assert.is(statSync(state).mode & 0o777, 0o600);
  assert.is(parse(readFileSync(kube, 'utf8')).clusters[0].cluster.server, `https://${info.nodes[0].address}:6443`);
  assert.is(JSON.parse(readFileSync(state, 'utf8')).desiredState.rkeConfig.nodes.length, 3);
  // Same config → same files (so a backup of an unchanged cluster is recognised).
  const before = readFileSync(kube, 'utf8');
  assert.is(rke(dir, readFileSync(join(dir, 'rancher-cluster.yml'), 'utf8')).code, 0);
  assert.is(readFileSync(kube, 'utf8'), before);
});

test('rke fixture: a node whose dockerd is stopped is dropped with RKE\'s warnings; the run goes on, then ends with exit 1 "Provisioning incomplete"', async () => {
  await lab.stopService('docker', 'node3');
  try {
    const dir = tempDir('rp-rke-');
    const r = rke(dir, nodesYaml(info.sshKey));
    assert.is(r.code, 1, r.out);
    const w = msgs(r.lines, 'warning');
    const node3 = info.nodes[2]!.address;
    assert.equal(msgs(r.lines, 'fatal'), [`Provisioning incomplete, host(s) [${node3}] skipped because they could not be contacted`]);
    assert.ok(existsSync(join(dir, 'kube_config_rancher-cluster.yml')), 'the two-node cluster was built first (cmd/up.go checks at the end)');
    assert.match(w[0] ?? '', new RegExp(`^Failed to set up SSH tunneling for host \\[${node3.replace(/\./g, '\\.')}\\]: Can't retrieve Docker Info: .*Cannot connect to the Docker daemon at unix:///var/run/docker.sock`));
    assert.is(w[1], `Removing host [${node3}] from node lists`);
  } finally {
    await lab.startService('docker', 'node3');
  }
});

test.after(() => {
  // rke up handed its ingress options to the lab cluster: leave the shared lab as it was.
  spawnSync(process.execPath, [join('lab', 'fixtures', 'cluster.mjs'), 'apply', '{"ingress":null,"rancher":null}'], { env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir } });
});

test('rke fixture: what the real RKE rejects ends with level=fatal and exit 1, writing nothing', () => {
  const cases: [string, RegExp][] = [
    ['nodes: []\n', /^Failed to validate cluster: Cluster must have at least one etcd plane host/],
    ['nodes:\n  - { user: rancher, role: [etcd] }\n', /^Failed to validate cluster: Address for host \(1\) is not provided/],
    ['nodes:\n  - { address: 10.0.0.1, role: [etcd] }\n', /User for host \(1\) is not provided/],
    ['nodes:\n  - { address: 10.0.0.1, user: u }\n', /Role for host \(1\) is not provided/],
    [nodesYaml('/nonexistent/key'), /^Cluster must have at least one etcd plane host: failed to connect to the following etcd host\(s\)/],
    ['nodes: [\n', /^Failed to parse cluster file/],
  ];
  for (const [config, fata] of cases) {
    const dir = tempDir('rp-rke-');
    const r = rke(dir, config);
    assert.is(r.code, 1, config);
    assert.match(msgs(r.lines, 'fatal')[0] ?? r.out, fata);
    assert.not.ok(existsSync(join(dir, 'kube_config_rancher-cluster.yml')), `nothing written for ${config}`);
  }
  const dir = tempDir('rp-rke-');
  const forced = rke(dir, nodesYaml(info.sshKey), { RKE_FIXTURE_FAIL: 'Failed to start [etcd] container on host [10.213.1.11]' });
  assert.is(forced.code, 1);
  assert.equal(msgs(forced.lines, 'fatal'), ['Failed to start [etcd] container on host [10.213.1.11]']);
  assert.match(spawnSync(info.rkeFixture, ['--version'], { encoding: 'utf8' }).stdout, /^rke version v1\.4\.\d+\n$/);
});

test('node ingress without Rancher: /healthz 200, everything else the default backend 404', async () => {
  const r = await lab.labExec('lb1', `curl -s -w ' %{http_code}' http://${info.nodes[0].address}/healthz; echo; curl -s -w ' %{http_code}' -H 'Host: ${info.fqdn}' http://${info.nodes[0].address}/`);
  assert.is(r.stdout, ' 200\ndefault backend - 404 404');
});

test('node ingress → Rancher stand-in: a WebSocket upgrade gets 101 with a correct accept key, then echoes', async () => {
  const cluster = (spec: unknown) => spawnSync(process.execPath, [join('lab', 'fixtures', 'cluster.mjs'), 'apply', JSON.stringify(spec)],
    { encoding: 'utf8', env: { ...process.env, RANCHER_PLAY_LAB_DIR: info.dir } });
  const deployed = cluster({ ingress: { options: { 'use-forwarded-headers': 'true' } }, rancher: { hostname: info.fqdn, ingress_tls: false, ssl_redirect: null, version: 'v2.0.6', replicas: 3 } });
  assert.is(deployed.status, 0, deployed.stderr);
  const script = `
    const net = require('net'); const crypto = require('crypto');
    const key = crypto.randomBytes(16).toString('base64');
    const s = net.connect(80, '${info.nodes[0].address}', () => s.write('GET /v3/subscribe HTTP/1.1\\r\\nHost: ${info.fqdn}\\r\\nX-Forwarded-Proto: https\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: ' + key + '\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n'));
    let buf = Buffer.alloc(0), sent = false;
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      if (!sent && text.includes('\\r\\n\\r\\n')) {
        sent = true;
        const mask = Buffer.from([1, 2, 3, 4]); const p = Buffer.from('hello-ws');
        s.write(Buffer.concat([Buffer.from([0x81, 0x80 | p.length]), mask, Buffer.from(p.map((b, i) => b ^ mask[i % 4]))]));
      }
      if (text.includes('hello-ws')) {
        const expect = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
        console.log(JSON.stringify({ status: text.split('\\r\\n')[0], acceptOk: text.includes('Sec-WebSocket-Accept: ' + expect), echoed: true }));
        s.destroy();
      }
    });`;
  const file = join(info.dir, 'work', `ws-client-${process.pid}.cjs`); // the repo dir is visible on lab hosts
  writeFileSync(file, script);
  try {
    const r = await lab.labExec('lb1', `timeout 20 node ${file}`);
    assert.is(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.is(out.status, 'HTTP/1.1 101 Switching Protocols');
    assert.ok(out.acceptOk);
    assert.ok(out.echoed);
  } finally {
    rmSync(file);
    assert.is(cluster({ ingress: null, rancher: null }).status, 0, 'the shared lab back to no Rancher');
  }
});

test.run();
