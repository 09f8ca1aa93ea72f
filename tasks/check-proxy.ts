// check-proxy: a node behind an HTTP proxy can pull what Rancher needs — the proxy answers from
// the node, a probe URL comes back through it, NO_PROXY keeps cluster-internal traffic off the
// proxy, and Docker's systemd drop-in carries the same values. With manage_docker_dropin it writes
// that drop-in (the playbook then notifies a `restart docker` handler).
import { defineTask } from '../runner/task.js';
import type { Vars } from '../runner/types.js';
import { REQUIRED_NO_PROXY, groupHosts, listParam } from './rancher-rules.js';
import { renderShipped } from './templates/index.js';

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

function hostPort(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port) || (u.protocol === 'https:' ? 443 : 80) };
  } catch {
    return undefined;
  }
}

export default defineTask({
  id: 'check-proxy',
  summary: 'The HTTP proxy answers from the node, NO_PROXY is complete, and Docker uses the same settings',
  schema,
  runsOn: 'host',
  async probe(ctx, params) {
    const host = ctx.host.name;
    const proxyVar = obj(ctx.vars.proxy);
    const http = params.http_proxy ?? (typeof proxyVar.http === 'string' ? proxyVar.http : undefined);
    const https = params.https_proxy ?? (typeof proxyVar.https === 'string' ? proxyVar.https : undefined) ?? http;
    if (!http || !https) {
      return { changed: false, status: 'skipped', msg: 'no proxy configured (set vars proxy.http / proxy.https)' };
    }
    const group = params.node_group ?? 'rancher';
    const nodes = groupHosts(ctx.vars, group).map((h) => h.address);
    const given = params.no_proxy ?? proxyVar.no_proxy;
    const noProxy = given !== undefined ? listParam(given) : [...new Set([...REQUIRED_NO_PROXY, ...nodes])];
    const s: Settings = { http, https, noProxy };
    const problems: string[] = [];

    const missing = [...REQUIRED_NO_PROXY, ...nodes].filter((e) => !noProxy.includes(e));
    if (missing.length) {
      problems.push(`NO_PROXY is missing ${missing.join(', ')} (add them so cluster traffic does not go through the proxy)`);
    }

    // Proxy reachability and the probe URL, from the node itself (one round trip).
    const t = String(params.timeout ?? 10);
    const probeUrl = params.probe_url ?? (typeof ctx.vars.probe_url === 'string' ? ctx.vars.probe_url : undefined) ??
      (typeof proxyVar.probe_url === 'string' ? proxyVar.probe_url : undefined);
    const proxy = probeUrl?.startsWith('https:') ? https : http;
    const hp = hostPort(proxy);
    if (!hp) problems.push(`proxy URL ${JSON.stringify(proxy)} is not a URL (expected http://host:port)`);
    else {
      const q = ctx.quote;
      const tcp = `timeout ${t} bash -c ${q(`exec 3<>/dev/tcp/${hp.host}/${hp.port}`)} 2>&1`;
      const script = probeUrl
        ? `if command -v curl >/dev/null 2>&1; then ` +
          `curl -sS -o /dev/null -w '%{http_code}' --noproxy '' --max-time ${t} -x ${q(proxy)} ${q(probeUrl)} 2>&1; echo " rc=$?"; ` +
          `else ${tcp} && echo "000 rc=0 nocurl" || echo " rc=7"; fi`
        : `${tcp}; echo " rc=$?"`;
      const r = await ctx.run(script, { become: false });
      const out = r.stdout.trim();
      const rc = /rc=(\d+)/.exec(out)?.[1];
      const detail = out.replace(/\s*rc=\d+.*$/, '').trim();
      if (rc !== '0') {
        problems.push(
          `proxy ${proxy} does not answer from ${host}${detail ? ` (${detail})` : ''}: check that the proxy runs and that ${host} may reach it`,
        );
      } else if (probeUrl && !out.includes('nocurl')) {
        const code = Number(/^(\d{3})/.exec(detail)?.[1] ?? 0);
        if (code === 407) problems.push(`proxy ${proxy} wants authentication (407) for ${probeUrl}: put credentials in the proxy URL`);
        else if (!(code >= 200 && code < 400)) {
          problems.push(`${probeUrl} through proxy ${proxy} answered HTTP ${code || detail} on ${host}: the proxy cannot fetch it`);
        }
      }
    }

    // Docker's drop-in.
    const path = params.dropin_path ?? '/etc/systemd/system/docker.service.d/http-proxy.conf';
    const want = await renderShipped('docker-http-proxy.conf.hbs', {
      http_proxy: s.http, https_proxy: s.https, no_proxy: s.noProxy.join(','),
    }, (p) => ctx.readLocal(p));
    const have = await ctx.readFile(path);
    const warnings: string[] = [];
    let changed = false;
    if (params.manage_docker_dropin) {
      if (have !== want) changed = true;
    } else if (have === null) {
      warnings.push(`${host}: ${path} does not exist, so Docker does not pull through the proxy (set manage_docker_dropin: true)`);
    } else {
      const env = dropinEnv(have);
      const diffs = ([['HTTP_PROXY', s.http], ['HTTPS_PROXY', s.https], ['NO_PROXY', s.noProxy.join(',')]] as const)
        .filter(([k, v]) => (env[k] ?? '') !== v)
        .map(([k, v]) => `${k} is ${JSON.stringify(env[k] ?? '')}, expected ${JSON.stringify(v)}`);
      if (diffs.length) problems.push(`${path}: ${diffs.join('; ')} (set manage_docker_dropin: true to fix)`);
    }

    const data = { http_proxy: s.http, https_proxy: s.https, no_proxy: s.noProxy.join(',') };
    if (problems.length) return { changed: false, status: 'failed', msg: `${host}: ${problems.join('; ')}`, warnings, data };
    return {
      changed,
      msg: changed ? `${path} ${have === null ? 'created' : 'updated'} with the proxy settings` : `proxy ${proxy} answers${probeUrl ? `, ${probeUrl} reachable` : ''}`,
      diff: changed ? [{ path, before: have, after: want }] : undefined,
      warnings,
      data,
      state: want,
    };
  },
  async apply(ctx, params, probe) {
    const path = params.dropin_path ?? '/etc/systemd/system/docker.service.d/http-proxy.conf';
    const dir = path.slice(0, path.lastIndexOf('/')) || '/';
    const mk = await ctx.run(`mkdir -p ${ctx.quote(dir)}`);
    if (mk.code !== 0) return { status: 'failed', msg: `${ctx.host.name}: cannot create ${dir}: ${mk.stderr.trim()}` };
    await ctx.writeFile(path, probe.state as string, { mode: 0o644 });
    return {};
  },
});
