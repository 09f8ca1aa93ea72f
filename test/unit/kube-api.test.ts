// ctx.kubeApi: helm/kubectl on the controller reach an API server that only an inventory host can
// dial, over rancher-play's own SSH connection to that host (a loopback sshd here), through a local
// forward and a temporary kubeconfig with tls-server-name. The API server is a TLS server on
// loopback with a certificate for a name the controller cannot resolve; the client is the real
// kubectl (`kubectl get --raw /version`), which checks the certificate against the kubeconfig's CA.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { defineTask, type KubeApi } from '../../runner/sdk/index.js';
import { runTask } from '../../runner/sdk/testing.js';
import { runPlaybook } from '../../runner/engine/run.js';
import { keygen, knownHostsFor, scratch, startSshd, type Sshd } from './ssh-helpers.js';
import { makePki, type Pki } from './rancher-pki.js';

const NAME = 'apinode'; // the certificate's name: only the tunnel's tls-server-name makes it match
const dir = scratch();
let sshd: Sshd;
let denied: Sshd; // an sshd that refuses TCP forwarding to the API port
let pki: Pki;
let api: https.Server;
let apiPort = 0;
const seen: { sni: string | false; path: string }[] = [];
const kubeconfig = join(dir, 'kube_config_cluster.yml');

function writeInventory(file: string, port: number, extraVars = ''): void {
  writeFileSync(file, `defaults: { ssh_key_path: ${join(dir, 'id')}, known_hosts: ${join(dir, 'known_hosts')}, user: root }
hosts:
  ${NAME}: { address: 127.0.0.1, port: ${port} }
  ctl: { connection: local }
vars:
  kubectl_binary: kubectl
${extraVars}`);
}

test.before(async () => {
  const key = join(dir, 'id');
  const pub = keygen(key);
  sshd = await startSshd([{ path: key, pub }]);
  denied = await startSshd([{ path: key, pub }], 'PermitOpen 127.0.0.1:1');
  writeFileSync(join(dir, 'known_hosts'), knownHostsFor(sshd, denied));
  pki = makePki(NAME);
  api = https.createServer({ cert: readFileSync(pki.chain), key: readFileSync(pki.serverKey) }, (req, res) => {
    seen.push({ sni: (req.socket as import('node:tls').TLSSocket).servername, path: req.url ?? '' });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ major: '1', minor: '26', gitVersion: 'v1.26.8' }));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', () => r()));
  apiPort = (api.address() as { port: number }).port;
  // As RKE writes it: the server is the node (here by its inventory name), the CA inline.
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    certificate-authority-data: ${Buffer.from(readFileSync(pki.ca)).toString('base64')}
    server: "https://${NAME}:${apiPort}"
contexts:
- name: local
  context: { cluster: local, user: kube-admin-local }
current-context: local
users:
- name: kube-admin-local
  user: { token: not-a-secret-here }
`, { mode: 0o600 });
  chmodSync(kubeconfig, 0o600);
  writeInventory(join(dir, 'inv.yml'), sshd.port);
  writeInventory(join(dir, 'inv-denied.yml'), denied.port);
  writeInventory(join(dir, 'inv-direct.yml'), sshd.port, '  api_via: none\n');
});

test.after(async () => {
  await sshd?.stop();
  await denied?.stop();
  await new Promise((r) => api?.close(r));
  rmSync(dir, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** What the task saw: the kubeconfig it was handed and real kubectl's answer through it. */
interface Seen { handed: string; mode: number; doc: Record<string, unknown>; out: string; err: string; code: number; api: KubeApi }
let last: Seen | undefined;
const probeVersion = defineTask({
  id: 'probe-version',
  summary: 'kubectl get --raw /version through ctx.kubeApi',
  runsOn: 'controller',
  schema: { type: 'object', properties: { kubeconfig: { type: 'string' }, keep: { type: 'boolean' } }, required: ['kubeconfig'] },
  async probe(ctx, p) {
    const a = await ctx.kubeApi(p.kubeconfig);
    const r = await ctx.run(`kubectl --kubeconfig ${ctx.quote(a.kubeconfig)} get --raw /version --request-timeout 20s`);
    last = {
      handed: a.kubeconfig, mode: statSync(a.kubeconfig).mode & 0o777, doc: parseYaml(readFileSync(a.kubeconfig, 'utf8')) as Record<string, unknown>,
      out: r.stdout, err: r.stderr, code: r.code, api: a,
    };
    if (!p.keep) await a.close();
    return r.code === 0 ? { changed: false, msg: r.stdout.trim() } : { changed: false, status: 'failed', msg: `${r.stderr.trim()}${a.problem() ? ` (${a.problem()})` : ''}` };
  },
});

const clusterOf = (doc: Record<string, unknown>) => (doc.clusters as { cluster: Record<string, string> }[])[0]!.cluster;
const refused = (port: number) => new Promise<boolean>((resolve) => {
  const s = connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(false); });
  s.once('error', () => resolve(true));
});

test('kubectl reaches the API server through the SSH connection of the host the kubeconfig names, TLS checked against the original name', async () => {
  seen.length = 0;
  const r = await runTask(probeVersion, { kubeconfig }, { inventory: join(dir, 'inv.yml'), host: 'ctl' });
  assert.is(r.status, 'ok', `${r.msg}\n${last?.err}`);
  assert.equal(JSON.parse(r.msg), { major: '1', minor: '26', gitVersion: 'v1.26.8' });
  assert.ok(seen.length >= 1 && seen.every((s) => s.sni === NAME), `the API server saw the requests with SNI = the original name: ${JSON.stringify(seen)}`);
  const c = clusterOf(last!.doc);
  assert.match(c.server!, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.is.not(c.server, `https://127.0.0.1:${apiPort}`, 'a local forward, not the server itself');
  assert.is(c['tls-server-name'], NAME);
  assert.is(c['certificate-authority-data'], clusterOf(parseYaml(readFileSync(kubeconfig, 'utf8')) as Record<string, unknown>)['certificate-authority-data']);
  assert.is(last!.mode, 0o600);
  assert.is(last!.api.via, NAME);
  // Closed: the copy is gone and the forward's port no longer answers.
  assert.not.ok(existsSync(last!.handed), 'temporary kubeconfig removed');
  assert.ok(await refused(Number(new URL(c.server!).port)), 'local forward closed');
  assert.match(readFileSync(kubeconfig, 'utf8'), new RegExp(`server: "https://${NAME}:${apiPort}"`), 'the original kubeconfig is untouched');
});

test('a task that does not close it (or throws): the engine closes the tunnel and removes the copy', async () => {
  const r = await runTask(probeVersion, { kubeconfig, keep: true }, { inventory: join(dir, 'inv.yml'), host: 'ctl' });
  assert.is(r.status, 'ok', r.msg);
  assert.not.ok(existsSync(last!.handed));
  assert.ok(await refused(Number(new URL(clusterOf(last!.doc).server!).port)));
  const thrower = defineTask({
    id: 'thrower', summary: 'opens a tunnel and throws', runsOn: 'controller', schema: { type: 'object' },
    async probe(ctx) {
      const a = await ctx.kubeApi(kubeconfig);
      last = { ...last!, handed: a.kubeconfig };
      throw new Error('task bug');
    },
  });
  const t = await runTask(thrower, {}, { inventory: join(dir, 'inv.yml'), host: 'ctl' });
  assert.is(t.status, 'failed');
  assert.match(t.msg, /task bug/);
  assert.not.ok(existsSync(last!.handed), 'removed on the error path too');
});

test('check mode: the probe (read-only) goes through the tunnel too', async () => {
  seen.length = 0;
  const r = await runTask(probeVersion, { kubeconfig }, { inventory: join(dir, 'inv.yml'), host: 'ctl', check: true });
  assert.is(r.status, 'ok', r.msg);
  assert.ok(seen.length >= 1);
});

test('the forward really goes through sshd: one that refuses to open the port fails the request, and says why', async () => {
  seen.length = 0;
  const r = await runTask(probeVersion, { kubeconfig }, { inventory: join(dir, 'inv-denied.yml'), host: 'ctl' });
  assert.is(r.status, 'failed');
  assert.is(seen.length, 0, 'nothing reached the API server');
  assert.match(r.msg, /^Unable to connect to the server|EOF|connection reset/m, r.msg);
  // ssh2's text for sshd's SSH_OPEN_ADMINISTRATIVELY_PROHIBITED ("open failed").
  assert.match(r.msg, /cannot open 127\.0\.0\.1:\d+ from apinode: (open failed|.*prohibited)/i, r.msg);
});

test('api_via: none hands the tool the kubeconfig as it is: kubectl dials the server itself', async () => {
  // The copy names 127.0.0.2, where nothing listens: the direct connection is refused, in kubectl's words.
  const direct = join(dir, 'direct.yml');
  writeFileSync(direct, readFileSync(kubeconfig, 'utf8').replace(`https://${NAME}:${apiPort}`, `https://127.0.0.2:${apiPort}`), { mode: 0o600 });
  const r = await runTask(probeVersion, { kubeconfig: direct }, { inventory: join(dir, 'inv-direct.yml'), host: 'ctl' });
  assert.is(last!.handed, direct, 'the original file');
  assert.is(last!.api.via, undefined);
  assert.is(r.status, 'failed');
  assert.match(r.msg, /The connection to the server 127\.0\.0\.2:\d+ was refused/);
});

test('a kubeconfig whose server is no inventory host: no tunnel; without a kubeconfig cluster: none either', async () => {
  const other = join(dir, 'other.yml');
  writeFileSync(other, readFileSync(kubeconfig, 'utf8').replace(`https://${NAME}:${apiPort}`, `https://127.0.0.2:${apiPort}`), { mode: 0o600 });
  await runTask(probeVersion, { kubeconfig: other }, { inventory: join(dir, 'inv.yml'), host: 'ctl' });
  assert.is(last!.handed, other);
  const empty = join(dir, 'empty.yml');
  writeFileSync(empty, 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  await runTask(probeVersion, { kubeconfig: empty }, { inventory: join(dir, 'inv.yml'), host: 'ctl' });
  assert.is(last!.handed, empty);
});

test('api_via naming no inventory host: a clear failure', async () => {
  writeInventory(join(dir, 'inv-bad.yml'), sshd.port, '  api_via: nosuch\n');
  const t = defineTask({
    id: 'open-only', summary: 'opens the API', runsOn: 'controller', schema: { type: 'object' },
    async probe(ctx) { await ctx.kubeApi(kubeconfig); return { changed: false, msg: 'opened' }; },
  });
  const r = await runTask(t, {}, { inventory: join(dir, 'inv-bad.yml'), host: 'ctl' });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /api_via: nosuch is not an inventory host \(hosts: apinode, ctl, localhost\)/, r.msg);
});

test('a playbook run: kubectl-rollout on the controller reaches the node-only API through the run\'s SSH pool', async () => {
  // kubectl stands in as a script that asks the API server with the real kubectl and then reports
  // the rollout (the TLS server here serves /version only).
  const fake = join(dir, 'kubectl-rollout-fake');
  writeFileSync(fake, `#!/bin/sh\nwhile [ $# -gt 0 ]; do case "$1" in --kubeconfig) k="$2"; shift;; esac; shift; done\nkubectl --kubeconfig "$k" get --raw /version --request-timeout 20s >/dev/null || exit 1\necho 'deployment "rancher" successfully rolled out'\n`, { mode: 0o755 });
  const pb = join(dir, 'pb.yml');
  writeFileSync(pb, `name: tunnel
plays:
  - name: p
    hosts: ctl
    tasks:
      - name: rolled out
        kubectl-rollout: { kubeconfig: ${kubeconfig}, namespace: cattle-system, resource: deploy/rancher, kubectl: ${fake} }
`);
  seen.length = 0;
  let out = '';
  const stdout = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
  const code = await runPlaybook(pb, join(dir, 'inv.yml'), { forks: 5, check: false, diff: false, json: true } as never, { stdout, stderr: stdout, env: {} });
  assert.is(code, 0, out);
  assert.match(out, /deployment \\"rancher\\" successfully rolled out/);
  const recap = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; hosts?: Record<string, unknown> }).find((e) => e.event === 'recap')!;
  assert.equal(Object.keys(recap.hosts!), ['ctl'], 'the tunnel\'s host is no target: not in the recap');
  assert.ok(seen.length >= 1 && seen.every((s) => s.sni === NAME), JSON.stringify(seen));
});

test.run();
