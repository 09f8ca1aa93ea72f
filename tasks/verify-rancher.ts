// verify-rancher: the last word of an install. Fetches https://FQDN/ping through the load balancer,
// resolving FQDN as the user's browser would (the `dns_resolver` var when set, else the system
// resolver) and verifying TLS against `ca_cert` when set, and fails unless Rancher answers 200
// `pong` (rancher/rancher serves `/ping` with `pong`). A redirect back to the same https URL is
// Rancher redirecting a request it believes came over http: the X-Forwarded-Proto it got was
// not https, which behind a TLS-terminating LB means ingress-nginx overwrote it (it sets the header
// from its own connection unless `use-forwarded-headers: "true"`).
// From Rancher v2.2.0 `/ping` and `/healthz` are served without that redirect (rancher/rancher
// commit d42b05e198, pkg/dynamiclistener/server.go httpRedirect; from v2.4 rancher/dynamiclistener
// redirect.go exempts /ping, /health* and /.well-known/), so a pong proves nothing about the
// header there: a path that is not exempt (`also`, default /v3/settings/server-url) is fetched too
// and a redirect of it back to itself fails the check the same way.
import type { LookupFunction } from 'node:net';
import { defineTask } from '../runner/sdk/index.js';
import { dns, https } from './_lazy-builtins.js';
import { fqdnProblems, isIPv4 } from './rancher-rules.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    fqdn: { type: 'string', description: 'Rancher host name (default: vars fqdn).' },
    port: { type: 'integer', minimum: 1, maximum: 65535, default: 443, description: 'HTTPS port of the load balancer.' },
    path: { type: 'string', default: '/ping', description: 'Path fetched; Rancher answers /ping with pong.' },
    resolver: { type: 'string', description: 'DNS server to resolve fqdn with, "ip" or "ip:port" (default: vars dns_resolver, else the system resolver).' },
    ca_cert: { type: 'string', description: 'CA file (PEM) on the controller to verify the certificate with (default: vars ca_cert, else the system CAs).' },
    also: {
      type: 'string', default: '/v3/settings/server-url',
      description: 'A path Rancher never exempts from its https redirect, fetched after the pong; a redirect to itself fails (empty: not fetched).',
    },
    retries: { type: 'integer', minimum: 0, default: 30, description: 'Further attempts while Rancher is still starting (no answer, 404, 5xx).' },
    delay: { type: 'number', minimum: 0, default: 5, description: 'Seconds between attempts.' },
    timeout: { type: 'number', minimum: 0.1, default: 10, description: 'Seconds per request.' },
  },
} as const;

interface Answer { status?: number; location?: string; body?: string; error?: string }

const MAX_BODY = 64 * 1024;

function fetchOnce(url: URL, ca: string | undefined, lookup: LookupFunction | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve) => {
    const req = https().request(url, { method: 'GET', ca, lookup, servername: url.hostname, timeout: timeoutMs, headers: { 'user-agent': 'rancher-play' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < MAX_BODY) body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode, location: res.headers.location, body }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    req.on('error', (e) => resolve({ error: `${(e as NodeJS.ErrnoException).code ?? 'error'}: ${e.message}` }));
    req.end();
  });
}

function resolverLookup(server: string): LookupFunction {
  const res = new (dns().Resolver)({ timeout: 5000, tries: 2 });
  res.setServers([server]);
  return ((host: string, opts: unknown, cb: (err: Error | null, address: string | { address: string; family: number }[], family?: number) => void) => {
    const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all;
    const done = (addrs: string[]) => (all ? cb(null, addrs.map((address) => ({ address, family: 4 }))) : cb(null, addrs[0]!, 4));
    if (isIPv4(host)) return done([host]);
    res.resolve4(host).then(
      (a) => (a.length ? done(a) : cb(Object.assign(new Error(`${host}: no A record (resolver ${server})`), { code: 'ENOTFOUND' }), '')),
      (e: Error) => cb(Object.assign(new Error(`${host}: ${e.message} (resolver ${server})`), { code: (e as NodeJS.ErrnoException).code }), ''),
    );
  }) as LookupFunction;
}

/** What one answer means: done (ok or a definite failure) or worth another attempt. */
function judge(url: URL, a: Answer): { ok: boolean; final: boolean; msg: string } {
  if (a.error) return { ok: false, final: /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|altnames/i.test(a.error), msg: `${url.href}: ${a.error}` };
  const body = (a.body ?? '').trim();
  if (a.status === 200 && body === 'pong') return { ok: true, final: true, msg: `${url.href} answered 200 pong` };
  if (a.status && a.status >= 300 && a.status < 400) {
    const to = a.location ? new URL(a.location, url) : undefined;
    if (to && to.href === url.href) {
      return {
        ok: false,
        final: true,
        msg: `redirect loop: ${url.href} answers ${a.status} to itself. Rancher redirects requests whose X-Forwarded-Proto is not https; ` +
          'behind a load balancer that terminates TLS, ingress-nginx replaces that header with its own connection\'s scheme (http) ' +
          'unless the cluster config sets ingress: { provider: nginx, options: { use-forwarded-headers: "true" } }',
      };
    }
    return { ok: false, final: true, msg: `${url.href} redirects (${a.status}) to ${a.location ?? '(no Location)'} instead of answering pong` };
  }
  const snippet = body.length > 120 ? `${body.slice(0, 120)}…` : body;
  const hint = a.status === 404 ? ' (no Ingress for this host on the nodes: the ingress controller\'s default backend answered)' : '';
  return { ok: false, final: false, msg: `${url.href} answered ${a.status}${snippet ? ` "${snippet}"` : ''}, expected 200 pong${hint}` };
}

export default defineTask({
  id: 'verify-rancher',
  summary: 'Rancher answers https://FQDN/ping with pong through the load balancer (redirect loops explained)',
  schema,
  runsOn: 'controller',
  precheck(params) {
    return params.fqdn !== undefined ? fqdnProblems(params.fqdn) : [];
  },
  async probe(ctx, params) {
    const fqdn = params.fqdn ?? (typeof ctx.vars.fqdn === 'string' ? ctx.vars.fqdn : '');
    const bad = fqdnProblems(fqdn);
    if (bad.length) return { changed: false, status: 'failed', msg: bad.join('; ') };
    const resolver = params.resolver ?? (typeof ctx.vars.dns_resolver === 'string' ? ctx.vars.dns_resolver : undefined);
    const caFile = params.ca_cert ?? (typeof ctx.vars.ca_cert === 'string' ? ctx.vars.ca_cert : undefined);
    let ca: string | undefined;
    if (caFile) {
      const buf = await ctx.readLocal(ctx.resolve(caFile));
      if (buf === null) return { changed: false, status: 'failed', msg: `ca_cert ${caFile} does not exist on the controller` };
      ca = buf.toString('utf8');
    }
    const url = new URL(`https://${fqdn}${params.port && params.port !== 443 ? `:${params.port}` : ''}${params.path}`);
    const lookup = resolver ? resolverLookup(resolver) : undefined;
    const retries = ctx.check ? 0 : params.retries;
    let last = { ok: false, final: false, msg: '' };
    for (let i = 0; i <= retries; i++) {
      if (i > 0) {
        ctx.log(`attempt ${i + 1}/${retries + 1}: ${last.msg}`);
        await new Promise((r) => setTimeout(r, params.delay * 1000));
        if (ctx.signal.aborted) break;
      }
      last = judge(url, await fetchOnce(url, ca, lookup, params.timeout * 1000));
      if (last.ok || last.final) break;
    }
    const via = resolver ? ` (resolved by ${resolver})` : '';
    if (last.ok && params.also) {
      // One more request, on a path without the /ping exemption: the redirect loop shows here.
      const other = new URL(params.also, url);
      let a = await fetchOnce(other, ca, lookup, params.timeout * 1000);
      for (let i = 0; i < retries && a.error && !ctx.signal.aborted; i++) {
        await new Promise((r) => setTimeout(r, params.delay * 1000));
        a = await fetchOnce(other, ca, lookup, params.timeout * 1000);
      }
      const loop = a.status && a.status >= 300 && a.status < 400 && a.location && new URL(a.location, other).href === other.href;
      if (loop) {
        const j = judge(other, a);
        const msg = `${url.href} answered pong, but ${j.msg} (Rancher v2.2.0 and later answer /ping without the redirect, so the pong alone proves nothing)`;
        if (ctx.check) return { changed: false, status: 'skipped', msg: `not answering yet: ${msg}${via}` };
        return { changed: false, status: 'failed', msg: `${msg}${via}` };
      }
      if (a.error) return { changed: false, status: ctx.check ? 'skipped' : 'failed', msg: `${last.msg}, but ${other.href}: ${a.error}${via}` };
      return { changed: false, msg: `${last.msg}; ${other.pathname} answered ${a.status} without a redirect loop${via}` };
    }
    if (last.ok) return { changed: false, msg: `${last.msg}${via}` };
    // In check mode the install it verifies may only have been predicted, not made.
    if (ctx.check) return { changed: false, status: 'skipped', msg: `not answering yet: ${last.msg}${via}` };
    return { changed: false, status: 'failed', msg: `${last.msg}${via}` };
  },
});
