// verify-rancher against a real HTTPS server on 127.0.0.1 (certificate from a test CA for the
// FQDN) reached by name through a small DNS server on 127.0.0.1, as the task resolves it on the
// lab: 200 pong passes; Rancher's redirect of a request that did not arrive as https (302 back to
// the same URL) is reported as a loop naming X-Forwarded-Proto and use-forwarded-headers; a 404
// default backend, an unverifiable certificate and check mode each say what the user sees.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:https';
import { readFileSync, rmSync } from 'node:fs';
import { runTask } from '../../runner/sdk/testing.js';
import verify from '../../tasks/verify-rancher.js';
import { makePki } from './rancher-pki.js';
// The lab's Rancher stand-in's rule: which paths each Rancher version serves without its redirect.
// @ts-expect-error: a plain .mjs fixture without types
import { servedWithoutRedirect } from '../../lab/fixtures/cluster.mjs';

const FQDN = 'rancher.example.com';
const pki = makePki(FQDN);
const other = makePki(FQDN);
let mode: 'pong' | 'rancher-behind-plain-ingress' | '404' = 'pong';
/** The Rancher version the server plays (its redirect exemptions follow it). */
let version = 'v2.0.6';
let https: Server;
let dns: Socket;
let port = 0;
let dnsPort = 0;

/** One A record, 127.0.0.1, for FQDN; NXDOMAIN for anything else (RFC 1035 message format). */
function answer(q: Buffer): Buffer {
  let i = 12;
  const labels: string[] = [];
  while (q[i]) {
    labels.push(q.subarray(i + 1, i + 1 + q[i]!).toString());
    i += q[i]! + 1;
  }
  const question = q.subarray(12, i + 5);
  const qtype = q.readUInt16BE(i + 1);
  const hit = labels.join('.').toLowerCase() === FQDN && qtype === 1;
  const head = Buffer.alloc(12);
  q.copy(head, 0, 0, 2);
  head.writeUInt16BE(hit ? 0x8180 : 0x8183, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt16BE(hit ? 1 : 0, 6);
  const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
  return Buffer.concat([head, question, ...(hit ? [rr] : [])]);
}

test.before(async () => {
  https = createServer({ cert: readFileSync(pki.chain), key: readFileSync(pki.serverKey) }, (req, res) => {
    if (mode === '404') return res.writeHead(404).end('default backend - 404');
    // Rancher behind an ingress that overwrote X-Forwarded-Proto with http: redirected to
    // https://host/path unless this version exempts the path.
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    if (mode === 'rancher-behind-plain-ingress' && !(servedWithoutRedirect as (v: string, p: string, x: string) => boolean)(version, path, 'http')) {
      return res.writeHead(302, { location: `https://${req.headers.host}${req.url}` }).end();
    }
    if (path === '/ping') return res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"type":"setting","name":"server-url","value":""}');
  });
  await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
  port = (https.address() as { port: number }).port;
  dns = createSocket('udp4');
  dns.on('message', (msg, from) => dns.send(answer(msg), from.port, from.address));
  await new Promise<void>((r) => dns.bind(0, '127.0.0.1', r));
  dnsPort = dns.address().port;
});
test.after(() => {
  https.close();
  dns.close();
  rmSync(pki.dir, { recursive: true, force: true });
  rmSync(other.dir, { recursive: true, force: true });
});

const params = (over: Record<string, unknown> = {}) => ({ port, resolver: `127.0.0.1:${dnsPort}`, retries: 0, delay: 0, ...over });
const vars = { fqdn: FQDN, ca_cert: pki.ca };

test('200 pong through the name the DNS gives, certificate verified against ca_cert: ok', async () => {
  mode = 'pong';
  const r = await runTask(verify, params(), { vars });
  assert.is(r.status, 'ok', r.msg);
  assert.is(r.msg, `https://${FQDN}:${port}/ping answered 200 pong; /v3/settings/server-url answered 200 without a redirect loop (resolved by 127.0.0.1:${dnsPort})`);
});

test('Rancher v2.2.0+ answers /ping without its redirect: the loop on /v3/settings/server-url still fails the check', async () => {
  mode = 'rancher-behind-plain-ingress';
  for (const v of ['v2.2.0', 'v2.7.6']) {
    version = v;
    const r = await runTask(verify, params(), { vars });
    assert.is(r.status, 'failed', `${v}: ${r.msg}`);
    assert.match(r.msg, new RegExp(`^https://${FQDN.replace(/\./g, '\\.')}:${port}/ping answered pong, but redirect loop: https://\\S+/v3/settings/server-url answers 302 to itself`));
    assert.match(r.msg, /X-Forwarded-Proto is not https/);
    assert.match(r.msg, /use-forwarded-headers: "true"/);
    assert.match(r.msg, /Rancher v2\.2\.0 and later answer \/ping without the redirect/);
  }
  // `also: ""` leaves the second request out: then the pong is all it sees (what the check did before).
  const r = await runTask(verify, params({ also: '' }), { vars });
  assert.is(r.status, 'ok', r.msg);
  version = 'v2.0.6';
  mode = 'pong';
});

test('Rancher redirecting to the same https URL: a redirect loop naming X-Forwarded-Proto and use-forwarded-headers', async () => {
  mode = 'rancher-behind-plain-ingress';
  const r = await runTask(verify, params({ retries: 3 }), { vars });
  assert.is(r.status, 'failed');
  assert.match(r.msg, new RegExp(`^redirect loop: https://${FQDN.replace(/\./g, '\\.')}:${port}/ping answers 302 to itself`));
  assert.match(r.msg, /X-Forwarded-Proto is not https/);
  assert.match(r.msg, /use-forwarded-headers: "true"/);
  assert.equal(r.logs, [], 'a loop is not retried');
});

test('404 from the default backend: retried while Rancher may be starting, then failed saying so', async () => {
  mode = '404';
  const r = await runTask(verify, params({ retries: 2 }), { vars });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /answered 404 "default backend - 404", expected 200 pong \(no Ingress for this host/);
  assert.is(r.logs.length, 2, 'two more attempts');
  mode = 'pong';
});

test('a certificate the ca_cert did not sign fails at once; check mode reports a silent Rancher as skipped', async () => {
  mode = 'pong';
  const r = await runTask(verify, params({ retries: 5 }), { vars: { ...vars, ca_cert: other.ca } });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify|self.signed|certificate/i);
  assert.equal(r.logs, []);
  mode = '404';
  const c = await runTask(verify, params({ retries: 5 }), { vars, check: true });
  assert.is(c.status, 'skipped');
  assert.match(c.msg, /^not answering yet: .*404/);
  mode = 'pong';
});

test('a name the resolver does not know: failed, naming the resolver', async () => {
  const r = await runTask(verify, params({ fqdn: 'nope.example.com' }), { vars });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /nope\.example\.com.*resolver 127\.0\.0\.1:\d+/);
});

test.run();
