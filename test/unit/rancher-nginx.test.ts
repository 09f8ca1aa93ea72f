// configure-nginx-lb against a real nginx binary on this machine, in a throw-away config
// directory: the rendered l7/l4 configs pass the real `nginx -t`, a config nginx rejects leaves
// the previous files in place without a reload, the run is idempotent and check mode writes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import lb, { withWorkerLimits } from '../../tasks/configure-nginx-lb.js';
import { makePki } from './rancher-pki.js';

// nginx (and its stream module) come from Debian; install them when missing, without starting a daemon.
function ensureNginx(): void {
  const ok = () => existsSync('/usr/sbin/nginx') && existsSync('/usr/lib/nginx/modules/ngx_stream_module.so');
  if (ok()) return;
  const policy = '/usr/sbin/policy-rc.d';
  const had = existsSync(policy);
  if (!had) writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  try {
    execSync('DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx libnginx-mod-stream', { stdio: 'ignore' });
  } finally {
    if (!had) rmSync(policy, { force: true });
  }
}
ensureNginx();

const pki = makePki('rancher.example.com');
const FQDN = 'rancher.example.com';
const UP = ['10.9.0.11', '10.9.0.12', '10.9.0.13'];

function prefix(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rp-nginx-'));
  for (const d of ['conf.d', 'sites-available', 'sites-enabled']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events {}
http {
    access_log off;
    include ${dir}/conf.d/*.conf;
    include ${dir}/sites-enabled/*;
}
`);
  // Like Debian's default site: a port-80 default server (it must go for l4).
  writeFileSync(join(dir, 'sites-available', 'default'), 'server { listen 80 default_server; return 404; }\n');
  symlinkSync(join(dir, 'sites-available', 'default'), join(dir, 'sites-enabled', 'default'));
  return dir;
}

function params(dir: string, extra: Record<string, unknown> = {}) {
  return {
    mode: 'l7' as const, fqdn: FQDN, upstreams: UP, tls_cert: pki.chain, tls_key: pki.serverKey,
    conf_dir: dir, health_check: 'off' as const,
    test_cmd: `nginx -t -p ${dir} -c ${dir}/nginx.conf -e ${dir}/error.log`,
    reload_cmd: `echo reload >> ${dir}/reloads`,
    ...extra,
  };
}

const reloads = (dir: string) => (existsSync(join(dir, 'reloads')) ? readFileSync(join(dir, 'reloads'), 'utf8').split('\n').filter(Boolean).length : 0);
const nginxT = (dir: string) => execFileSync('nginx', ['-t', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], { stdio: 'pipe' });

test('l7: writes a config that real nginx -t accepts, with every header Rancher needs; reloads once', async () => {
  const dir = prefix();
  const r = await runTask(lb, params(dir));
  assert.is(r.status, 'changed', r.msg);
  nginxT(dir);
  const conf = readFileSync(join(dir, 'conf.d', 'rancher.conf'), 'utf8');
  for (const line of [
    'listen 443 ssl http2;', `server_name ${FQDN};`, 'proxy_set_header Host $host;',
    'proxy_set_header X-Forwarded-Proto https;', 'proxy_set_header X-Forwarded-Port $server_port;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;', 'proxy_set_header Upgrade $http_upgrade;',
    'proxy_set_header Connection $rancher_connection_upgrade;', 'proxy_http_version 1.1;', 'proxy_buffering off;',
    'proxy_read_timeout 1800s;', 'return 301 https://$host$request_uri;',
  ]) assert.ok(conf.includes(line), `config has ${line}`);
  for (const u of UP) assert.ok(conf.includes(`server ${u}:80 max_fails=3 fail_timeout=10s;`), u);
  assert.is(statSync(join(dir, 'ssl', `${FQDN}.key`)).mode & 0o777, 0o600);
  assert.is(readFileSync(join(dir, 'ssl', `${FQDN}.crt`), 'utf8'), readFileSync(pki.chain, 'utf8'));
  assert.is(reloads(dir), 1);
  assert.ok(r.diff!.some((d) => d.path.endsWith('.key') && /^\(secret, \d+ bytes\)/.test(d.after ?? '')), 'key content never in the diff');
  assert.not.ok(JSON.stringify(r).includes('PRIVATE KEY'), 'no key material in the result');

  const again = await runTask(lb, params(dir));
  assert.is(again.status, 'ok', again.msg);
  assert.is(reloads(dir), 1, 'no reload when nothing changed');
  rmSync(dir, { recursive: true, force: true });
});

test('l4: stream passthrough on 80/443 included from nginx.conf, l7 file and default site removed', async () => {
  const dir = prefix();
  assert.is((await runTask(lb, params(dir))).status, 'changed');
  const r = await runTask(lb, params(dir, { mode: 'l4' }));
  assert.is(r.status, 'changed', r.msg);
  nginxT(dir);
  const stream = readFileSync(join(dir, 'rancher-stream.conf'), 'utf8');
  assert.match(stream, /stream \{/);
  for (const u of UP) assert.ok(stream.includes(`server ${u}:443`) && stream.includes(`server ${u}:80`), u);
  assert.match(readFileSync(join(dir, 'nginx.conf'), 'utf8'), new RegExp(`\\ninclude ${dir}/rancher-stream.conf;\\n`));
  assert.not.ok(existsSync(join(dir, 'conf.d', 'rancher.conf')));
  assert.not.ok(existsSync(join(dir, 'sites-enabled', 'default')));
  assert.is((await runTask(lb, params(dir, { mode: 'l4' }))).status, 'ok');
  // and back to l7: the include goes, the l7 file returns
  assert.is((await runTask(lb, params(dir))).status, 'changed');
  nginxT(dir);
  assert.not.match(readFileSync(join(dir, 'nginx.conf'), 'utf8'), /rancher-stream/);
  rmSync(dir, { recursive: true, force: true });
});

test('nginx.conf takes Rancher\'s example limits (worker_processes 4, worker_rlimit_nofile 40000, worker_connections 8192), nginx -t passes', async () => {
  for (const mode of ['l7', 'l4'] as const) {
    const dir = prefix();
    const r = await runTask(lb, params(dir, { mode }));
    assert.is(r.status, 'changed', r.msg);
    const conf = readFileSync(join(dir, 'nginx.conf'), 'utf8');
    assert.match(conf, /^worker_processes 4;\nworker_rlimit_nofile 40000;\n/, mode);
    assert.match(conf, /events \{\n {4}worker_connections 8192;\n\}/, mode);
    nginxT(dir);
    assert.is((await runTask(lb, params(dir, { mode }))).status, 'ok', `${mode}: idempotent`);
    rmSync(dir, { recursive: true, force: true });
  }
  // Debian's stock nginx.conf: its own values replaced in place, nothing else touched.
  const debian = 'user www-data;\nworker_processes auto;\npid /run/nginx.pid;\n# worker_processes 9;\nevents {\n\tworker_connections 768;\n\t# multi_accept on;\n}\nhttp {\n}\n';
  assert.is(withWorkerLimits(debian, { processes: 4, nofile: 40000, connections: 8192 }),
    'worker_rlimit_nofile 40000;\nuser www-data;\nworker_processes 4;\npid /run/nginx.pid;\n# worker_processes 9;\nevents {\n\tworker_connections 8192;\n\t# multi_accept on;\n}\nhttp {\n}\n');
});

test('a config nginx -t rejects: previous files restored, no reload, nginx output in the message', async () => {
  const dir = prefix();
  assert.is((await runTask(lb, params(dir))).status, 'changed');
  const before = Object.fromEntries(['conf.d/rancher.conf', `ssl/${FQDN}.crt`, `ssl/${FQDN}.key`, 'nginx.conf']
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
  // Something else on the LB already defines an upstream of the same name: the new config cannot load.
  writeFileSync(join(dir, 'conf.d', 'other.conf'), 'upstream rancher { server 127.0.0.1:8080; }\n');
  const r = await runTask(lb, params(dir, { fqdn: 'rancher2.example.com', upstreams: ['10.9.0.21'] }));
  assert.is(r.status, 'failed');
  assert.match(r.msg, /nginx -t rejected the new config, the previous config was kept and nginx was not reloaded/);
  assert.match(r.msg, /duplicate upstream "rancher"/);
  rmSync(join(dir, 'conf.d', 'other.conf'));
  assert.not.ok(existsSync(join(dir, 'ssl', 'rancher2.example.com.crt')), 'new files removed again');
  for (const [f, text] of Object.entries(before)) assert.is(readFileSync(join(dir, f), 'utf8'), text, `${f} restored`);
  assert.is(reloads(dir), 1, 'only the first, good run reloaded');
  nginxT(dir);
  rmSync(dir, { recursive: true, force: true });
});

test('check mode reports the would-be files and writes nothing', async () => {
  const dir = prefix();
  const snapshot = () => readdirSync(dir, { recursive: true }).sort().join('\n') + readFileSync(join(dir, 'nginx.conf'), 'utf8');
  const before = snapshot();
  const r = await runTask(lb, params(dir, { mode: 'l4' }), { check: true });
  assert.is(r.status, 'changed');
  assert.match(r.msg, /write .*rancher-stream\.conf/);
  assert.is(snapshot(), before);
  assert.ok(lstatSync(join(dir, 'sites-enabled', 'default')).isSymbolicLink());
  assert.is(reloads(dir), 0);
  rmSync(dir, { recursive: true, force: true });
});

test('a key that does not belong to the certificate is rejected before anything runs', async () => {
  const dir = prefix();
  try {
    await runTask(lb, params(dir, { tls_key: join(pki.dir, 'ca.key') }));
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /tls_key .*ca\.key does not belong to the certificate/);
  }
  assert.not.ok(existsSync(join(dir, 'conf.d', 'rancher.conf')));
  rmSync(dir, { recursive: true, force: true });
});

test('l7 without certificate params is rejected before anything runs', async () => {
  try {
    await runTask(lb, { mode: 'l7', fqdn: FQDN, upstreams: UP });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /mode l7 needs tls_cert and tls_key/);
  }
});

test.after(() => rmSync(pki.dir, { recursive: true, force: true }));
test.run();
