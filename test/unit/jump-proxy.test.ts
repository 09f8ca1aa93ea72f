// Controller-side HTTP through HTTP_PROXY/HTTPS_PROXY/NO_PROXY: a real forward proxy on
// 127.0.0.1 (absolute-form + CONNECT) and real http/https origins; the proxy's own log says
// whether a request went through it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { bypassProxy, httpGet, proxyFor, redactProxy } from '../../runner/sdk/proxy.js';
import { runTask } from '../../runner/sdk/testing.js';
import waitFor from '../../tasks/wait-for.js';

const NO = '';

/** uvu has no assert.rejects: resolve to the error a promise rejects with, failing otherwise. */
async function rejects(fn: () => Promise<unknown>, check?: RegExp | ((e: Error) => boolean)): Promise<Error> {
  let err: Error | undefined;
  try { await fn(); } catch (e) { err = e as Error; }
  if (!err) throw new assert.Assertion({ message: 'expected a rejection', operator: 'rejects', expects: 'error', actual: 'resolved', generated: false });
  if (check instanceof RegExp) assert.match(err.message, check);
  else if (check) assert.ok(check(err), `unexpected error: ${err.message}`);
  return err;
}

test('proxyFor picks the variable for the scheme, lower case first, and ALL_PROXY as fallback', () => {
  const env = { HTTP_PROXY: 'http://up:1', http_proxy: 'http://low:2', HTTPS_PROXY: 'http://sec:3' };
  assert.is(proxyFor('http://example.test/', env), 'http://low:2');
  assert.is(proxyFor('https://example.test/', env), 'http://sec:3');
  assert.is(proxyFor('https://example.test/', { http_proxy: 'http://p:1' }), undefined);
  assert.is(proxyFor('https://example.test/', { ALL_PROXY: 'http://all:9' }), 'http://all:9');
  assert.is(proxyFor('http://example.test/', { HTTP_PROXY: 'proxy.lab:3128' }), 'http://proxy.lab:3128');
  assert.is(proxyFor('http://example.test/', {}), undefined);
});

test('NO_PROXY: domains, suffixes, CIDR, IPs, ports and *', () => {
  const np = 'localhost,127.0.0.1, 0.0.0.0,10.0.0.0/8 cattle-system.svc,.svc,.cluster.local,example.com,internal.test:8080,fd00::/8';
  const direct = ['http://localhost/', 'http://127.0.0.1:9/', 'http://10.42.3.4/', 'http://x.cattle-system.svc/', 'http://a.b.svc/',
    'http://api.cluster.local/', 'http://example.com/', 'http://www.example.com/', 'http://internal.test:8080/', 'http://[fd00::1]/'];
  const proxied = ['http://11.0.0.1/', 'http://notexample.com/', 'http://svc/', 'http://cluster.local/', 'http://internal.test/',
    'http://127.0.0.2/', 'http://[fe80::1]/'];
  for (const u of direct) assert.ok(bypassProxy(u, np), `${u} should bypass`);
  for (const u of proxied) assert.not.ok(bypassProxy(u, np), `${u} should use the proxy`);
  assert.ok(bypassProxy('https://anything.test/', '*'));
  assert.is(proxyFor('http://10.1.2.3/', { HTTP_PROXY: 'http://p:1', no_proxy: '10.0.0.0/8' }), undefined);
  assert.is(proxyFor('http://10.1.2.3/', { HTTP_PROXY: 'http://p:1', NO_PROXY: '*.example.com' }), 'http://p:1');
  assert.not.ok(bypassProxy('http://10.1.2.3/', '10.0.0.0/99'), 'a malformed CIDR never matches');
});

test('proxy credentials are redacted for messages', () => {
  assert.is(redactProxy('http://alice:s3cret@proxy.lab:3128'), 'http://alice:***@proxy.lab:3128');
  assert.not.match(redactProxy('http://alice:s3cret@proxy.lab:3128/'), 's3cret');
});

// ------------------------------------------------------------- real servers

interface ProxyLog { method: string; target: string; auth?: string }

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/**
 * A minimal forward proxy: absolute-form GETs and CONNECT tunnels, logging each. `routes` maps
 * a virtual `host:port` (where nothing listens) to a real origin, so a request that skipped the
 * proxy cannot succeed by reaching the origin directly.
 */
function startProxy(routes: Map<string, string>): { server: http.Server; log: ProxyLog[]; port: () => Promise<number> } {
  const log: ProxyLog[] = [];
  const server = http.createServer((req, res) => {
    log.push({ method: req.method!, target: req.url!, auth: req.headers['proxy-authorization'] });
    const u = new URL(req.url!);
    const real = routes.get(u.host);
    if (real) u.host = real;
    const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode!, { ...ur.headers, 'x-via-test-proxy': '1' });
      ur.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  server.on('connect', (req, client, head) => {
    log.push({ method: 'CONNECT', target: req.url!, auth: req.headers['proxy-authorization'] });
    const [h, p] = (routes.get(req.url!) ?? req.url!).split(':');
    const up = net.connect(Number(p), h, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    up.on('error', () => client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n'));
    client.on('error', () => up.destroy());
  });
  return { server, log, port: () => listen(server) };
}

let dir: string;
let proxy: ReturnType<typeof startProxy>;
let proxyPort: number;
let httpOrigin: http.Server;
let httpPort: number;
let httpsOrigin: https.Server;
let httpsPort: number;
let ca: string;
/** Ports where nothing listens: reachable only through the proxy's routes. */
let vHttp: number;
let vHttps: number;
const routes = new Map<string, string>();

async function deadPort(): Promise<number> {
  const s = net.createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jump-proxy-'));
  // A throwaway self-signed certificate for 127.0.0.1, made with the system's openssl.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  ca = readFileSync(join(dir, 'cert.pem'), 'utf8');
  proxy = startProxy(routes);
  proxyPort = await proxy.port();
  httpOrigin = http.createServer((req, res) => res.end(`plain ${req.url}`));
  httpPort = await listen(httpOrigin);
  httpsOrigin = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: ca }, (req, res) => res.end(`tls ${req.url}`));
  httpsPort = await listen(httpsOrigin);
  vHttp = await deadPort();
  vHttps = await deadPort();
  routes.set(`127.0.0.1:${vHttp}`, `127.0.0.1:${httpPort}`);
  routes.set(`127.0.0.1:${vHttps}`, `127.0.0.1:${httpsPort}`);
});

test.after(() => {
  for (const s of [proxy.server, httpOrigin, httpsOrigin]) { s.closeAllConnections?.(); s.close(); }
  rmSync(dir, { recursive: true, force: true });
});

test('https through HTTPS_PROXY uses a CONNECT tunnel and still verifies TLS', async () => {
  proxy.log.length = 0;
  const env = { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: NO };
  const r = await httpGet(`https://127.0.0.1:${vHttps}/ping?x=1`, { env, ca });
  assert.is(r.status, 200);
  assert.is(r.body, 'tls /ping?x=1');
  assert.is(r.via, `http://127.0.0.1:${proxyPort}`);
  assert.equal(proxy.log.map((l) => `${l.method} ${l.target}`), [`CONNECT 127.0.0.1:${vHttps}`]);
  // Without the CA the tunnelled TLS handshake must fail: the proxy does not weaken verification.
  await rejects(() => httpGet(`https://127.0.0.1:${vHttps}/`, { env }), /certificate/i);
});

test('http through HTTP_PROXY sends an absolute-form request with proxy credentials', async () => {
  proxy.log.length = 0;
  const env = { http_proxy: `http://ops:pa55@127.0.0.1:${proxyPort}` };
  const r = await httpGet(`http://127.0.0.1:${vHttp}/healthz`, { env });
  assert.is(r.status, 200);
  assert.is(r.body, 'plain /healthz');
  assert.is(r.headers['x-via-test-proxy'], '1');
  assert.is(r.via, `http://ops:***@127.0.0.1:${proxyPort}`);
  assert.equal(proxy.log.map((l) => `${l.method} ${l.target}`), [`GET http://127.0.0.1:${vHttp}/healthz`]);
  assert.is(proxy.log[0]!.auth, `Basic ${Buffer.from('ops:pa55').toString('base64')}`);
});

test('NO_PROXY bypass: the origin is reached directly and the proxy sees nothing', async () => {
  proxy.log.length = 0;
  const env = { HTTPS_PROXY: `http://127.0.0.1:${proxyPort}`, HTTP_PROXY: `http://127.0.0.1:${proxyPort}`, NO_PROXY: 'localhost,127.0.0.0/8' };
  const a = await httpGet(`https://127.0.0.1:${httpsPort}/direct`, { env, ca });
  const b = await httpGet(`http://127.0.0.1:${httpPort}/direct`, { env });
  assert.is(a.body, 'tls /direct');
  assert.is(b.body, 'plain /direct');
  assert.is(a.via, undefined);
  assert.is(proxy.log.length, 0);
});

test('a proxy refusing CONNECT or an unreachable proxy is a clear error naming the proxy', async () => {
  const refusing = http.createServer();
  refusing.on('connect', (_req, sock) => sock.end('HTTP/1.1 403 Forbidden\r\n\r\n'));
  const rport = await listen(refusing);
  await rejects(() => httpGet(`https://127.0.0.1:${httpsPort}/`, { env: { HTTPS_PROXY: `http://u:topsecret@127.0.0.1:${rport}` }, ca }),
    (e: Error) => /refused CONNECT .*HTTP 403/.test(e.message) && !e.message.includes('topsecret'));
  refusing.close();
  // A port nobody listens on: bind then close to get one.
  const tmp = net.createServer();
  const dead = await listen(tmp);
  tmp.close();
  await rejects(() => httpGet(`http://127.0.0.1:${httpPort}/`, { env: { HTTP_PROXY: `http://127.0.0.1:${dead}` } }),
    (e: Error) => e.message.includes(`via proxy http://127.0.0.1:${dead}`) && /ECONNREFUSED/.test(e.message));
  // Credentials in the target URL are not repeated in the error either.
  await rejects(() => httpGet(`http://svc:tgtSecret9@127.0.0.1:${dead}/`, { env: {} }),
    (e: Error) => /ECONNREFUSED/.test(e.message) && !e.message.includes('tgtSecret9'));
});

test('wait-for url delegated to the controller goes through HTTP_PROXY, and NO_PROXY bypasses it', async () => {
  const saved = { ...process.env };
  try {
    proxy.log.length = 0;
    process.env.HTTP_PROXY = `http://127.0.0.1:${proxyPort}`;
    delete process.env.http_proxy;
    process.env.NO_PROXY = '';
    const r = await runTask(waitFor, { url: `http://127.0.0.1:${vHttp}/healthz`, delegate: 'controller', timeout: 5 });
    assert.is(r.status, 'ok', r.msg);
    assert.equal(proxy.log.map((l) => l.target), [`http://127.0.0.1:${vHttp}/healthz`]);
    assert.ok(r.logs.some((l) => l.includes(`via proxy http://127.0.0.1:${proxyPort}`)), r.logs.join('\n'));

    proxy.log.length = 0;
    process.env.no_proxy = '127.0.0.0/8';
    const d = await runTask(waitFor, { url: `http://127.0.0.1:${httpPort}/healthz`, delegate: 'controller', timeout: 5 });
    assert.is(d.status, 'ok', d.msg);
    assert.is(proxy.log.length, 0);
  } finally {
    for (const k of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('abort signal cancels a request that never answers', async () => {
  const silent = net.createServer(() => { /* accept and never answer */ });
  const port = await listen(silent);
  const ac = new AbortController();
  const p = httpGet(`http://127.0.0.1:${port}/`, { env: {}, signal: ac.signal });
  ac.abort(new Error('stop'));
  await rejects(() => p);
  silent.close();
});

test.run();
