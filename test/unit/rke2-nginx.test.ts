// configure-nginx-lb's stream_ports (the RKE2/K3s servers' 9345 and 6443 behind the same LB)
// against the real nginx binary in a throw-away config directory: in l7 the extra ports get a
// top-level stream block of their own beside the http one, in l4 they join Rancher's stream
// block; both pass the real `nginx -t`, are idempotent, and go away again when not asked for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask, ParamsError } from '../../runner/sdk/testing.js';
import lb from '../../tasks/configure-nginx-lb.js';
import { makePki } from './rancher-pki.js';

const pki = makePki('rancher.example.com');
const UP = ['10.9.0.11', '10.9.0.12', '10.9.0.13'];

function prefix(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rp-nginx-rke2-'));
  for (const d of ['conf.d', 'sites-enabled']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nload_module /usr/lib/nginx/modules/ngx_stream_module.so;\nevents {}\nhttp {\n    access_log off;\n    include ${dir}/conf.d/*.conf;\n}\n`);
  return dir;
}
const params = (dir: string, extra: Record<string, unknown> = {}) => ({
  mode: 'l7' as const, fqdn: 'rancher.example.com', upstreams: UP, tls_cert: pki.chain, tls_key: pki.serverKey,
  conf_dir: dir, health_check: 'off' as const, disable_default_site: false,
  test_cmd: `nginx -t -p ${dir} -c ${dir}/nginx.conf -e ${dir}/error.log`, reload_cmd: 'true', ...extra,
});
const nginxT = (dir: string) => execFileSync('nginx', ['-t', '-p', dir, '-c', `${dir}/nginx.conf`, '-e', `${dir}/error.log`], { stdio: 'pipe' });

test('l7 + stream_ports: TLS for Rancher in http, TCP 9345/6443 to every node in a stream block; nginx -t passes; idempotent', async () => {
  const dir = prefix();
  const r = await runTask(lb, params(dir, { stream_ports: [9345, 6443] }));
  assert.is(r.status, 'changed', r.msg);
  nginxT(dir);
  const stream = readFileSync(join(dir, 'rancher-stream.conf'), 'utf8');
  for (const port of [9345, 6443]) {
    assert.ok(stream.includes(`listen ${port};`), `listens on ${port}`);
    for (const u of UP) assert.ok(stream.includes(`server ${u}:${port} max_fails=3 fail_timeout=10s;`), `${u}:${port}`);
  }
  assert.not.match(stream, /listen 443;/, 'Rancher stays in the http block (TLS terminated here)');
  assert.ok(existsSync(join(dir, 'conf.d', 'rancher.conf')));
  assert.match(readFileSync(join(dir, 'nginx.conf'), 'utf8'), new RegExp(`\\ninclude ${dir}/rancher-stream.conf;\\n`));
  assert.is((await runTask(lb, params(dir, { stream_ports: [9345, 6443] }))).status, 'ok');
  // Without them (an RKE cluster again): the stream file and its include go.
  assert.is((await runTask(lb, params(dir))).status, 'changed');
  assert.not.ok(existsSync(join(dir, 'rancher-stream.conf')));
  assert.not.match(readFileSync(join(dir, 'nginx.conf'), 'utf8'), /rancher-stream/);
  nginxT(dir);
  rmSync(dir, { recursive: true, force: true });
});

test('l4 + stream_ports: the extra ports join the 80/443 passthrough; nginx -t passes', async () => {
  const dir = prefix();
  const r = await runTask(lb, params(dir, { mode: 'l4', stream_ports: [6443] }));
  assert.is(r.status, 'changed', r.msg);
  nginxT(dir);
  const stream = readFileSync(join(dir, 'rancher-stream.conf'), 'utf8');
  for (const l of ['listen 80;', 'listen 443;', 'listen 6443;']) assert.ok(stream.includes(l), l);
  assert.is((stream.match(/stream \{/g) ?? []).length, 1, 'one stream block');
  rmSync(dir, { recursive: true, force: true });
});

test('stream_ports may not repeat Rancher\'s own 80/443', async () => {
  const err = await runTask(lb, params(prefix(), { stream_ports: [443, 9345] })).then(() => null, (e: unknown) => e);
  assert.instance(err, ParamsError);
  assert.match((err as ParamsError).problems.join(), /stream_ports: 443 is already Rancher's own listener/);
});

test.run();
