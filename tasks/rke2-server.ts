// rke2-server: one RKE2 (or K3s) server node, the way upstream installs it:
// - the service's environment file with the proxy (/etc/default/rke2-server; K3s:
//   /etc/systemd/system/k3s.service.env): HTTP_PROXY/HTTPS_PROXY/NO_PROXY, or the CONTAINERD_
//   variants for containerd only (rke2-docs docs/advanced.md "Configuring an HTTP proxy");
// - /etc/rancher/<dist>/config.yaml: each key a flag of `<dist> server` (rke2 pkg/cli/cmds/server.go;
//   an unknown key is only logged and skipped by the server, k3s pkg/configfilearg/parser.go, so it
//   is refused here before anything connects), 0600 because it holds the token;
// - manifests (HelmChartConfig …) in /var/lib/rancher/<dist>/server/manifests/ before the first
//   start (the deploy controller applies that directory, rke2-docs docs/helm.md);
// - the install script fetched through the proxy and run with its own variables
//   (INSTALL_RKE2_VERSION / _CHANNEL / _ARTIFACT_PATH, rke2 install.sh; INSTALL_K3S_VERSION /
//   _CHANNEL / INSTALL_K3S_SKIP_DOWNLOAD, k3s install.sh) — again only when the installed version
//   differs (an upgrade);
// - `systemctl start` (the unit is Type=notify: it returns once the server is up) or, when config,
//   environment or binary changed on a running server, `systemctl restart`; then /readyz on the
//   local API answers ok. A start that fails is explained from the unit's journal.
import { basename } from 'node:path';
import { readdir } from 'node:fs/promises';
import { stringify as stringifyYaml } from 'yaml';
import { defineTask, defineFact, groupHosts, type ExecResult, type FileDiff, type TaskContext, type Vars } from '../runner/sdk/index.js';
import { K3S_SERVER_FLAGS, RKE2_SERVER_FLAGS } from './rke2-flags.js';
import { k8sMinor, RANCHER_K8S, rancherRow } from './_support-matrix.js';

/** Rancher on this distribution and release, as the support matrix has it (empty: fine). */
export function rancherProblems(dist: Dist, rancher: unknown, version: string): string[] {
  if (typeof rancher !== 'string' || !/^v\d+\.\d+\.\d+$/.test(rancher)) return [];
  const row = rancherRow(rancher, dist);
  const rows = RANCHER_K8S.filter((r) => r.distribution === dist);
  if (!row) {
    return [`Rancher ${rancher} has no ${dist} row in the support matrix (rows from Rancher ${rows[0]?.rancher.min} to ${rows.at(-1)?.rancher.max}): ` +
      `its chart cannot install on the Kubernetes ${dist} ships today (e.g. Rancher up to v2.5 renders extensions/v1beta1 objects, not served from 1.16/1.22); ` +
      `use -e rancher_version=v2.8.5, or playbooks/ha-helm.yml for an older Rancher on RKE (end of life)`];
  }
  if (!version) return [];
  const minor = k8sMinor(version);
  const [lo, hi] = [Number(row.k8s.min.split('.')[1]), Number(row.k8s.max.split('.')[1])];
  const m = Number(minor.split('.')[1]);
  if (m < lo || m > hi) return [`Rancher ${rancher} runs on ${dist} Kubernetes ${row.k8s.min} to ${row.k8s.max}, not ${version} (${row.source})`];
  return [];
}

type Dist = 'rke2' | 'k3s';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['config'],
  properties: {
    distribution: { enum: ['rke2', 'k3s'], default: 'rke2', description: 'rke2 or k3s.' },
    version: {
      type: 'string', default: '', pattern: '^(v[0-9]+\\.[0-9]+\\.[0-9]+\\+(rke2|k3s)r?[0-9]+)?$',
      description: 'Release to install, e.g. v1.28.15+rke2r1 (empty: what `channel` resolves to, installed once). Another one upgrades.',
    },
    channel: { type: 'string', default: 'stable', description: 'Release channel when no version is given (INSTALL_*_CHANNEL).' },
    install_url: { type: 'string', description: 'Install script URL (default https://get.rke2.io or https://get.k3s.io).' },
    artifact_path: {
      type: 'string', default: '',
      description: 'Air-gapped: controller directory with the release assets (rke2.linux-amd64.tar.gz, sha256sum-amd64.txt, images; ' +
        'k3s: the k3s binary); copied to the node and handed to the install script (INSTALL_RKE2_ARTIFACT_PATH).',
    },
    config: { type: 'object', description: 'config.yaml keys (flags of `rke2 server` / `k3s server`), e.g. tls-san, node-label.' },
    extra_config: { type: 'object', default: {}, description: 'More config.yaml keys (the inventory\'s, e.g. var rke2_config), merged over config.' },
    join: {
      type: 'string', default: '',
      description: 'Host (the FQDN of the load balancer) of the cluster to join: config server: https://HOST:9345 (K3s :6443). ' +
        'Empty: this is the first server (K3s: cluster-init: true).',
    },
    forwarded_headers: {
      anyOf: [{ type: 'boolean' }, { type: 'string', pattern: '^(true|false|.*\\{\\{.*)$' }], default: false,
      // A template ("true"/"false" once rendered: the playbook derives it from lb_mode) is a string here.
      description: 'Behind a TLS-terminating (l7) load balancer: the ingress keeps its X-Forwarded-* headers ' +
        '(RKE2: HelmChartConfig rke2-ingress-nginx use-forwarded-headers; K3s: Traefik forwardedHeaders.trustedIPs).',
    },
    token: { type: 'string', description: 'Shared secret servers join with (written as config key token).' },
    token_file: { type: 'string', description: 'Controller file holding the token (used when token is empty).' },
    proxy: {
      type: 'object', additionalProperties: false,
      properties: { http: { type: 'string' }, https: { type: 'string' }, no_proxy: { type: 'string' } },
      description: 'Proxy for the service (default: vars proxy; none when unset).',
    },
    proxy_scope: {
      enum: ['all', 'containerd'], default: 'all',
      description: 'all: HTTP_PROXY/HTTPS_PROXY/NO_PROXY for the server, kubelet and containerd; containerd: CONTAINERD_-prefixed, image pulls only.',
    },
    node_group: { type: 'string', default: 'rancher', description: 'Group whose node addresses NO_PROXY holds.' },
    no_proxy_extra: { type: 'array', items: { type: 'string' }, default: [], description: 'More NO_PROXY entries (the FQDN, the LB address).' },
    manifests: {
      type: 'object', additionalProperties: { type: 'string' }, default: {},
      description: 'File name → manifest written into the server manifests directory before the first start.',
    },
    ready_timeout: { type: 'integer', minimum: 10, default: 600, description: 'Seconds to wait for the service to start and the API to be ready.' },
  },
} as const;

export function serverFlags(dist: Dist): readonly string[] {
  return dist === 'k3s' ? K3S_SERVER_FLAGS : RKE2_SERVER_FLAGS;
}

/** Config keys the server would skip: `<dist> server` has no such flag. A trailing "+" appends (k3s). */
export function unknownKeys(dist: Dist, config: Record<string, unknown>): string[] {
  const flags = new Set(serverFlags(dist));
  return Object.keys(config).filter((k) => !flags.has(k.replace(/\+$/, '')));
}

/** The flag nearest to a misspelt key (edit distance at most 3), for the error message. */
export function closest(dist: Dist, key: string): string | undefined {
  const d = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const tmp = row[j]!;
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
        prev = tmp;
      }
    }
    return row[b.length]!;
  };
  let best: [string, number] | undefined;
  for (const f of serverFlags(dist)) { const n = d(key, f); if (n <= 3 && (!best || n < best[1])) best = [f, n]; }
  return best?.[0];
}

export function paths(dist: Dist) {
  return dist === 'k3s'
    ? {
      unit: 'k3s', config: '/etc/rancher/k3s/config.yaml', kubeconfig: '/etc/rancher/k3s/k3s.yaml',
      // The unit k3s install.sh writes reads /etc/default/%N, /etc/sysconfig/%N, then its own
      // k3s.service.env (create_systemd_service_file), into which it copies the proxy variables of
      // its own environment (create_env_file): both get the same values here.
      env: '/etc/default/k3s', manifests: '/var/lib/rancher/k3s/server/manifests', token: '/var/lib/rancher/k3s/server/token',
      installUrl: 'https://get.k3s.io', prefix: 'INSTALL_K3S', supervisorPort: 6443,
    }
    : {
      unit: 'rke2-server', config: '/etc/rancher/rke2/config.yaml', kubeconfig: '/etc/rancher/rke2/rke2.yaml',
      env: '/etc/default/rke2-server', manifests: '/var/lib/rancher/rke2/server/manifests', token: '/var/lib/rancher/rke2/server/token',
      installUrl: 'https://get.rke2.io', prefix: 'INSTALL_RKE2', supervisorPort: 9345,
    };
}

/** `rke2 --version` / `k3s --version` first line: "rke2 version v1.28.15+rke2r1 (hash)". */
export const installedVersion = defineFact<{ dist: Dist }, string | null>({
  id: 'rke2-installed-version',
  command: ({ dist }) => `for b in /usr/local/bin/${dist} /opt/${dist}/bin/${dist} /usr/bin/${dist}; do if [ -x "$b" ]; then "$b" --version 2>&1; exit $?; fi; done; echo absent`,
  parse(r: ExecResult, { dist }) {
    const out = r.stdout.trim();
    if (out === 'absent') return null;
    const m = new RegExp(`^${dist} version (v\\S+)`, 'm').exec(out);
    if (!m) throw new Error(`cannot read the ${dist} version from: ${out.split('\n')[0] || `exit ${r.code}`}`);
    return m[1]!;
  },
});

/** `systemctl is-active UNIT`: active, or what it says instead. */
export const unitActive = defineFact<{ unit: string }, boolean>({
  id: 'systemd-unit-active',
  command: ({ unit }, q) => `systemctl is-active ${q(unit)} 2>/dev/null || true`,
  parse(r: ExecResult) {
    return r.stdout.trim().split('\n').pop() === 'active';
  },
});

/** NO_PROXY as rke2-docs gives it: the private ranges, then what the cluster adds for itself
 * (cluster/service CIDRs, .svc, .cluster.local — listed so the file is complete for other readers),
 * the node addresses and any extra entries; deduplicated, order kept. */
export function noProxyList(nodes: string[], extra: string[], user?: string): string[] {
  const base = ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '10.42.0.0/16', '10.43.0.0/16', '.svc', '.cluster.local'];
  const fromUser = (user ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return [...new Set([...base, ...nodes, ...extra, ...fromUser])];
}

export function envFileText(proxy: { http?: string; https?: string } | undefined, noProxy: string[], scope: 'all' | 'containerd'): string {
  if (!proxy || (!proxy.http && !proxy.https)) return '';
  const p = scope === 'containerd' ? 'CONTAINERD_' : '';
  const http = proxy.http ?? proxy.https ?? '';
  const https = proxy.https ?? proxy.http ?? '';
  return `# Managed by rancher-play (rke2-server): the proxy for ${scope === 'containerd' ? 'containerd image pulls' : 'the server, kubelet and containerd'}.\n`
    + `${p}HTTP_PROXY=${http}\n${p}HTTPS_PROXY=${https}\n${p}NO_PROXY=${noProxy.join(',')}\n`;
}

/** The advice for the fatal line a server start ends with (messages as rke2/k3s log them). */
export function startHint(dist: Dist, journal: string, server?: string): string | undefined {
  const j = journal;
  if (/401 Unauthorized|token CA hash does not match|invalid username\/password/.test(j)) {
    return `the token differs from the first server's: give every server the same token (var rke2_token, or the token file rancher-play keeps on the controller); the first server's is in ${paths(dist).token}`;
  }
  if (/bootstrap data already found and encrypted with different token/.test(j)) {
    return 'this server was first started with another token: put that token back (var rke2_token), or wipe the node (rke2-uninstall.sh) to start afresh';
  }
  if (/failed to get CA certs|failed to validate server configuration: Get|Waiting to retrieve agent configuration|connection refused|EOF$/m.test(j)) {
    return `no server answers at ${server ?? 'the server URL'}: the first server must be started and Ready before others join (run its play first), and the load balancer must pass TCP ${paths(dist).supervisorPort} to it`;
  }
  if (/failed to get runtime image|failed to pull|failed to resolve reference/.test(j)) {
    const envf = paths(dist).env;
    return `the node cannot pull images: put HTTP_PROXY, HTTPS_PROXY and NO_PROXY into ${envf} (var proxy); rke2 pulls its runtime image itself with the plain variables, so proxy_scope containerd needs the images air-gapped`;
  }
  return undefined;
}

/** The fatal (else last error) lines of a journal. */
export function journalError(journal: string): string {
  const lines = journal.split('\n').filter(Boolean);
  const fatal = lines.filter((l) => /level=fatal|^FATA/.test(l));
  const pick = fatal.length ? fatal : lines.filter((l) => /level=error|^ERRO|Job for/.test(l));
  const msg = (l: string) => /msg="((?:[^"\\]|\\.)*)"/.exec(l)?.[1]?.replace(/\\"/g, '"') ?? /msg=(\S+)/.exec(l)?.[1] ?? l;
  return (pick.length ? pick : lines.slice(-3)).map(msg).slice(-3).join('; ');
}

/** The HelmChartConfig that makes the node ingress trust the LB's X-Forwarded-* headers.
 * RKE2 (rke2-docs docs/networking/networking_services.md, Rancher docs "RKE2 behind an L7 LB"):
 * chart rke2-ingress-nginx, controller.config.use-forwarded-headers "true" — without it Rancher
 * sees http and redirects forever. K3s (Rancher docs helm-chart-options, Traefik entrypoints
 * forwardedHeaders): chart traefik, ports.web/websecure.forwardedHeaders.trustedIPs. */
export function forwardedHeadersManifest(dist: Dist): { path: string; content: string; mode: number } {
  const dir = paths(dist).manifests;
  if (dist === 'k3s') {
    return {
      path: `${dir}/rancher-play-traefik-config.yaml`, mode: 0o600,
      content: `# Managed by rancher-play: Traefik keeps the load balancer's X-Forwarded-* headers
apiVersion: helm.cattle.io/v1
kind: HelmChartConfig
metadata:
  name: traefik
  namespace: kube-system
spec:
  valuesContent: |-
    ports:
      web:
        forwardedHeaders:
          trustedIPs:
            - 10.0.0.0/8
            - 172.16.0.0/12
            - 192.168.0.0/16
      websecure:
        forwardedHeaders:
          trustedIPs:
            - 10.0.0.0/8
            - 172.16.0.0/12
            - 192.168.0.0/16
`,
    };
  }
  return {
    path: `${dir}/rke2-ingress-nginx-config.yaml`, mode: 0o600,
    content: `# Managed by rancher-play: ingress-nginx keeps the load balancer's X-Forwarded-* headers
apiVersion: helm.cattle.io/v1
kind: HelmChartConfig
metadata:
  name: rke2-ingress-nginx
  namespace: kube-system
spec:
  valuesContent: |-
    controller:
      config:
        use-forwarded-headers: "true"
`,
  };
}

interface FileWant { path: string; content: string; mode: number; secret?: boolean; before: string | null }
interface State {
  dist: Dist;
  files: FileWant[];
  install?: { from: string | null; to: string };
  action: 'start' | 'restart' | 'none';
  token: string;
  /** Proxy variables for the install script's downloads (and, for K3s, its env file). */
  proxyEnv: Record<string, string>;
}

function maskConfig(text: string, token: string): string {
  return token ? text.split(token).join('********') : text;
}

async function readRoot(ctx: TaskContext, path: string): Promise<string | null> {
  const r = await ctx.run(`if [ -e ${ctx.quote(path)} ]; then cat ${ctx.quote(path)}; else echo '<absent>' >&2; exit 3; fi`, { become: true });
  if (r.code === 3) return null;
  if (r.code !== 0) throw new Error(`cannot read ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

export default defineTask({
  id: 'rke2-server',
  summary: 'RKE2/K3s server: proxy env file, config.yaml (checked keys), manifests, install script (through the proxy), start or restart, wait Ready',
  schema,
  runsOn: 'host',
  secretParams: ['token'],
  precheck(params, ctx) {
    const out: string[] = [];
    const dist = params.distribution as Dist;
    out.push(...rancherProblems(dist, ctx.vars.rancher_version, params.version));
    const cfg = { ...(params.config as Record<string, unknown>), ...(params.extra_config as Record<string, unknown>) };
    for (const k of unknownKeys(dist, cfg)) {
      out.push(`rke2-server.config.${k} (${k in (params.extra_config as object) ? 'extra_config' : 'config'}): \`${dist} server\` has no flag --${k}: the server would log "Unknown flag --${k} found in config.yaml, skipping" and run without it; ${closest(dist, k) ? `did you mean ${closest(dist, k)}? ` : ''}remove it or fix its spelling (\`${dist} server --help\` lists the keys)`);
    }
    if (dist === 'rke2' && 'cluster-init' in cfg) out.push('rke2-server.config.cluster-init is a K3s key; RKE2 always runs embedded etcd (the first server is the one without `server:`)');
    if ('server' in cfg) out.push('rke2-server.config.server: give the host to join as param join (the port follows the distribution)');
    if ('token' in cfg) out.push('rke2-server.config.token: give the token as the task param token (a secret) or token_file, not in config');
    if (params.version && !params.version.includes(`+${dist}`)) out.push(`rke2-server.version ${params.version} is not a ${dist} release (e.g. v1.28.15+${dist === 'k3s' ? 'k3s1' : 'rke2r1'})`);
    return out;
  },
  async probe(ctx, params) {
    const dist = params.distribution as Dist;
    const P = paths(dist);
    let token = params.token ?? '';
    if (!token && params.token_file) {
      const t = await ctx.readLocal(ctx.resolve(params.token_file));
      if (t === null) {
        if (ctx.check) token = '(generated)';
        else return { changed: false, status: 'failed', msg: `token_file ${params.token_file} not found on the controller` };
      } else token = t.toString('utf8').trim();
    }
    if (!token) return { changed: false, status: 'failed', msg: 'no token: set var rke2_token (a !secret) or let the playbook generate the token file' };

    const dist0 = params.distribution as Dist;
    const cfg: Vars = { ...(params.config as Vars), ...(params.extra_config as Vars), token };
    // RKE2: the first server is the one without `server:`; K3s' first server needs cluster-init
    // for embedded etcd (k3s docs datastore/ha-embedded.md), the others join on 6443.
    if (params.join) cfg.server = `https://${params.join}:${paths(dist0).supervisorPort}`;
    else if (dist0 === 'k3s') cfg['cluster-init'] = true;
    const configText = `# Managed by rancher-play (rke2-server)\n${stringifyYaml(cfg)}`;
    const proxy = params.proxy ?? (ctx.vars.proxy && typeof ctx.vars.proxy === 'object' ? (ctx.vars.proxy as { http?: string; https?: string; no_proxy?: string }) : undefined);
    const nodes = groupHosts(ctx.vars, params.node_group).map((h) => h.address);
    const noProxy = noProxyList(nodes, params.no_proxy_extra, proxy?.no_proxy);
    const env = envFileText(proxy, noProxy, params.proxy_scope as 'all' | 'containerd');
    const proxyEnv: Record<string, string> = proxy && (proxy.http || proxy.https)
      ? { HTTP_PROXY: proxy.http ?? proxy.https ?? '', HTTPS_PROXY: proxy.https ?? proxy.http ?? '', NO_PROXY: noProxy.join(',') }
      : {};

    const wants: Omit<FileWant, 'before'>[] = [
      { path: P.env, content: env, mode: 0o600 },
      { path: P.config, content: configText, mode: 0o600, secret: true },
      ...(String(params.forwarded_headers) === 'true' ? [forwardedHeadersManifest(dist0)] : []),
      ...Object.entries(params.manifests).map(([name, content]) => ({ path: `${P.manifests}/${basename(name)}`, content, mode: 0o600 })),
    ];
    const files: FileWant[] = [];
    for (const w of wants) {
      if (w.path === P.env && w.content === '') continue; // no proxy: leave any env file alone
      const before = await readRoot(ctx, w.path);
      if (before !== w.content) files.push({ ...w, before });
    }
    const have = await ctx.fact(installedVersion, { dist });
    const install = have === null || (params.version && have !== params.version) ? { from: have, to: params.version || `channel ${params.channel}` } : undefined;
    const active = await ctx.fact(unitActive, { unit: P.unit });
    const action: State['action'] = !active ? 'start' : (install || files.length ? 'restart' : 'none');

    const what = [
      ...files.map((f) => `write ${f.path}`),
      ...(install ? [install.from ? `upgrade ${install.from} → ${install.to}` : `install ${dist} ${install.to}`] : []),
      ...(action !== 'none' ? [`${action} ${P.unit}`] : []),
    ];
    const diff: FileDiff[] = files.map((f) => ({
      path: f.path,
      before: f.before === null ? null : f.secret ? maskConfig(f.before, token) : f.before,
      after: f.secret ? maskConfig(f.content, token) : f.content,
    }));
    if (!what.length) return { changed: false, msg: `${dist} ${have} running, config in place`, facts: { rke2_version: have } };
    return { changed: true, msg: what.join(', '), diff, state: { dist, files, install, action, token, proxyEnv } };
  },
  async apply(ctx, params, probe) {
    const s = probe.state as State;
    const P = paths(s.dist);
    const q = ctx.quote;
    for (const f of s.files) {
      await ctx.run(`mkdir -p ${q(f.path.slice(0, f.path.lastIndexOf('/')))}`, { become: true });
      await ctx.writeFile(f.path, f.content, { mode: f.mode, become: true });
    }
    if (s.install) {
      const envs: Record<string, string> = {};
      const prefix = P.prefix;
      if (params.version) envs[`${prefix}_VERSION`] = params.version;
      else envs[`${prefix}_CHANNEL`] = params.channel;
      if (s.dist === 'k3s') {
        // k3s install.sh: the service is started by us (after the config is in place), not by it.
        envs.INSTALL_K3S_SKIP_START = 'true';
        envs.INSTALL_K3S_EXEC = 'server';
      }
      let fetch = `curl -sfL ${q(params.install_url ?? P.installUrl)} -o "$f"`;
      if (params.artifact_path !== undefined && params.artifact_path !== '') {
        const dir = `/var/lib/rancher-play/${s.dist}-artifacts`;
        await ctx.run(`mkdir -p ${q(dir)}`, { become: true });
        const local = ctx.resolve(params.artifact_path);
        for (const name of await readdir(local)) await ctx.upload(`${local}/${name}`, `${dir}/${name}`, { mode: 0o644, become: true });
        if (s.dist === 'k3s') {
          envs.INSTALL_K3S_SKIP_DOWNLOAD = 'true';
          await ctx.run(`install -m 0755 ${q(`${dir}/k3s`)} /usr/local/bin/k3s`, { become: true });
        } else envs.INSTALL_RKE2_ARTIFACT_PATH = dir;
        fetch = `cp ${q(`${dir}/install.sh`)} "$f"`;
      }
      // Downloads go through the proxy like everything else on these nodes.
      Object.assign(envs, s.proxyEnv);
      const assign = Object.entries(envs).map(([k, v]) => `${k}=${q(v)}`).join(' ');
      const r = await ctx.run(`f=$(mktemp) && export ${assign} && ${fetch} && sh "$f"; rc=$?; rm -f "$f"; exit $rc`, {
        become: true, onLine: (l) => ctx.log(l), timeoutMs: params.ready_timeout * 1000,
      });
      if (r.code !== 0) {
        const out = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter((l) => /ERROR|fatal|curl|Could not/.test(l)).slice(-3).join('; ');
        return { status: 'failed', msg: `${ctx.host.name}: the ${s.dist} install script failed (exit ${r.code}): ${out || r.stderr.trim().slice(-300)}` };
      }
    }
    if (s.action !== 'none') {
      // The journal since this start explains a failure (one second earlier: its resolution).
      const t0 = Number((await ctx.run('date +%s')).stdout.trim()) - 1;
      const r = await ctx.run(`systemctl ${s.action} ${q(P.unit)} 2>&1`, { become: true, timeoutMs: params.ready_timeout * 1000 });
      if (r.code !== 0) {
        const j = await ctx.run(`journalctl -u ${q(P.unit)} --since @${t0} -n 40 --no-pager -o cat 2>&1`, { become: true });
        const err = journalError(j.stdout) || r.stdout.trim();
        const hint = startHint(s.dist, j.stdout, params.join ? `https://${params.join}:${P.supervisorPort}` : undefined);
        const what = r.code === 124 ? `did not become ready within ${params.ready_timeout}s` : 'failed to start';
        return { status: 'failed', msg: `${ctx.host.name}: ${P.unit} ${what}: ${maskConfig(err, s.token)}${hint ? ` — ${hint}` : ''}` };
      }
    }
    // Ready: the local API answers /readyz (public, as Kubernetes' system:public-info-viewer allows).
    const deadline = params.ready_timeout;
    const ready = await ctx.run(`for i in $(seq 1 ${deadline}); do if [ "$(curl -sk --noproxy '*' --max-time 5 https://127.0.0.1:6443/readyz)" = ok ]; then exit 0; fi; sleep 1; done; exit 1`, { timeoutMs: (deadline + 10) * 1000 });
    if (ready.code !== 0) return { status: 'failed', msg: `${ctx.host.name}: ${P.unit} is running but https://127.0.0.1:6443/readyz did not answer ok within ${deadline}s` };
    const v = await ctx.fact(installedVersion, { dist: s.dist });
    return { msg: `${probe.msg}; ${s.dist} ${v} Ready`, facts: { rke2_version: v } };
  },
});
