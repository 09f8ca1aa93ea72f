// playbooks/ha-helm.yml on a fresh lab of its own, through the CLI with --json: check predicts the
// install, the run is green and Rancher answers /ping → pong through the LB (TLS verified against
// the lab CA), the second run changes nothing, another rancher_version upgrades with exactly one
// helm upgrade, and a Rancher installed by hand with the chart's default `tls: ingress` behind the
// TLS-terminating L7 LB fails the final check with the redirect loop, which the playbook repairs.
// The install is a pair from the support matrix: Rancher v2.7.5 on Kubernetes v1.26 built by the
// RKE v1.4.11 stand-in (the lab's extra vars, `-e @.lab/NAME/rancher-v2.7.yml`); the upgrade goes
// to 2.7.6. A Rancher outside the matrix for v1.26 (v2.4.18) is refused before anything runs.
// The lab's helm/kubectl are the fixtures (lab/fixtures/helm-fixture, kubectl-fixture); they dial
// the kubeconfig's server as the real tools do: https://<node1>:6443, where the lab's API server
// stand-in (lab/fixtures/kube-api.mjs) answers inside node1's network, which the controller does not
// route. rancher-play reaches it through its SSH connection via the bastion (ctx.kubeApi); the
// operator's own helm calls here go through `ssh -L` via the bastion, as users did by hand.
// The ingress nginx and the Rancher stand-in behind it are real processes (lab/fixtures/cluster.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { lab, sshConfig, useLab, type LabInfo } from '../lab/_lab.js';

const NAME = 'hl';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-helm-lab-'));

interface TaskEv { event: 'task'; id: string; task?: string; host: string; status: string; changed: boolean; msg: string; check?: boolean }
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
/** ha-helm on the lab with its Helm-path vars (Kubernetes v1.26, RKE v1.4.11); no version: the first one installed here. */
const FIRST = 'v2.7.5';
const helmPlay = (verb: 'run' | 'check', version = FIRST, extra: string[] = []) =>
  cli([verb, 'playbooks/ha-helm.yml', '-i', info.inventory, '-e', `@${info.helmVars}`, '-e', `rancher_version=${version}`, '-e', `work_dir=${work}`, ...extra]);
const changedIds = (r: Run) => r.tasks.filter((t) => t.changed).map((t) => `${t.id}@${t.host}`).sort();
const totalChanged = (r: Run) => Object.values(r.recap?.hosts ?? {}).reduce((n, h) => n + h.changed, 0);
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}`;
/** The first event of task `id` that ran (the cert-manager release before Rancher's is skipped for l7). */
const task = (r: Run, id: string) => r.tasks.find((t) => t.id === id && t.status !== 'skipped') ?? r.tasks.find((t) => t.id === id);

const kubeconfig = () => join(work, 'kube_config_rancher-cluster.yml');
let forward: ChildProcess | undefined;
let forwardKube = '';
/** An operator's tunnel by hand: `ssh -N -L 127.0.0.1:PORT:<node1>:6443` via the bastion, and a
 * kubeconfig naming it, with tls-server-name keeping the certificate check on node1's address. */
async function operatorKubeconfig(): Promise<string> {
  if (!existsSync(kubeconfig())) return kubeconfig();
  if (forwardKube && forward && forward.exitCode === null) return forwardKube;
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
  const doc = parseYaml(readFileSync(kubeconfig(), 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  const server = new URL(doc.clusters[0]!.cluster.server!);
  forward = spawn('ssh', ['-F', sshConfig(info), '-N', '-o', 'ExitOnForwardFailure=yes', '-L', `127.0.0.1:${port}:${server.hostname}:${server.port}`, `rancher@${info.bastion.address}`], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = spawnSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]).status === 0;
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  doc.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
  doc.clusters[0]!.cluster['tls-server-name'] = server.hostname;
  forwardKube = join(work, 'operator-kubeconfig.yml');
  writeFileSync(forwardKube, stringifyYaml(doc), { mode: 0o600 });
  return forwardKube;
}

/** The lab's helm (the fixture, told which lab it deploys into), as an operator calls it: through
 * their own tunnel (`direct: true`: with the kubeconfig as RKE wrote it). */
async function helm(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
async function helm(opts: { direct: boolean }, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
async function helm(...all: unknown[]) {
  const direct = typeof all[0] === 'object' && (all[0] as { direct: boolean }).direct;
  const args = (typeof all[0] === 'object' ? all.slice(1) : all) as string[];
  const k = direct ? kubeconfig() : await operatorKubeconfig();
  const r = spawnSync(info.bin.helm, ['--kubeconfig', k, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** GET https://FQDN/path as a user would: the name from the lab DNS, TLS checked against the lab CA. */
async function get(path: string): Promise<{ status: number; body: string; location?: string }> {
  const resolver = new Resolver();
  resolver.setServers([info.dnsServer]);
  const [addr] = await resolver.resolve4(info.fqdn);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: addr, port: 443, path, servername: info.fqdn, ca: readFileSync(info.caCert), headers: { host: info.fqdn },
    }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, location: res.headers.location }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
});
test.after(async () => {
  forward?.kill();
  await lab.labDown(info?.name ?? NAME);
  rmSync(work, { recursive: true, force: true });
});

const node1 = () => info.nodes[0]!.address;
const apiLog = () => readFileSync(join(info.dir, 'cluster', info.nodes[0]!.name, 'kube-api.log'), 'utf8');

test('fresh lab: check predicts, run is green (helm and kubectl through the bastion tunnel) and ends with /ping → pong through the LB', async () => {
  assert.match(readFileSync(info.helmVars!, 'utf8'), /kubernetes_version: v1\.26\.8-rancher1-1/);
  const check = helmPlay('check');
  assert.is(check.code, 0, show(check));
  const predicted = changedIds(check);
  assert.ok(predicted.includes('helm-release@localhost'), show(check));
  assert.match(task(check, 'helm-release')!.msg, /would install rancher \(rancher-2\.7\.5\) in cattle-system/);
  assert.not.ok(check.tasks.some((t) => t.task?.startsWith('cert-manager')  && t.status !== 'skipped'), 'l7: no cert-manager');
  assert.is((await helm('status', 'rancher', '-n', 'cattle-system')).code, 1, 'check mode installed nothing');

  const run = helmPlay('run');
  assert.is(run.code, 0, show(run));
  assert.equal(changedIds(run), predicted, 'check predicted exactly what the run changed');
  assert.match(task(run, 'helm-release')!.msg, /installed rancher rancher-2\.7\.5 in cattle-system \(revision 1\)/);
  assert.match(run.tasks.find((t) => t.task === 'Rancher rolled out')!.msg, /deployment "rancher" successfully rolled out/);
  const last = run.tasks[run.tasks.length - 1]!;
  assert.is(last.id, 'verify-rancher');
  assert.is(last.status, 'ok', show(run));

  // The kubeconfig names node1, which only the bastion routes to; the API stand-in there saw
  // helm's and kubectl's requests with kube-admin's certificate, dialled from node1 itself (the
  // end of rancher-play's SSH connection), not from the controller.
  const k = parseYaml(readFileSync(kubeconfig(), 'utf8')) as { clusters: { cluster: { server: string } }[] };
  assert.is(k.clusters[0]!.cluster.server, `https://${node1()}:6443`);
  const log = apiLog();
  assert.match(log, new RegExp(`GET /version from (::ffff:)?${node1().replace(/\./g, '\\.')} kube-admin`), log);
  assert.match(log, new RegExp(`GET /apis/apps/v1 from (::ffff:)?${node1().replace(/\./g, '\\.')} kube-admin`), log);

  // The values as Rancher's chart reads them (user-supplied values of the release).
  const values = JSON.parse((await helm('get', 'values', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout) as Record<string, unknown>;
  assert.is(values.hostname, info.fqdn);
  assert.is(values.tls, 'external');
  assert.is(values.privateCA, true);
  assert.match(String(values.proxy), /^http:\/\/[\d.]+:3128$/);
  assert.match(String(values.noProxy), /^127\.0\.0\.0\/8,10\.0\.0\.0\/8,172\.16\.0\.0\/12,192\.168\.0\.0\/16,.*\.svc,\.cluster\.local/);
  for (const n of info.nodes) assert.ok(String(values.noProxy).split(',').includes(n.address), `noProxy has ${n.address}`);

  const ping = await get('/ping');
  assert.equal([ping.status, ping.body], [200, 'pong']);
});

test('without the tunnel the tools fail as the real ones do: the controller does not route to the node', async () => {
  const direct = await helm({ direct: true }, 'status', 'rancher', '-n', 'cattle-system');
  assert.is(direct.code, 1);
  const dial = `dial tcp ${node1().replace(/\./g, '\\.')}:6443: (connect: (no route to host|network is unreachable)|i/o timeout)`;
  assert.match(direct.stderr, new RegExp(`^Error: Kubernetes cluster unreachable: Get "https://${node1().replace(/\./g, '\\.')}:6443/version": ${dial}`), direct.stderr);
  const r = helmPlay('run', FIRST, ['-e', 'api_via=none']);
  assert.is(r.code, 2, show(r));
  const first = r.tasks.find((t) => t.status === 'failed')!;
  assert.is(first.id, 'kubectl-apply', show(r));
  assert.match(first.msg, new RegExp(`Unable to connect to the server: ${dial}`), first.msg);
});

test('an old helm is refused before anything is asked or touched: Helm 2, and a Helm 3 before 3.3.2', () => {
  for (const [v, why] of [['v2.17.0', /is Helm 2 \(its CLI has no -n and needs Tiller in the cluster\); helm-release needs Helm ≥ 3\.3\.2/], ['v3.2.4', /is Helm v3\.2\.4; helm-release needs Helm ≥ 3\.3\.2/]] as const) {
    const r = spawnSync(process.execPath, ['bin/rancher-play.js', 'run', 'playbooks/ha-helm.yml', '-i', info.inventory,
      '-e', `@${info.helmVars}`, '-e', 'rancher_version=v2.7.6', '-e', `work_dir=${work}`, '--tags', 'rancher', '--json'], { encoding: 'utf8', env: { ...process.env, HELM_FIXTURE_VERSION: v } });
    assert.is(r.status, 2, r.stdout + r.stderr);
    const ev = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv).find((e) => e.id === 'helm-release' && e.status !== 'skipped')!;
    assert.is(ev.status, 'failed');
    assert.match(ev.msg, why);
  }
});

test('second run: 0 changed', () => {
  const again = helmPlay('run');
  assert.is(again.code, 0, show(again));
  assert.is(totalChanged(again), 0, show(again));
  assert.match(task(again, 'helm-release')!.msg, /rancher-2\.7\.5 deployed in cattle-system with the wanted values/);
});

test('another rancher_version: check predicts the upgrade, the run makes exactly one', async () => {
  const check = helmPlay('check', 'v2.7.6');
  assert.is(check.code, 0, show(check));
  assert.equal(changedIds(check), ['helm-release@localhost'], show(check));
  assert.match(task(check, 'helm-release')!.msg, /would upgrade rancher: version 2\.7\.5 → 2\.7\.6/);

  const up = helmPlay('run', 'v2.7.6');
  assert.is(up.code, 0, show(up));
  assert.equal(changedIds(up), ['helm-release@localhost'], show(up));
  const hist = JSON.parse((await helm('history', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout) as { revision: number; chart: string; status: string }[];
  assert.equal(hist.map((h) => `${h.revision} ${h.chart} ${h.status}`), ['1 rancher-2.7.5 superseded', '2 rancher-2.7.6 deployed'], 'one upgrade');
  const ping = await get('/ping');
  assert.equal([ping.status, ping.body], [200, 'pong']);
  assert.is(totalChanged(helmPlay('run', 'v2.7.6')), 0);
});

test('tls: ingress (the chart default) on a cluster whose ingress rewrites X-Forwarded-Proto: redirect loop reported; the playbook puts tls=external back', async () => {
  // By hand: the cluster config without `use-forwarded-headers` (RKE's default ingress options),
  // `rke up` of it, and Rancher upgraded without `--set tls=external`. ingress-nginx then sets
  // X-Forwarded-Proto from its own plain-HTTP connection and, the Ingress having TLS, redirects
  // every request the LB forwards back to https://FQDN (ingress-nginx nginx.tmpl ssl-redirect).
  const config = join(work, 'rancher-cluster.yml');
  const text = readFileSync(config, 'utf8');
  assert.match(text, /use-forwarded-headers: "true"/);
  writeFileSync(config, text.replace(/\n# TLS ends at the layer-7[^]*$/, '\n'), { mode: 0o600 });
  const rke = spawnSync(info.bin.rkeV1, ['up', '--config', 'rancher-cluster.yml'], { cwd: work, encoding: 'utf8' });
  assert.is(rke.status, 0, rke.stdout + rke.stderr);
  const vals = join(work, 'by-hand.yaml');
  // Our certificate at the ingress (source: secret): the chart's default source needs cert-manager (see below).
  writeFileSync(vals, `hostname: ${info.fqdn}\nprivateCA: true\ningress:\n  tls:\n    source: secret\n`, { mode: 0o600 });
  const by = await helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.7.6', '-f', vals);
  assert.is(by.code, 0, by.stderr);
  const loop = await get('/ping');
  assert.is(loop.location, `https://${info.fqdn}/ping`, 'redirected to the very URL requested');

  const verify = helmPlay('run', 'v2.7.6', ['--tags', 'verify']);
  assert.is(verify.code, 2, show(verify));
  const v = task(verify, 'verify-rancher')!;
  assert.is(v.status, 'failed');
  assert.match(v.msg, /redirect loop/i);
  assert.match(v.msg, /X-Forwarded-Proto/);
  assert.match(v.msg, /use-forwarded-headers/);

  // The operator puts the option back (rke-up skips a config it already applied, so by hand);
  // the playbook then puts tls=external back.
  writeFileSync(config, text, { mode: 0o600 });
  const back = spawnSync(info.bin.rkeV1, ['up', '--config', 'rancher-cluster.yml'], { cwd: work, encoding: 'utf8' });
  assert.is(back.status, 0, back.stdout + back.stderr);
  const check = helmPlay('check', 'v2.7.6');
  assert.match(task(check, 'helm-release')!.msg, /values differ \(.*tls.*\)/, show(check));
  const fix = helmPlay('run', 'v2.7.6');
  assert.is(fix.code, 0, show(fix));
  assert.ok(changedIds(fix).includes('helm-release@localhost'), show(fix));
  const values = JSON.parse((await helm('get', 'values', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout) as Record<string, unknown>;
  assert.is(values.tls, 'external');
  const ping = await get('/ping');
  assert.equal([ping.status, ping.body], [200, 'pong']);
});

test('a Rancher whose chart does not admit the cluster\'s Kubernetes: refused before anything runs, naming the matrix row; helm would refuse it too', async () => {
  const r = helmPlay('run', 'v2.4.18');
  assert.is(r.code, 5, show(r));
  assert.match(r.stderr, /Rancher v2\.4\.18 supports Kubernetes v1\.15–v1\.19 for its cluster, not v1\.26\.8-rancher1-1 \(rule: Rancher ↔ Kubernetes; source: rancher\/rancher v2\.4\.13 chart\/Chart\.yaml kubeVersion: "< 1\.20\.0-0"/);
  // What helm itself says of that pair (the stand-in follows the chart's kubeVersion).
  const by = await helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.4.18');
  assert.match(by.stderr, /Error: UPGRADE FAILED: chart requires kubeVersion: < 1\.20\.0-0 which is incompatible with Kubernetes v1\.26\.8/);
  const again = helmPlay('check', 'v2.7.6');
  assert.is(totalChanged(again), 0, `nothing was recorded for the refused chart\n${show(again)}`);
});

test('a helm failure ends the run with exit 2 and helm\'s own text', () => {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', 'run', 'playbooks/ha-helm.yml', '-i', info.inventory,
    '-e', `@${info.helmVars}`, '-e', 'rancher_version=v2.7.7', '-e', `work_dir=${work}`, '--json'], {
    encoding: 'utf8', env: { ...process.env, HELM_FIXTURE_FAIL: 'context deadline exceeded' },
  });
  assert.is(r.status, 2, r.stdout + r.stderr);
  const ev = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv).find((e) => e.id === 'helm-release' && e.status !== 'skipped')!;
  assert.is(ev.status, 'failed');
  assert.match(ev.msg, /Error: UPGRADE FAILED: context deadline exceeded/);
});

test('l4 without tls_cert: the playbook installs cert-manager (CRDs, rollout) first; without it helm refuses the chart\'s Issuer', async () => {
  const l4 = ['-e', 'lb_mode=l4', '-e', 'tls_cert='];
  const check = helmPlay('check', 'v2.7.6', l4);
  assert.is(check.code, 0, show(check));
  const cm = check.tasks.find((t) => t.task === 'cert-manager chart (jetstack), with its CRDs (l4 without tls_cert)')!;
  assert.is(cm.status, 'changed', show(check));
  assert.match(cm.msg, /would install cert-manager \(cert-manager-1\.11\.0\) in cert-manager/);
  assert.is(check.tasks.find((t) => t.task?.startsWith('cert-manager rolled out'))!.status, 'skipped', 'no rollout to wait for in check mode');

  // By hand, without cert-manager: the chart's Issuer maps to no kind (Rancher's troubleshooting page).
  const vals = join(work, 'default-tls.yaml');
  writeFileSync(vals, `hostname: ${info.fqdn}\n`, { mode: 0o600 });
  const before = (await helm('history', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout;
  const no = await helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.7.6', '-f', vals);
  assert.is(no.code, 1);
  assert.match(no.stderr, /^Error: UPGRADE FAILED: unable to build kubernetes objects from new release manifest: resource mapping not found for name: "rancher" namespace: "cattle-system" from "": no matches for kind "Issuer" in version "certmanager\.k8s\.io\/v1alpha1"\nensure CRDs are installed first/, no.stderr);
  assert.is((await helm('history', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout, before, 'nothing recorded');

  const run = helmPlay('run', 'v2.7.6', [...l4, '--tags', 'cert-manager']);
  assert.is(run.code, 0, show(run));
  assert.match(run.tasks.find((t) => t.task === 'cert-manager chart (jetstack), with its CRDs (l4 without tls_cert)')!.msg, /installed cert-manager cert-manager-v1\.11\.0 in cert-manager/);
  assert.match(run.tasks.find((t) => t.task?.startsWith('cert-manager rolled out'))!.msg, /deployment "cert-manager-webhook" successfully rolled out/);
  assert.equal(JSON.parse((await helm('get', 'values', 'cert-manager', '-n', 'cert-manager', '-o', 'json')).stdout), { installCRDs: true });
  assert.is(totalChanged(helmPlay('run', 'v2.7.6', [...l4, '--tags', 'cert-manager'])), 0, 'idempotent');
  const yes = await helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.7.6', '-f', vals);
  assert.is(yes.code, 0, yes.stderr);
  const st = JSON.parse((await helm('status', 'rancher', '-n', 'cattle-system', '-o', 'json')).stdout) as { manifest: string };
  assert.match(st.manifest, /apiVersion: cert-manager\.io\/v1\nkind: Issuer/);
});

test('server-chart v2.0.6 (extensions/v1beta1 Deployment) on Kubernetes 1.26: helm refuses it as the real one does', async () => {
  const vals = join(work, 'old.yaml');
  writeFileSync(vals, `hostname: ${info.fqdn}\ntls: external\n`, { mode: 0o600 });
  const r = await helm('upgrade', '--install', 'rancher-old', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.0.6', '-f', vals);
  assert.is(r.code, 1);
  assert.match(r.stderr, /^Error: unable to build kubernetes objects from release manifest: resource mapping not found for name: "rancher-old" namespace: "cattle-system" from "": no matches for kind "Deployment" in version "extensions\/v1beta1"/, r.stderr);
});

test.run();
