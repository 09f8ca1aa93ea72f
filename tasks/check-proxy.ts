// check-proxy: a node behind an HTTP proxy can pull what Rancher needs — the proxy answers from
// the node, a probe URL comes back through it (any answer of the origin proves the path: Docker
// Hub's /v2/ answers 401 to everyone; 407 is the proxy asking for credentials; an answer the proxy
// made itself — tinyproxy's or squid's 403 refusal, their error pages — fails), NO_PROXY keeps
// cluster-internal traffic off the proxy (judged by coverage, the way Go programs such as Docker
// and Rancher match it), Docker's systemd drop-in carries the same values, and the running daemon
// uses them (`docker info`; dockerd needs no cluster service names, so Rancher's documented drop-in
// without .svc/.cluster.local passes). With manage_docker_dropin it writes that drop-in, or reports the
// restart still owed to one already written (the playbook notifies a `restart docker` handler).
import { defineTask, hostProblem } from '../runner/sdk/index.js';
import type { Vars } from '../runner/sdk/index.js';
import { REQUIRED_NO_PROXY, groupHosts, listParam, noProxyMissing } from './rancher-rules.js';
import { renderShipped } from './templates/index.js';
import { dockerDaemonProxy } from './_facts.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    http_proxy: { type: 'string', description: 'HTTP proxy URL (default: vars proxy.http).' },
    https_proxy: { type: 'string', description: 'HTTPS proxy URL (default: vars proxy.https, else http_proxy).' },
    no_proxy: {
      description:
        'NO_PROXY entries, a list or a comma-separated string (default: vars proxy.no_proxy, else the required entries ' +
        'plus every address of the node group). Must hold localhost, 127.0.0.1, 0.0.0.0, 10.0.0.0/8, cattle-system.svc, ' +
        '.svc, .cluster.local and every cluster node address.',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
    probe_url: {
      type: 'string',
      description: 'URL fetched from the node through the proxy (default: vars probe_url / proxy.probe_url; else only a TCP check).',
    },
    node_group: { type: 'string', default: 'rancher', description: 'Inventory group whose addresses NO_PROXY must hold.' },
    manage_docker_dropin: {
      type: 'boolean',
      default: false,
      description: 'Write the Docker systemd drop-in when it differs (changed); notify a `restart docker` handler.',
    },
    dropin_path: {
      type: 'string',
      default: '/etc/systemd/system/docker.service.d/http-proxy.conf',
      description: "Path of Docker's systemd drop-in with the proxy environment.",
    },
    timeout: { type: 'number', default: 10, description: 'Seconds to wait for the proxy / probe URL.' },
  },
} as const;

interface Settings {
  http: string;
  https: string;
  noProxy: string[];
}

function obj(v: unknown): Vars {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Vars) : {};
}

/** The Environment= values of a systemd drop-in (HTTP_PROXY etc.), upper-case names win. */
export function dropinEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*Environment\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    for (const tok of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const t = tok.replace(/^"|"$/g, '');
      const i = t.indexOf('=');
      if (i > 0) env[t.slice(0, i)] = t.slice(i + 1);
    }
  }
  return env;
}

/** Proxy URLs compared as Docker shows them: scheme, host and port; credentials masked by `docker info`. */
function sameProxy(a: string, b: string): boolean {
  const norm = (u: string) => {
    try {
      const x = new URL(u);
      return `${x.protocol}//${x.hostname}:${x.port || (x.protocol === 'https:' ? '443' : '80')}`;
    } catch {
      return u.trim().replace(/\/+$/, '').toLowerCase();
    }
  };
  return norm(a) === norm(b);
}

/** Where a proxy environment (drop-in or running daemon) differs from the wanted settings, by value/coverage. */
function proxyDiffs(env: { http: string; https: string; noProxy: string }, s: Settings): string[] {
  const out: string[] = [];
  if (!sameProxy(env.http, s.http)) out.push(`HTTP_PROXY is ${JSON.stringify(env.http)}, expected ${JSON.stringify(s.http)}`);
  if (!sameProxy(env.https, s.https)) out.push(`HTTPS_PROXY is ${JSON.stringify(env.https)}, expected ${JSON.stringify(s.https)}`);
  const gaps = noProxyMissing(listParam(env.noProxy), dockerNoProxyNeeds(s.noProxy));
  if (gaps.length) out.push(`NO_PROXY ${JSON.stringify(env.noProxy)} does not cover ${gaps.join(', ')}`);
  return out;
}

/**
 * The status of a response the proxy generated itself, from the headers curl printed (`-D -`):
 * squid marks its own error pages with `X-Squid-Error` (errors/ templates, e.g. ERR_ACCESS_DENIED);
 * tinyproxy answers with `Server: tinyproxy/VERSION` (src/html-error.c send_http_headers), while
 * an origin's answer relayed by it keeps the origin's Server and gains `Via: … (tinyproxy/…)`.
 * undefined when the last response is the origin's.
 */
export function proxyGenerated(headers: string): string | undefined {
  const blocks = headers.split(/\r?\n(?=HTTP\/\d)/);
  const last = blocks.at(-1) ?? '';
  const status = /^HTTP\/[\d.]+ (\d{3}[^\r\n]*)/m.exec(last)?.[1]?.trim();
  if (!status) return undefined;
  const squid = /^X-Squid-Error:\s*([^\r\n]+)/im.exec(last)?.[1]?.trim();
  if (squid) return `${status} (squid: ${squid})`;
  if (/^Server:\s*tinyproxy\b/im.test(last)) return `${status} (tinyproxy)`;
  return undefined;
}

/** The NO_PROXY entries Docker's daemon itself needs: dockerd never looks up cluster service names
 * (.svc, .cluster.local) and never proxies loopback, so Rancher's documented drop-in
 * (127.0.0.0/8,10.0.0.0/8,cattle-system.svc,172.16.0.0/12,192.168.0.0/16) is enough for it. */
export function dockerNoProxyNeeds(wanted: string[]): string[] {
  const clusterOnly = new Set(['.svc', '.cluster.local', 'cattle-system.svc', 'localhost', '127.0.0.1', '0.0.0.0']);
  return wanted.filter((e) => !clusterOnly.has(e.trim().toLowerCase()));
}

function hostPort(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    // bash's /dev/tcp wants an IPv6 address without brackets.
    return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80) };
  } catch {
    return undefined;
  }
}

/** A value in curl's config syntax: double-quoted, `\\` and `"` escaped, no line breaks. */
function curlConfigString(v: string): string {
  if (/[\r\n\0]/.test(v)) throw new Error('a URL with a line break cannot be passed to curl');
  return `"${v.replace(/[\\"]/g, '\\$&')}"`;
}

/** Proxy URLs whose host is no host name or address (Node's URL parser accepts `$(…)` there). */
export function proxyProblems(urls: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const [what, url] of Object.entries(urls)) {
    if (url === undefined) continue;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      continue; // reported by the probe as "is not a URL"
    }
    const bad = hostProblem(u.hostname);
    if (bad) out.push(`${what} host ${bad}`);
  }
  return out;
}

/** The proxy URLs and probe URL from the params, else from vars `proxy` / `probe_url`. */
function settingsOf(params: { http_proxy?: string; https_proxy?: string; probe_url?: string }, vars: Vars): { http?: string; https?: string; probe_url?: string } {
  const proxyVar = obj(vars.proxy);
  const http = params.http_proxy ?? (typeof proxyVar.http === 'string' ? proxyVar.http : undefined);
  const https = params.https_proxy ?? (typeof proxyVar.https === 'string' ? proxyVar.https : undefined) ?? http;
  const probe_url = params.probe_url ?? (typeof vars.probe_url === 'string' ? vars.probe_url : undefined) ??
    (typeof proxyVar.probe_url === 'string' ? proxyVar.probe_url : undefined);
  return { http, https, probe_url };
}

export default defineTask({
  id: 'check-proxy',
  summary: 'The HTTP proxy answers from the node, NO_PROXY is complete, and Docker uses the same settings',
  schema,
  runsOn: 'host',
  precheck(params, ctx) {
    return proxyProblems(settingsOf(params, ctx.vars));
  },
  async probe(ctx, params) {
    const host = ctx.host.name;
    const proxyVar = obj(ctx.vars.proxy);
    const { http, https, probe_url } = settingsOf(params, ctx.vars);
    if (!http || !https) {
      return { changed: false, status: 'skipped', msg: 'no proxy configured (set vars proxy.http / proxy.https)' };
    }
    const unsafe = proxyProblems({ http, https, probe_url });
    if (unsafe.length) return { changed: false, status: 'failed', msg: `${host}: ${unsafe.join('; ')}` };
    const group = params.node_group;
    const nodes = groupHosts(ctx.vars, group).map((h) => h.address);
    const given = params.no_proxy ?? proxyVar.no_proxy;
    const noProxy = given !== undefined ? listParam(given) : [...new Set([...REQUIRED_NO_PROXY, ...nodes])];
    const s: Settings = { http, https, noProxy };
    const problems: string[] = [];

    const warnings: string[] = [];
    // 0.0.0.0 is in Rancher's Docker-install example but not in its RKE one: advised, not required.
    const advised = ['0.0.0.0'];
    const required = [...REQUIRED_NO_PROXY.filter((e) => !advised.includes(e)), ...nodes];
    const missing = noProxyMissing(noProxy, required);
    if (missing.length) {
      problems.push(`NO_PROXY is missing ${missing.join(', ')} (add them so cluster traffic does not go through the proxy)`);
    }
    const loose = noProxyMissing(noProxy, advised);
    if (loose.length) warnings.push(`NO_PROXY does not cover ${loose.join(', ')} (Rancher's Docker install lists it)`);

    // Proxy reachability and the probe URL, from the node itself (one round trip).
    const t = String(params.timeout);
    const probeUrl = params.probe_url ?? (typeof ctx.vars.probe_url === 'string' ? ctx.vars.probe_url : undefined) ??
      (typeof proxyVar.probe_url === 'string' ? proxyVar.probe_url : undefined);
    const proxy = probeUrl?.startsWith('https:') ? https : http;
    const hp = hostPort(proxy);
    if (!hp) problems.push(`proxy URL ${JSON.stringify(proxy)} is not a URL (expected http://host:port)`);
    else {
      // Host and port as positional parameters (never evaluated again by the inner bash), the
      // proxy URL with its credentials and the probe URL in a curl config on stdin (not on argv).
      const tcp = `timeout ${t} bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>&1`;
      // %{http_connect}: the proxy's answer to CONNECT (https probe); %{http_code}: the final
      // answer; -D -: its headers, which tell the proxy's own answer from the origin's.
      const script = `set -- ${ctx.quote(hp.host)} ${hp.port}; ` + (probeUrl
        ? `if command -v curl >/dev/null 2>&1; then ` +
          `curl -sS -o /dev/null -D - -w '\\n@@ %{http_code} %{http_connect}' --noproxy '' --max-time ${t} -K - 2>&1; echo " rc=$?"; ` +
          `else ${tcp} && echo "@@ 000 000 rc=0 nocurl" || echo " rc=7"; fi`
        : `${tcp}; echo " rc=$?"`);
      const stdin = probeUrl ? `proxy = ${curlConfigString(proxy)}\nurl = ${curlConfigString(probeUrl)}\n` : undefined;
      const r = await ctx.run(script, { become: false, stdin });
      const out = r.stdout.trim();
      const rc = /rc=(\d+)/.exec(out)?.[1];
      const codes = /@@ (\d{3}) (\d{3})\s*rc=/.exec(out);
      const code = Number(codes?.[1] ?? 0);
      const connect = Number(codes?.[2] ?? 0);
      const detail = out.split('\n').filter((l) => /^curl: |^bash: |Connection refused|No route|timed out/i.test(l)).join(' ').replace(/\s*rc=\d+.*$/, '').trim() ||
        (probeUrl ? '' : out.replace(/\s*rc=\d+.*$/, '').trim());
      const tunnel = probeUrl?.startsWith('https:') ?? false;
      const refusal = tunnel ? undefined : proxyGenerated(out.slice(0, codes?.index ?? out.length));
      if (code === 407 || connect === 407) {
        problems.push(`proxy ${proxy} wants credentials (407 Proxy Authentication Required) for ${probeUrl}: put them in the proxy URL (http://user:password@host:port)`);
      } else if (tunnel && connect && connect !== 200) {
        problems.push(`proxy ${proxy} refused to open a tunnel to ${probeUrl} (CONNECT answered ${connect}) on ${host}: allow that host and port on the proxy`);
      } else if (rc !== '0' && !code) {
        problems.push(
          `proxy ${proxy} does not answer from ${host}${detail ? ` (${detail})` : ''}: check that the proxy runs and that ${host} may reach it`,
        );
      } else if (refusal) {
        // The proxy answered in the origin's place: a refusal (403 Filtered, ERR_ACCESS_DENIED) or its own error.
        problems.push(`proxy ${proxy} itself answered ${refusal} for ${probeUrl} on ${host}, not the origin: ` +
          (code === 403 ? 'the proxy refuses that destination (allow it in the proxy\'s ACL/filter)' : 'the proxy cannot fetch it'));
      } else if (probeUrl && !out.includes('nocurl')) {
        // Through a tunnel every answer is the origin's. In plain HTTP 502/503/504 are what a
        // proxy answers when it cannot reach the origin; any other status is the origin's own.
        if (!code || (!tunnel && [502, 503, 504].includes(code))) {
          problems.push(`${probeUrl} through proxy ${proxy} answered ${code ? `HTTP ${code}` : detail || 'nothing'} on ${host}: the proxy cannot fetch it`);
        }
      }
    }

    // Docker's drop-in.
    const path = params.dropin_path;
    const want = await renderShipped('docker-http-proxy.conf.hbs', {
      http_proxy: s.http, https_proxy: s.https, no_proxy: s.noProxy.join(','),
    }, (p) => ctx.readLocal(p));
    // The drop-in holds the proxy credentials, so it is root's and 0600: a preflight without
    // become reads it with sudo when it may (never asking for a password), else says so.
    let have: string | null;
    let unreadable = false;
    try {
      have = await ctx.readFile(path);
    } catch (e) {
      if (!/Permission denied/i.test(e instanceof Error ? e.message : String(e))) throw e;
      const r = await ctx.run(`sudo -n cat -- ${ctx.quote(path)} 2>/dev/null`, { become: false });
      have = r.code === 0 ? r.stdout : null;
      unreadable = r.code !== 0;
    }
    const env = have === null ? undefined : dropinEnv(have);
    const fileDiffs = env ? proxyDiffs({ http: env.HTTP_PROXY ?? '', https: env.HTTPS_PROXY ?? '', noProxy: env.NO_PROXY ?? '' }, s) : [];
    // What the running daemon uses (it reads the drop-in only when restarted).
    const info = await ctx.fact(dockerDaemonProxy);
    const daemonDiffs = 'proxy' in info ? proxyDiffs(info.proxy, s) : [];
    if ('error' in info) warnings.push(`${host}: docker info failed, the running daemon's proxy was not checked: ${info.error}`);
    let changed = false;
    let restart = false;
    const RESTART = 'systemctl daemon-reload && systemctl restart docker';
    if (params.manage_docker_dropin) {
      // A drop-in equal in values is left as it is (no rewrite, no restart).
      if (have === null || fileDiffs.length) changed = true;
      else if (daemonDiffs.length) {
        changed = true;
        restart = true;
      }
    } else if (unreadable) {
      warnings.push(`${host}: ${path} is private and the SSH user may not read it (nor through sudo -n): only the running daemon's proxy was checked (become: true reads it)`);
    } else if (have === null) {
      warnings.push(`${host}: ${path} does not exist, so Docker does not pull through the proxy (set manage_docker_dropin: true)`);
    } else if (fileDiffs.length) {
      problems.push(`${path}: ${fileDiffs.join('; ')} (set manage_docker_dropin: true to fix)`);
    } else if (daemonDiffs.length) {
      problems.push(`the running Docker daemon has not picked up ${path} yet (${daemonDiffs.join('; ')}): run ${RESTART}`);
    }

    const data = { http_proxy: s.http, https_proxy: s.https, no_proxy: s.noProxy.join(',') };
    if (problems.length) return { changed: false, status: 'failed', msg: `${host}: ${problems.join('; ')}`, warnings, data };
    const msg = restart
      ? `${path} is right but the running Docker daemon has not picked it up (${daemonDiffs.join('; ')}): restart owed (${RESTART})`
      : changed
        ? `${path} ${have === null ? 'created' : 'updated'} with the proxy settings`
        : `proxy ${proxy} answers${probeUrl ? `, ${probeUrl} reachable` : ''}`;
    return {
      changed,
      msg,
      diff: changed && !restart ? [{ path, before: have, after: want }] : undefined,
      warnings,
      data,
      state: restart ? undefined : want,
    };
  },
  async apply(ctx, params, probe) {
    // Only the restart is owed: the notified handler does it.
    if (probe.state === undefined) return {};
    const path = params.dropin_path;
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    const mk = await ctx.run(`mkdir -p ${ctx.quote(dir)}`);
    if (mk.code !== 0) return { status: 'failed', msg: `${ctx.host.name}: cannot create ${dir}: ${mk.stderr.trim()}` };
    // It holds the proxy credentials: readable by root (systemd) only.
    await ctx.writeFile(path, probe.state as string, { mode: 0o600 });
    return {};
  },
});
