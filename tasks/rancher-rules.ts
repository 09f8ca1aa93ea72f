// Rancher install rules shared by the Rancher tasks and their tests: each returns the problems it
// found (empty = fine) as sentences an operator can act on, so both prechecks (exit 5, before any
// connection) and probes (task failed) can report them unchanged.
import { X509Certificate } from 'node:crypto';
import { expandHome, yamlDocuments, yamlValue } from '../runner/sdk/index.js';

// ------------------------------------------------------------------ versions

/** Rancher image tags must be concrete: `stable`/`latest` move and break upgrades and restores. */
export function rancherVersionProblems(version: unknown): string[] {
  if (typeof version !== 'string' || version === '') return ['rancher_version is required (a concrete tag like v2.0.6)'];
  if (/^(stable|latest)$/i.test(version)) {
    return [`rancher_version "${version}" is a moving tag; use a concrete release like v2.0.6 (never stable or latest)`];
  }
  if (!/^v\d+\.\d+\.\d+$/.test(version)) return [`rancher_version "${version}" must look like vX.Y.Z (e.g. v2.0.6)`];
  return [];
}

/** The newest Rancher the RKE add-on install supports (rancher/rancher rke-templates: "Rancher
 * install via RKE addons is only supported up to v2.0.8"); later releases install with Helm. */
export const ADDON_INSTALL_MAX_RANCHER = 'v2.0.8';

export function addonInstallVersionProblems(version: unknown): string[] {
  if (typeof version !== 'string' || rancherVersionProblems(version).length) return [];
  if (compareVersions(version, ADDON_INSTALL_MAX_RANCHER) <= 0) return [];
  return [
    `rancher_version ${version} is above ${ADDON_INSTALL_MAX_RANCHER}, the last Rancher the RKE add-on install supports; ` +
      'install it with playbooks/ha-helm.yml (RKE cluster, then Rancher by Helm)',
  ];
}

/** Numeric parts of a version string ("20.10.24-ce" → [20, 10, 24]); leading `v` ignored. */
export function versionParts(v: string): number[] {
  const m = /^v?(\d+(?:\.\d+)*)/.exec(v.trim());
  return m ? m[1]!.split('.').map(Number) : [];
}

/** Semver-ish compare: negative when a < b. Missing parts count as 0 ("17.03" == "17.3.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

// --------------------------------------------------------------------- names

/** RFC 1123 hostname with at least two labels; the Rancher URL cannot be changed after install. */
export function fqdnProblems(fqdn: unknown): string[] {
  if (typeof fqdn !== 'string' || fqdn === '') return ['fqdn is required (the DNS name Rancher answers on)'];
  const name = fqdn.endsWith('.') ? fqdn.slice(0, -1) : fqdn;
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => label.test(l)) || /^\d+$/.test(labels.at(-1)!)) {
    return [`fqdn "${fqdn}" is not a valid fully qualified host name (letters, digits and hyphens, dot-separated, e.g. rancher.example.com)`];
  }
  return [];
}

export function isIPv4(s: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(s);
}

// -------------------------------------------------------------- certificates

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM text of a certificate file, also accepting base64 of PEM (what `cacerts.pem` holds). */
export function pemText(content: string): string {
  if (content.includes('-----BEGIN')) return content;
  const decoded = Buffer.from(content.replace(/\s+/g, ''), 'base64').toString('utf8');
  return decoded.includes('-----BEGIN') ? decoded : content;
}

export function parseCertificates(content: string): X509Certificate[] {
  return (pemText(content).match(PEM_BLOCK) ?? []).map((b) => new X509Certificate(b));
}

/**
 * A certificate file must hold PEM certificates ordered server certificate first, then its
 * intermediates (each certificate issued by the next one). A file holding only CA certificates
 * (a plain CA bundle) is fine as long as the chain order holds.
 */
export function certChainProblems(content: string, file: string): string[] {
  let certs: X509Certificate[];
  try {
    certs = parseCertificates(content);
  } catch (e) {
    return [`${file}: a certificate does not parse (${(e as Error).message}); expected PEM certificates`];
  }
  if (certs.length === 0) return [`${file}: no PEM certificate found (expected "-----BEGIN CERTIFICATE-----" blocks, or their base64)`];
  const problems: string[] = [];
  const leafAt = certs.findIndex((c) => !c.ca);
  if (leafAt > 0) {
    problems.push(
      `${file}: the server certificate (${subjectCN(certs[leafAt]!)}) is at position ${leafAt + 1}; ` +
        'put the server certificate first, then the intermediates',
    );
  }
  if (certs.filter((c) => !c.ca).length > 1) problems.push(`${file}: more than one server (non-CA) certificate in the chain`);
  for (let i = 0; i + 1 < certs.length && problems.length === 0; i++) {
    const cur = certs[i]!;
    const next = certs[i + 1]!;
    if (cur.issuer !== next.subject) {
      problems.push(
        `${file}: certificate ${i + 1} (${subjectCN(cur)}) is not issued by certificate ${i + 2} (${subjectCN(next)}); ` +
          'order the chain server certificate first, then each issuer',
      );
    }
  }
  return problems;
}

function subjectCN(c: X509Certificate): string {
  return /CN=([^\n,]+)/.exec(c.subject)?.[1] ?? c.subject.replace(/\n/g, ', ');
}

// ----------------------------------------------------------- cluster config

export interface RkeNode {
  address?: unknown;
  user?: unknown;
  role?: unknown;
  ssh_key_path?: unknown;
}

export interface RkeConfigCheck {
  problems: string[];
  warnings: string[];
  nodes: RkeNode[];
  /** ssh_key_path values, ~ expanded, that the caller must find on the controller. */
  keyPaths: string[];
}

function roles(n: RkeNode): string[] {
  return Array.isArray(n.role) ? n.role.map(String) : typeof n.role === 'string' ? n.role.split(',').map((s) => s.trim()) : [];
}

/** Node-count rules on a list of role lists: odd etcd membership, three nodes recommended. */
export function etcdProblems(roleLists: string[][]): { problems: string[]; warnings: string[] } {
  const etcd = roleLists.filter((r) => r.includes('etcd')).length;
  const problems: string[] = [];
  const warnings: string[] = [];
  if (etcd === 0) problems.push('no node has the etcd role; give etcd to an odd number of nodes (3 recommended)');
  else if (etcd % 2 === 0) {
    problems.push(`${etcd} etcd nodes: etcd needs an odd number of members for quorum (use 3; with 3, one may fail)`);
  }
  if (roleLists.length !== 3) warnings.push(`${roleLists.length} node(s): three nodes are recommended for Rancher HA`);
  return { problems, warnings };
}

/** Static checks of an RKE cluster config text (what `rke up` would choke on, and quorum). */
export function checkRkeConfig(text: string, file: string): RkeConfigCheck {
  const out: RkeConfigCheck = { problems: [], warnings: [], nodes: [], keyPaths: [] };
  const read = yamlValue(text);
  if ('problem' in read) {
    out.problems.push(`${file} does not parse as YAML: ${read.problem}`);
    return out;
  }
  const doc = read.value;
  const nodes = (doc as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) {
    out.problems.push(`${file} has no nodes: list the cluster nodes under "nodes:"`);
    return out;
  }
  out.nodes = nodes as RkeNode[];
  out.nodes.forEach((n, i) => {
    const where = `${file} nodes[${i}]`;
    if (typeof n?.address !== 'string' || n.address === '') out.problems.push(`${where} has no address`);
    if (typeof n?.user !== 'string' || n.user === '') out.problems.push(`${where} has no user`);
    if (roles(n).length === 0) out.problems.push(`${where} has no role (e.g. [controlplane,etcd,worker])`);
    if (typeof n?.ssh_key_path === 'string' && n.ssh_key_path !== '') out.keyPaths.push(expandHome(n.ssh_key_path));
  });
  const e = etcdProblems(out.nodes.map(roles));
  out.problems.push(...e.problems);
  out.warnings.push(...e.warnings);
  return out;
}

// ------------------------------------------------------------ inventory view


// Group lookups are part of the SDK; re-exported for the tasks that import them from here.
export { groupHosts, type GroupHost } from '../runner/sdk/index.js';

/** A list param given as a YAML list or a comma-separated string. */
export function listParam(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

/** NO_PROXY entries Rancher needs on every node (Rancher's HTTP proxy install docs). */
export const REQUIRED_NO_PROXY = ['localhost', '127.0.0.1', '0.0.0.0', '10.0.0.0/8', 'cattle-system.svc', '.svc', '.cluster.local'];

// ------------------------------------------------------ Kubernetes API removals

/**
 * apiVersion/kind pairs Kubernetes stopped serving, and the release that stopped: the Kubernetes
 * deprecated API migration guide (kubernetes/website content/en/docs/reference/using-api/
 * deprecation-guide.md). `*` = every kind of that apiVersion. RKE hands its add-ons to the
 * cluster unchanged, so an object here never gets created and RKE only warns.
 */
export const API_REMOVALS: { apiVersion: string; kinds: string[] | '*'; removedIn: string; use: string }[] = [
  { apiVersion: 'extensions/v1beta1', kinds: ['Deployment', 'DaemonSet', 'ReplicaSet', 'StatefulSet'], removedIn: '1.16', use: 'apps/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['NetworkPolicy'], removedIn: '1.16', use: 'networking.k8s.io/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['PodSecurityPolicy'], removedIn: '1.16', use: 'policy/v1beta1' },
  { apiVersion: 'apps/v1beta1', kinds: '*', removedIn: '1.16', use: 'apps/v1' },
  { apiVersion: 'apps/v1beta2', kinds: '*', removedIn: '1.16', use: 'apps/v1' },
  { apiVersion: 'scheduling.k8s.io/v1alpha1', kinds: ['PriorityClass'], removedIn: '1.17', use: 'scheduling.k8s.io/v1' },
  { apiVersion: 'scheduling.k8s.io/v1beta1', kinds: ['PriorityClass'], removedIn: '1.17', use: 'scheduling.k8s.io/v1' },
  { apiVersion: 'extensions/v1beta1', kinds: ['Ingress'], removedIn: '1.22', use: 'networking.k8s.io/v1' },
  { apiVersion: 'networking.k8s.io/v1beta1', kinds: ['Ingress', 'IngressClass'], removedIn: '1.22', use: 'networking.k8s.io/v1' },
  { apiVersion: 'rbac.authorization.k8s.io/v1beta1', kinds: '*', removedIn: '1.22', use: 'rbac.authorization.k8s.io/v1' },
  { apiVersion: 'rbac.authorization.k8s.io/v1alpha1', kinds: '*', removedIn: '1.22', use: 'rbac.authorization.k8s.io/v1' },
  { apiVersion: 'apiextensions.k8s.io/v1beta1', kinds: ['CustomResourceDefinition'], removedIn: '1.22', use: 'apiextensions.k8s.io/v1' },
  { apiVersion: 'admissionregistration.k8s.io/v1beta1', kinds: '*', removedIn: '1.22', use: 'admissionregistration.k8s.io/v1' },
  { apiVersion: 'apiregistration.k8s.io/v1beta1', kinds: ['APIService'], removedIn: '1.22', use: 'apiregistration.k8s.io/v1' },
  { apiVersion: 'certificates.k8s.io/v1beta1', kinds: ['CertificateSigningRequest'], removedIn: '1.22', use: 'certificates.k8s.io/v1' },
  { apiVersion: 'coordination.k8s.io/v1beta1', kinds: ['Lease'], removedIn: '1.22', use: 'coordination.k8s.io/v1' },
  { apiVersion: 'storage.k8s.io/v1beta1', kinds: ['CSIDriver', 'CSINode', 'StorageClass', 'VolumeAttachment'], removedIn: '1.22', use: 'storage.k8s.io/v1' },
  { apiVersion: 'batch/v1beta1', kinds: ['CronJob'], removedIn: '1.25', use: 'batch/v1' },
  { apiVersion: 'discovery.k8s.io/v1beta1', kinds: ['EndpointSlice'], removedIn: '1.25', use: 'discovery.k8s.io/v1' },
  { apiVersion: 'events.k8s.io/v1beta1', kinds: ['Event'], removedIn: '1.25', use: 'events.k8s.io/v1' },
  { apiVersion: 'autoscaling/v2beta1', kinds: ['HorizontalPodAutoscaler'], removedIn: '1.25', use: 'autoscaling/v2' },
  { apiVersion: 'policy/v1beta1', kinds: ['PodDisruptionBudget'], removedIn: '1.25', use: 'policy/v1' },
  { apiVersion: 'policy/v1beta1', kinds: ['PodSecurityPolicy'], removedIn: '1.25', use: 'Pod Security Admission (no replacement object)' },
  { apiVersion: 'node.k8s.io/v1beta1', kinds: ['RuntimeClass'], removedIn: '1.25', use: 'node.k8s.io/v1' },
  { apiVersion: 'autoscaling/v2beta2', kinds: ['HorizontalPodAutoscaler'], removedIn: '1.26', use: 'autoscaling/v2' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta1', kinds: '*', removedIn: '1.26', use: 'flowcontrol.apiserver.k8s.io/v1' },
  { apiVersion: 'storage.k8s.io/v1beta1', kinds: ['CSIStorageCapacity'], removedIn: '1.27', use: 'storage.k8s.io/v1' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta2', kinds: '*', removedIn: '1.29', use: 'flowcontrol.apiserver.k8s.io/v1' },
  { apiVersion: 'flowcontrol.apiserver.k8s.io/v1beta3', kinds: '*', removedIn: '1.32', use: 'flowcontrol.apiserver.k8s.io/v1' },
];

/** The removal that makes `apiVersion`/`kind` unserved on Kubernetes `k8sVersion`, if any. */
export function apiRemoval(apiVersion: string, kind: string, k8sVersion: string): (typeof API_REMOVALS)[number] | undefined {
  return API_REMOVALS.find(
    (r) => r.apiVersion === apiVersion && (r.kinds === '*' || r.kinds.includes(kind)) && compareVersions(k8sVersion, r.removedIn) >= 0,
  );
}

export interface AddonObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** The objects of an RKE `addons` string (YAML documents); documents that do not parse are skipped. */
export function addonObjects(addons: string): AddonObject[] {
  const out: AddonObject[] = [];
  const docs = yamlDocuments(addons);
  for (const d of 'values' in docs ? docs.values : []) {
    const o = d as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    if (!o || typeof o !== 'object' || typeof o.kind !== 'string') continue;
    out.push({
      apiVersion: String(o.apiVersion ?? ''),
      kind: o.kind,
      name: String(o.metadata?.name ?? ''),
      ...(typeof o.metadata?.namespace === 'string' ? { namespace: o.metadata.namespace } : {}),
    });
  }
  return out;
}

/** One sentence per add-on object that Kubernetes `k8sVersion` no longer serves. */
export function unservedAddonProblems(addons: string, k8sVersion: string): string[] {
  const out: string[] = [];
  for (const o of addonObjects(addons)) {
    const r = apiRemoval(o.apiVersion, o.kind, k8sVersion);
    if (!r) continue;
    const id = `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
    out.push(`add-on ${id} uses apiVersion ${o.apiVersion}, which Kubernetes stopped serving in ${r.removedIn} (cluster: ${k8sVersion}); use ${r.use}`);
  }
  return out;
}

// ------------------------------------------------------------------ RKE log

export interface RkeLogLine {
  level: 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'fatal' | 'panic';
  msg: string;
}

const LEVEL_PREFIX: Record<string, RkeLogLine['level']> = {
  TRAC: 'trace', DEBU: 'debug', INFO: 'info', WARN: 'warning', ERRO: 'error', FATA: 'fatal', PANI: 'panic',
};

/**
 * One line of RKE's log. RKE logs through logrus (rancher/rke main.go, logrus TextFormatter):
 * on a terminal `INFO[0034] msg`, otherwise `time="…" level=info msg="…"` with msg quoted (Go
 * %q) when it holds spaces or quotes. Anything else (kubectl output, blank lines) is undefined.
 */
export function parseRkeLine(line: string): RkeLogLine | undefined {
  const t = /^(TRAC|DEBU|INFO|WARN|ERRO|FATA|PANI)\[\d+\]\s?(.*)$/.exec(line.replace(/\x1b\[[0-9;]*m/g, ''));
  if (t) return { level: LEVEL_PREFIX[t[1]!]!, msg: t[2]!.trim() };
  const lv = /(?:^|\s)level=(\w+)/.exec(line);
  if (!lv) return undefined;
  const level = lv[1] as RkeLogLine['level'];
  if (!['trace', 'debug', 'info', 'warning', 'error', 'fatal', 'panic'].includes(level)) return undefined;
  const m = /(?:^|\s)msg=("(?:[^"\\]|\\.)*"|\S*)/.exec(line);
  let msg = m ? m[1]! : '';
  if (msg.startsWith('"')) {
    try {
      msg = JSON.parse(msg) as string;
    } catch {
      msg = msg.slice(1, -1);
    }
  }
  return { level, msg };
}

// ------------------------------------------------------------------ NO_PROXY

/** One NO_PROXY entry as Go reads it (golang.org/x/net/http/httpproxy config.init). */
type NoProxyEntry =
  | { kind: 'all' }
  | { kind: 'cidr'; net: number; bits: number }
  | { kind: 'ip'; ip: number }
  | { kind: 'domain'; host: string; matchHost: boolean }
  | { kind: 'port' }; // host:port entries only match that port: never counted as coverage

function ip4(s: string): number | undefined {
  if (!isIPv4(s)) return undefined;
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function noProxyEntry(raw: string): NoProxyEntry | undefined {
  const e = raw.trim().toLowerCase();
  if (!e) return undefined;
  if (e === '*') return { kind: 'all' };
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(e);
  if (cidr && ip4(cidr[1]!) !== undefined && Number(cidr[2]) <= 32) {
    const bits = Number(cidr[2]);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return { kind: 'cidr', net: (ip4(cidr[1]!)! & mask) >>> 0, bits };
  }
  if (ip4(e) !== undefined) return { kind: 'ip', ip: ip4(e)! };
  if (/:\d+$/.test(e)) return { kind: 'port' };
  // "foo.com" and "*.foo.com" match foo.com and its subdomains; ".foo.com" only the subdomains.
  let host = e;
  let matchHost = false;
  if (host.startsWith('*.')) {
    host = host.slice(1);
    matchHost = true;
  }
  if (!host.startsWith('.')) {
    host = `.${host}`;
    matchHost = true;
  }
  return { kind: 'domain', host, matchHost };
}

const inCidr = (ip: number, c: { net: number; bits: number }) => (c.bits === 0 ? true : ((ip & ((0xffffffff << (32 - c.bits)) >>> 0)) >>> 0) === c.net);

function domainMatches(name: string, d: { host: string; matchHost: boolean }): boolean {
  return name.endsWith(d.host) || (d.matchHost && name === d.host.slice(1));
}

/**
 * Does a NO_PROXY list keep `want` off the proxy for every host `want` stands for, as Go matches it
 * (golang.org/x/net/http/httpproxy useProxy)? Case and order do not matter; a CIDR covers the
 * addresses and smaller networks inside it; ".svc" covers "cattle-system.svc"; localhost and
 * loopback addresses never use the proxy.
 */
export function noProxyCovers(list: string[], want: string): boolean {
  const w = noProxyEntry(want);
  if (!w) return true;
  const entries = list.map(noProxyEntry).filter((e): e is NoProxyEntry => !!e);
  if (entries.some((e) => e.kind === 'all')) return true;
  switch (w.kind) {
    case 'all':
      return false;
    case 'port':
      return list.some((e) => e.trim().toLowerCase() === want.trim().toLowerCase());
    case 'ip':
      if (w.ip >>> 24 === 127) return true;
      return entries.some((e) => (e.kind === 'ip' && e.ip === w.ip) || (e.kind === 'cidr' && inCidr(w.ip, e)));
    case 'cidr':
      if (w.bits >= 8 && w.net >>> 24 === 127) return true;
      return entries.some((e) => e.kind === 'cidr' && e.bits <= w.bits && inCidr(w.net, e));
    case 'domain': {
      if (w.host === '.localhost' && w.matchHost) return true;
      const doms = entries.filter((e): e is Extract<NoProxyEntry, { kind: 'domain' }> => e.kind === 'domain');
      const subs = doms.some((d) => w.host.endsWith(d.host));
      const bare = !w.matchHost || doms.some((d) => domainMatches(w.host.slice(1), d));
      return subs && bare;
    }
  }
}

/** Entries of `want` that `list` does not cover (see noProxyCovers). */
export function noProxyMissing(list: string[], want: string[]): string[] {
  return want.filter((w) => !noProxyCovers(list, w));
}
