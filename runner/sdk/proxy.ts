// Controller-side HTTP honouring HTTP_PROXY / HTTPS_PROXY / NO_PROXY. Jump hosts usually sit
// behind the same corporate proxy as the nodes, so every HTTP call the controller makes goes
// through here: absolute-form requests for http://, a CONNECT tunnel for https://. Only node:
// built-ins, so the one-file bundle needs nothing else. DNS lookups never use a proxy.
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import type * as Tls from 'node:tls';
import { createRequire } from 'node:module';
import net from 'node:net';

// http, https and tls load on the first request: validate and most tasks make none, and loading
// them is a few ms of every start.
const builtin = createRequire(import.meta.url);
const http = (): typeof Http => builtin('node:http') as typeof Http;
const https = (): typeof Https => builtin('node:https') as typeof Https;
const tls = (): typeof Tls => builtin('node:tls') as typeof Tls;

export type ProxyEnv = Record<string, string | undefined>;

/** First non-empty value among the lower- and upper-case spellings (lower case wins, like curl). */
function envVar(env: ProxyEnv, name: string): string | undefined {
  for (const k of [name.toLowerCase(), name.toUpperCase()]) {
    const v = env[k]?.trim();
    if (v) return v;
  }
  return undefined;
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** Host name of a URL without IPv6 brackets, lower-cased. */
function bareHost(u: URL): string {
  return u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * True when NO_PROXY says `url` must be fetched directly. Entries are comma or space separated:
 * `*` (everything), an IP, a CIDR (`10.0.0.0/8`), a domain (`example.com` matches it and its
 * subdomains), a suffix (`.svc` or `*.svc`: subdomains only), each optionally with `:port`.
 */
export function bypassProxy(url: string | URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const u = typeof url === 'string' ? new URL(url) : url;
  const host = bareHost(u);
  const port = Number(u.port || defaultPort(u.protocol));
  const ipVersion = net.isIP(host);
  for (let entry of noProxy.split(/[\s,]+/).map((e) => e.trim().toLowerCase()).filter(Boolean)) {
    if (entry === '*') return true;
    let entryPort: number | undefined;
    // `host:port` or `[v6]:port`, but not a bare IPv6 address.
    const pm = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(entry);
    if (pm) {
      entry = pm[1]!;
      entryPort = Number(pm[2]);
    }
    entry = entry.replace(/^\[|\]$/g, '');
    if (entryPort !== undefined && entryPort !== port) continue;
    if (entry.includes('/')) {
      const [base, bitsText] = entry.split('/') as [string, string];
      const family = net.isIP(base);
      const bits = Number(bitsText);
      if (!family || !ipVersion || family !== ipVersion || !Number.isInteger(bits)) continue;
      const list = new net.BlockList();
      try {
        list.addSubnet(base, bits, family === 6 ? 'ipv6' : 'ipv4');
      } catch {
        continue; // a malformed CIDR never matches rather than failing the run
      }
      if (list.check(host, ipVersion === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    if (net.isIP(entry)) {
      if (ipVersion && entry === host) return true;
      continue;
    }
    if (entry.startsWith('*.')) entry = entry.slice(1);
    if (entry.startsWith('.')) {
      if (host.endsWith(entry)) return true;
      continue;
    }
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/**
 * The proxy URL to use for `url`, or undefined for a direct connection. http:// uses
 * http_proxy/HTTP_PROXY, https:// uses https_proxy/HTTPS_PROXY; both fall back to ALL_PROXY.
 */
export function proxyFor(url: string | URL, env: ProxyEnv = process.env): string | undefined {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (bypassProxy(u, envVar(env, 'no_proxy'))) return undefined;
  const proxy = envVar(env, u.protocol === 'https:' ? 'https_proxy' : 'http_proxy') ?? envVar(env, 'all_proxy');
  if (!proxy) return undefined;
  // `proxy:3128` without a scheme means http, as curl and Go read it.
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(proxy) ? proxy : `http://${proxy}`;
}

/** A URL (proxy or target) with any password replaced, safe for messages and logs. */
export function redactProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return proxy.replace(/\/\/[^@/]*@/, '//***@');
  }
}

export interface HttpGetOptions {
  /** Environment to read the proxy variables from (default process.env). */
  env?: ProxyEnv;
  headers?: Record<string, string>;
  /** Aborts the request (connection, tunnel and body). */
  signal?: AbortSignal;
  /** Give up after this many milliseconds without a complete response. */
  timeoutMs?: number;
  /** Verify the server certificate (default true). */
  rejectUnauthorized?: boolean;
  /** Extra CA certificates (PEM) for https targets. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Keep at most this many body bytes (default 1 MiB). */
  maxBodyBytes?: number;
  method?: 'GET' | 'HEAD';
}

export interface HttpGetResult {
  status: number;
  headers: Http.IncomingHttpHeaders;
  body: string;
  /** The proxy used (credentials redacted), or undefined for a direct connection. */
  via?: string;
}

export class HttpGetError extends Error {
  constructor(message: string, public readonly via?: string) {
    super(message);
    this.name = 'HttpGetError';
  }
}

function proxyAuth(p: URL): Record<string, string> {
  if (!p.username) return {};
  const cred = `${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`;
  return { 'Proxy-Authorization': `Basic ${Buffer.from(cred).toString('base64')}` };
}

/** Open a CONNECT tunnel to host:port through an http:// proxy and hand back the raw socket. */
function tunnel(proxy: URL, host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const authority = net.isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    const req = http().request({
      host: bareHost(proxy),
      port: Number(proxy.port || 80),
      method: 'CONNECT',
      path: authority,
      headers: { Host: authority, ...proxyAuth(proxy) },
      signal,
    });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new HttpGetError(`proxy ${redactProxy(proxy.toString())} refused CONNECT ${authority}: HTTP ${res.statusCode}`));
        return;
      }
      resolve(socket);
    });
    req.once('error', reject);
    req.end();
  });
}

/**
 * GET (or HEAD) `url` from the controller, through the proxy the environment names for it.
 * Resolves for any HTTP status; rejects on network, proxy or TLS failures and on timeout.
 */
export async function httpGet(url: string, opts: HttpGetOptions = {}): Promise<HttpGetResult> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new HttpGetError(`unsupported URL scheme ${target.protocol} (http or https only)`);
  }
  const proxyUrl = proxyFor(target, opts.env ?? process.env);
  const proxy = proxyUrl ? new URL(proxyUrl) : undefined;
  if (proxy && proxy.protocol !== 'http:') {
    throw new HttpGetError(`proxy scheme ${proxy.protocol} is not supported (use an http:// proxy)`, redactProxy(proxyUrl!));
  }
  const via = proxyUrl ? redactProxy(proxyUrl) : undefined;

  const ac = new AbortController();
  const onAbort = (): void => ac.abort(opts.signal?.reason);
  if (opts.signal?.aborted) ac.abort(opts.signal.reason);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs ? setTimeout(() => ac.abort(new HttpGetError(`timed out after ${opts.timeoutMs} ms`, via)), opts.timeoutMs) : undefined;

  const host = bareHost(target);
  const port = Number(target.port || defaultPort(target.protocol));
  const path = `${target.pathname}${target.search}`;
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { 'User-Agent': 'rancher-play', ...opts.headers };

  try {
    let req: Http.ClientRequest;
    if (target.protocol === 'http:' && proxy) {
      // Absolute-form request line: the proxy connects to the origin itself.
      req = http().request({
        host: bareHost(proxy), port: Number(proxy.port || 80), method, path: target.toString(),
        headers: { Host: target.host, ...headers, ...proxyAuth(proxy) }, signal: ac.signal,
      });
    } else if (target.protocol === 'http:') {
      req = http().request({ host, port, method, path, headers, signal: ac.signal });
    } else {
      const socket = proxy ? await tunnel(proxy, host, port, ac.signal) : undefined;
      req = https().request({
        // No agent with a tunnel: Node uses `createConnection` only when no agent is set
        // (agent: false would build a fresh agent that dials the origin directly).
        host, port, method, path, headers, signal: ac.signal, agent: socket ? undefined : false,
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
        ca: opts.ca,
        ...(socket
          ? { createConnection: () => tls().connect({ socket, host, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: opts.rejectUnauthorized ?? true, ca: opts.ca }) }
          : {}),
      });
    }
    return await new Promise<HttpGetResult>((resolve, reject) => {
      req.once('error', reject);
      req.once('response', (res) => {
        const max = opts.maxBodyBytes ?? 1 << 20;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < max) chunks.push(c.subarray(0, max - size));
          size += c.length;
        });
        res.once('error', reject);
        res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), via }));
      });
      req.end();
    });
  } catch (e) {
    const err = ac.signal.aborted && ac.signal.reason instanceof Error ? ac.signal.reason : (e as Error);
    if (err instanceof HttpGetError) throw err;
    throw new HttpGetError(`${method} ${redactProxy(url)}${via ? ` via proxy ${via}` : ''}: ${err.message}`, via);
  } finally {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
