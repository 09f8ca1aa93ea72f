// Rancher install rules shared by the Rancher tasks and their tests: each returns the problems it
// found (empty = fine) as sentences an operator can act on, so both prechecks (exit 5, before any
// connection) and probes (task failed) can report them unchanged.
import { X509Certificate } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { Vars } from '../runner/types.js';
import { expandHome } from '../runner/paths.js';

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
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    out.problems.push(`${file} does not parse as YAML: ${(e as Error).message.split('\n')[0]}`);
    return out;
  }
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

export interface GroupHost {
  name: string;
  address: string;
  vars: Vars;
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/**
 * Hosts of an inventory group as seen from task vars (`groups` maps names to host names,
 * `hostvars` names to their vars). The address comes from the host's `host.address` when the
 * engine provides it, else `address`/`ansible_host` vars, else the name itself.
 */
export function groupHosts(vars: Vars, group: string): GroupHost[] {
  const names = rec(vars.groups)?.[group];
  if (!Array.isArray(names)) return [];
  const hostvars = rec(vars.hostvars) ?? {};
  return names.map((entry) => {
    const name = typeof entry === 'string' ? entry : String(rec(entry)?.name ?? entry);
    const hv = rec(hostvars[name]) ?? rec(entry) ?? {};
    const addr = rec(hv.host)?.address ?? hv.address ?? hv.ansible_host ?? rec(entry)?.address ?? name;
    return { name, address: String(addr), vars: hv };
  });
}

/** A list param given as a YAML list or a comma-separated string. */
export function listParam(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean);
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return [];
}

/** NO_PROXY entries Rancher needs on every node (REFERENCE: HTTP proxy). */
export const REQUIRED_NO_PROXY = ['localhost', '127.0.0.1', '0.0.0.0', '10.0.0.0/8', 'cattle-system.svc', '.svc', '.cluster.local'];
