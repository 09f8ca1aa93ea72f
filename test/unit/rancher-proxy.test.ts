// check-proxy on this machine against a real forward proxy on 127.0.0.1 (plain HTTP and CONNECT)
// and origins behind it: any origin answer proves the proxy (a registry's /v2/ answering 401),
// 407 means the proxy wants credentials, a proxy's 502 means it could not reach the origin.
// NO_PROXY is judged by coverage as Go matches it (CIDRs, ".svc", case and order, loopback), so
// Rancher's documented example passes; the drop-in is compared by value, not as a string.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask } from '../../runner/sdk/testing.js';
import checkProxy from '../../tasks/check-proxy.js';
import { noProxyCovers, noProxyMissing } from '../../tasks/rancher-rules.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-proxy-'));
let origin: Server;
let proxy: Server;
let originPort = 0;
let proxyPort = 0;
let wantAuth = false;

test.before(async () => {
  // A registry-like origin: /v2/ answers 401 with a Bearer challenge, as Docker Hub does anonymously.
  origin = createServer((req, res) => {
    if (req.url === '/v2/') return res.writeHead(401, { 'www-authenticate': 'Bearer realm="https://auth.example/token"' }).end('{"errors":[]}');
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as { port: number }).port;
  proxy = createServer((req, res) => {
    if (wantAuth && !req.headers['proxy-authorization']) return res.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' }).end();
    const u = new URL(req.url!);
    const up = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode!, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end('proxy: cannot reach origin'));
    up.end();
  });
  proxy.on('connect', (req, sock) => {
    if (wantAuth) return sock.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
    const [h, p] = req.url!.split(':');
    const up = connect(Number(p), h!, () => {
      sock.write('HTTP/1.1 200 Connection established\r\n\r\n');
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on('error', () => sock.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyPort = (proxy.address() as { port: number }).port;
});
test.after(() => {
  origin.close();
  proxy.close();
  rmSync(dir, { recursive: true, force: true });
});

const RANCHER_EXAMPLE = '127.0.0.0/8,10.0.0.0/8,cattle-system.svc,172.16.0.0/12,192.168.0.0/16';
const vars = { groups: { rancher: ['n1', 'n2'] }, hostvars: { n1: { address: '10.9.0.11' }, n2: { address: '192.168.7.12' } } };
const proxyUrl = () => `http://127.0.0.1:${proxyPort}`;
const run = (over: Record<string, unknown>, opts: { check?: boolean } = {}) =>
  runTask(checkProxy, { http_proxy: proxyUrl(), https_proxy: proxyUrl(), no_proxy: `${RANCHER_EXAMPLE},.svc,.cluster.local`, dropin_path: join(dir, 'none.conf'), timeout: 5, ...over }, { vars, ...opts });

test('NO_PROXY coverage as Go matches it: CIDRs cover addresses and networks, .svc covers x.svc, case and order free', () => {
  const list = `${RANCHER_EXAMPLE},.SVC,.cluster.local`.split(',').reverse();
  assert.equal(noProxyMissing(list, ['localhost', '127.0.0.1', '10.0.0.0/8', 'cattle-system.svc', '.svc', '.cluster.local', '10.9.0.11', '192.168.7.12']), []);
  assert.ok(noProxyCovers(['10.0.0.0/8'], '10.43.0.0/16'), 'a smaller network inside');
  assert.not.ok(noProxyCovers(['10.43.0.0/16'], '10.0.0.0/8'), 'not a larger one');
  assert.not.ok(noProxyCovers(['.svc'], '.cluster.local'));
  assert.not.ok(noProxyCovers(['cattle-system.svc'], '.svc'), 'one namespace does not cover every service');
  assert.not.ok(noProxyCovers(['.svc'], 'svc'), '".svc" matches subdomains only');
  assert.ok(noProxyCovers(['svc'], '.svc'), 'a bare domain matches its subdomains too');
  assert.ok(noProxyCovers([], 'localhost'), 'Go never proxies localhost');
  assert.ok(noProxyCovers([], '127.0.0.1'), 'nor loopback');
  assert.not.ok(noProxyCovers([], '0.0.0.0'));
  assert.ok(noProxyCovers(['*'], '10.9.0.11'));
  assert.not.ok(noProxyCovers(['10.9.0.11:8080'], '10.9.0.11'), 'a host:port entry covers that port only');
});

test('a registry /v2/ answering 401 through the proxy proves it, plain HTTP; Rancher\'s NO_PROXY example passes', async () => {
  const r = await run({ probe_url: `http://127.0.0.1:${originPort}/v2/` });
  assert.is(r.status, 'ok', r.msg);
  assert.match(r.msg, /reachable/);
  assert.ok(r.warnings.some((w) => /NO_PROXY does not cover 0\.0\.0\.0/.test(w)), 'only advised');
});

test('407: the proxy wants credentials, said so (plain and CONNECT)', async () => {
  wantAuth = true;
  try {
    const a = await run({ probe_url: `http://127.0.0.1:${originPort}/v2/` });
    assert.is(a.status, 'failed');
    assert.match(a.msg, /wants credentials \(407 Proxy Authentication Required\)/);
    const b = await run({ probe_url: `https://127.0.0.1:${originPort}/v2/` });
    assert.is(b.status, 'failed');
    assert.match(b.msg, /wants credentials \(407/);
  } finally {
    wantAuth = false;
  }
});

test('a proxy answering 502 (origin unreachable) fails; a proxy that is down fails as not answering', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as { port: number }).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const a = await run({ probe_url: `http://127.0.0.1:${deadPort}/` });
  assert.is(a.status, 'failed');
  assert.match(a.msg, /answered HTTP 502 .*the proxy cannot fetch it/);
  const b = await run({ http_proxy: `http://127.0.0.1:${deadPort}`, https_proxy: `http://127.0.0.1:${deadPort}`, probe_url: `http://127.0.0.1:${originPort}/` });
  assert.is(b.status, 'failed');
  assert.match(b.msg, /does not answer/);
});

test('drop-in compared by value: Rancher\'s example in another order and case passes; a missing entry fails', async () => {
  const file = join(dir, 'http-proxy.conf');
  writeFileSync(file, `[Service]\nEnvironment="HTTP_PROXY=${proxyUrl()}/" "HTTPS_PROXY=${proxyUrl()}" "NO_PROXY=.cluster.local,.SVC,${RANCHER_EXAMPLE.split(',').reverse().join(',')}"\n`);
  const ok = await run({ dropin_path: file });
  assert.is(ok.status, 'ok', ok.msg);
  const managed = await run({ dropin_path: file, manage_docker_dropin: true }, { check: true });
  assert.is(managed.status, 'ok', `an equivalent drop-in is not rewritten: ${managed.msg}`);
  // Rancher's documented Docker drop-in, as the docs give it (three Environment= lines, no .svc or
  // .cluster.local, which dockerd never looks up): accepted as it is, not rewritten, no restart.
  writeFileSync(file, `[Service]\nEnvironment="HTTP_PROXY=${proxyUrl()}"\nEnvironment="HTTPS_PROXY=${proxyUrl()}"\nEnvironment="NO_PROXY=${RANCHER_EXAMPLE}"\n`);
  const docs = await run({ dropin_path: file });
  assert.is(docs.status, 'ok', docs.msg);
  const keep = await run({ dropin_path: file, manage_docker_dropin: true }, { check: true });
  assert.is(keep.status, 'ok', `the documented drop-in is not rewritten: ${keep.msg}`);
  // A drop-in that would send the nodes' own traffic through the proxy fails.
  writeFileSync(file, `[Service]\nEnvironment="HTTP_PROXY=${proxyUrl()}" "HTTPS_PROXY=${proxyUrl()}" "NO_PROXY=127.0.0.0/8,.svc"\n`);
  const bad = await run({ dropin_path: file });
  assert.is(bad.status, "failed");
  assert.match(bad.msg, /NO_PROXY "127\.0\.0\.0\/8,\.svc" does not cover 10\.0\.0\.0\/8, 172\.16\.0\.0\/12, 192\.168\.0\.0\/16 \(set manage_docker_dropin/);
  const fix = await run({ dropin_path: file, manage_docker_dropin: true }, { check: true });
  assert.is(fix.status, 'changed');
});

// The real tinyproxy on loopback, its filter refusing one origin: its own 403 (and its 500 for an
// origin it cannot reach) is the proxy answering, not the origin, and fails the check; an origin's
// own 403 relayed by it passes.
const hasTinyproxy = spawnSync('sh', ['-c', 'command -v tinyproxy'], { encoding: 'utf8' }).status === 0;
test('tinyproxy refusing the probe URL (403 Filtered) fails; the origin\'s own 403 through it passes', async () => {
  if (!hasTinyproxy) { console.log('  (skipped: no tinyproxy)'); return; }
  const forbidden = createServer((req, res) => res.writeHead(403, { server: 'origin/1.0' }).end('forbidden by the origin'));
  await new Promise<void>((r) => forbidden.listen(0, '127.0.0.1', r));
  const fport = (forbidden.address() as { port: number }).port;
  const free = createServer();
  await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
  const tport = (free.address() as { port: number }).port;
  await new Promise<void>((r) => free.close(() => r()));
  writeFileSync(join(dir, 'filter'), `^127\\.0\\.0\\.2$\n`);
  writeFileSync(join(dir, 'tinyproxy.conf'), [`Port ${tport}`, 'Listen 127.0.0.1', 'Timeout 10', 'Allow 127.0.0.1',
    `Filter "${join(dir, 'filter')}"`, 'FilterType ere', 'ConnectPort 443', ''].join('\n'));
  const tp = spawn('tinyproxy', ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100; i++) {
      const up = await new Promise<boolean>((r) => { const c = connect(tport, '127.0.0.1', () => { c.end(); r(true); }); c.on('error', () => r(false)); });
      if (up) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const tpUrl = `http://127.0.0.1:${tport}`;
    const over = { http_proxy: tpUrl, https_proxy: tpUrl };
    const refused = await run({ ...over, probe_url: `http://127.0.0.2:${originPort}/v2/` });
    assert.is(refused.status, "failed", refused.msg);
    assert.match(refused.msg, new RegExp(`proxy ${tpUrl} itself answered 403 Filtered \\(tinyproxy\\) for http://127\\.0\\.0\\.2:${originPort}/v2/ on localhost, not the origin: the proxy refuses that destination`));
    const unreachable = await run({ ...over, probe_url: 'http://127.0.0.1:1/' });
    assert.is(unreachable.status, 'failed', unreachable.msg);
    assert.match(unreachable.msg, /itself answered 500 Unable to connect \(tinyproxy\) .*the proxy cannot fetch it/);
    const origin403 = await run({ ...over, probe_url: `http://127.0.0.1:${fport}/` });
    assert.is(origin403.status, 'ok', `the origin's own 403 proves the path: ${origin403.msg}`);
    const reg = await run({ ...over, probe_url: `http://127.0.0.1:${originPort}/v2/` });
    assert.is(reg.status, 'ok', reg.msg);
  } finally {
    tp.kill();
    forbidden.close();
  }
});

test.run();
