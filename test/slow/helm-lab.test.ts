// playbooks/ha-helm.yml on a fresh lab of its own, through the CLI with --json: check predicts the
// install, the run is green and Rancher answers /ping → pong through the LB (TLS verified against
// the lab CA), the second run changes nothing, another rancher_version upgrades with exactly one
// helm upgrade, and a Rancher installed by hand with the chart's default `tls: ingress` behind the
// TLS-terminating L7 LB fails the final check with the redirect loop, which the playbook repairs.
// The install is a pair from the support matrix: Rancher v2.7.5 on Kubernetes v1.26 built by the
// RKE v1.4.11 stand-in (the lab's extra vars, `-e @.lab/NAME/rancher-v2.7.yml`); the upgrade goes
// to 2.7.6. A Rancher outside the matrix for v1.26 (v2.4.18) is refused before anything runs.
// The lab's helm/kubectl are the fixtures (lab/fixtures/helm-fixture, kubectl-fixture); the
// ingress nginx and the Rancher stand-in behind it are real processes (lab/fixtures/cluster.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, useLab, type LabInfo } from '../lab/_lab.js';

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
/** ha-helm on the lab with its Helm-path vars (Kubernetes v1.26, RKE v1.4.11); no version: 2.7.5. */
const helmPlay = (verb: 'run' | 'check', version = 'v2.7.5', extra: string[] = []) =>
  cli([verb, 'playbooks/ha-helm.yml', '-i', info.inventory, '-e', `@${info.helmVars}`, '-e', `rancher_version=${version}`, '-e', `work_dir=${work}`, ...extra]);
const changedIds = (r: Run) => r.tasks.filter((t) => t.changed).map((t) => `${t.id}@${t.host}`).sort();
const totalChanged = (r: Run) => Object.values(r.recap?.hosts ?? {}).reduce((n, h) => n + h.changed, 0);
const show = (r: Run) => `exit ${r.code}\n${r.tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}`;
const task = (r: Run, id: string) => r.tasks.find((t) => t.id === id);

/** The lab's helm (the fixture, told which lab it deploys into), as an operator would call it. */
function helm(...args: string[]) {
  const r = spawnSync(info.bin.helm, ['--kubeconfig', join(work, 'kube_config_rancher-cluster.yml'), ...args], { encoding: 'utf8' });
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
  await lab.labDown(info?.name ?? NAME);
  rmSync(work, { recursive: true, force: true });
});

test('fresh lab: check predicts, run is green and ends with /ping → pong through the LB', async () => {
  assert.match(readFileSync(info.helmVars!, 'utf8'), /kubernetes_version: v1\.26\.8-rancher1-1/);
  const check = helmPlay('check');
  assert.is(check.code, 0, show(check));
  const predicted = changedIds(check);
  assert.ok(predicted.includes('helm-release@localhost'), show(check));
  assert.match(task(check, 'helm-release')!.msg, /would install rancher \(rancher-2\.7\.5\) in cattle-system/);
  assert.is(helm('status', 'rancher', '-n', 'cattle-system').code, 1, 'check mode installed nothing');

  const run = helmPlay('run');
  assert.is(run.code, 0, show(run));
  assert.equal(changedIds(run), predicted, 'check predicted exactly what the run changed');
  assert.match(task(run, 'helm-release')!.msg, /installed rancher rancher-2\.7\.5 in cattle-system \(revision 1\)/);
  assert.match(run.tasks.find((t) => t.task === 'Rancher rolled out')!.msg, /deployment "rancher" successfully rolled out/);
  const last = run.tasks[run.tasks.length - 1]!;
  assert.is(last.id, 'verify-rancher');
  assert.is(last.status, 'ok', show(run));

  // The values as Rancher's chart reads them (user-supplied values of the release).
  const values = JSON.parse(helm('get', 'values', 'rancher', '-n', 'cattle-system', '-o', 'json').stdout) as Record<string, unknown>;
  assert.is(values.hostname, info.fqdn);
  assert.is(values.tls, 'external');
  assert.is(values.privateCA, true);
  assert.match(String(values.proxy), /^http:\/\/[\d.]+:3128$/);
  assert.match(String(values.noProxy), /^127\.0\.0\.0\/8,10\.0\.0\.0\/8,172\.16\.0\.0\/12,192\.168\.0\.0\/16,.*\.svc,\.cluster\.local/);
  for (const n of info.nodes) assert.ok(String(values.noProxy).split(',').includes(n.address), `noProxy has ${n.address}`);

  const ping = await get('/ping');
  assert.equal([ping.status, ping.body], [200, 'pong']);
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
  const hist = JSON.parse(helm('history', 'rancher', '-n', 'cattle-system', '-o', 'json').stdout) as { revision: number; chart: string; status: string }[];
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
  writeFileSync(vals, `hostname: ${info.fqdn}\nprivateCA: true\n`, { mode: 0o600 });
  const by = helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.7.6', '-f', vals);
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
  const values = JSON.parse(helm('get', 'values', 'rancher', '-n', 'cattle-system', '-o', 'json').stdout) as Record<string, unknown>;
  assert.is(values.tls, 'external');
  const ping = await get('/ping');
  assert.equal([ping.status, ping.body], [200, 'pong']);
});

test('a Rancher whose chart does not admit the cluster\'s Kubernetes: refused before anything runs, naming the matrix row; helm would refuse it too', () => {
  const r = helmPlay('run', 'v2.4.18');
  assert.is(r.code, 5, show(r));
  assert.match(r.stderr, /Rancher v2\.4\.18 supports Kubernetes v1\.15–v1\.19 for its cluster, not v1\.26\.8-rancher1-1 \(rule: Rancher ↔ Kubernetes; source: rancher\/rancher v2\.4\.13 chart\/Chart\.yaml kubeVersion: "< 1\.20\.0-0"/);
  // What helm itself says of that pair (the stand-in follows the chart's kubeVersion).
  const by = helm('upgrade', '--install', 'rancher', 'rancher-stable/rancher', '--namespace', 'cattle-system', '--version', '2.4.18');
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
  const ev = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv).find((e) => e.id === 'helm-release')!;
  assert.is(ev.status, 'failed');
  assert.match(ev.msg, /Error: UPGRADE FAILED: context deadline exceeded/);
});

test.run();
