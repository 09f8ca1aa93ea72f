// The support matrix: which versions upstream can run together, one row per fact, each naming the
// upstream file (or page) it was read from. The rules below turn it into the sentences `validate`
// prints (exit 5) and the checks the tasks make at run time. Extend it by adding rows: RKE2/K3s
// rows go in RANCHER_K8S with `distribution: 'rke2' | 'k3s'`.
import { compareVersions, versionParts } from './rancher-rules.js';

/** Kubernetes minor of a version string ("v1.26.8-rancher1-1" → "1.26"). */
export function k8sMinor(v: string): string {
  const p = versionParts(v);
  return p.length >= 2 ? `${p[0]}.${p[1]}` : v;
}

const inRange = (v: string, min?: string, max?: string) =>
  (min === undefined || compareVersions(v, min) >= 0) && (max === undefined || compareVersions(v, max) <= 0);

// ------------------------------------------------------------ Rancher ↔ Kubernetes

export interface RancherK8sRow {
  /** Rancher versions of the row, inclusive. */
  rancher: { min: string; max: string };
  distribution: 'rke' | 'rke2' | 'k3s';
  /** Kubernetes minors the Rancher server supports for its own (local) cluster, inclusive. */
  k8s: { min: string; max: string };
  /** How these Rancher versions install into an RKE cluster, and the playbook that does it. */
  playbooks: string[];
  source: string;
}

const SUPPORT = 'SUSE Rancher support matrix, https://www.suse.com/suse-rancher/support-matrix/all-supported-versions/';
const chartYaml = (tag: string, kubeVersion: string) => `rancher/rancher ${tag} chart/Chart.yaml kubeVersion: "${kubeVersion}"`;

export const RANCHER_K8S: RancherK8sRow[] = [
  {
    rancher: { min: 'v2.0.0', max: 'v2.0.8' }, distribution: 'rke', k8s: { min: '1.8', max: '1.11' },
    playbooks: ['playbooks/ha-l7.yml', 'playbooks/ha-l4.yml', 'playbooks/ha-helm.yml'],
    source: 'rancher/rancher v2.0.8 vendor/github.com/rancher/types/apis/management.cattle.io/v3/k8s_defaults.go ' +
      '(K8sVersionToRKESystemImages v1.8.10 … v1.11.2, DefaultK8s v1.11.2-rancher1-1)',
  },
  {
    rancher: { min: 'v2.0.9', max: 'v2.0.99' }, distribution: 'rke', k8s: { min: '1.8', max: '1.11' },
    playbooks: ['playbooks/ha-helm.yml'],
    source: 'rancher/rancher v2.0.x vendor/github.com/rancher/types/apis/management.cattle.io/v3/k8s_defaults.go',
  },
  { rancher: { min: 'v2.4.13', max: 'v2.4.99' }, distribution: 'rke', k8s: { min: '1.15', max: '1.19' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.4.13', '< 1.20.0-0')}; ${SUPPORT}rancher-v2-4-x/` },
  { rancher: { min: 'v2.6.0', max: 'v2.6.2' }, distribution: 'rke', k8s: { min: '1.18', max: '1.21' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.6.0', '< 1.22.0-0')}; ${SUPPORT}rancher-v2-6-0/` },
  { rancher: { min: 'v2.6.3', max: 'v2.6.3' }, distribution: 'rke', k8s: { min: '1.18', max: '1.22' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.6.3', '< 1.23.0-0')}; ${SUPPORT}rancher-v2-6-3/` },
  { rancher: { min: 'v2.6.4', max: 'v2.6.6' }, distribution: 'rke', k8s: { min: '1.18', max: '1.23' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.6.4', '< 1.24.0-0')}; ${SUPPORT}rancher-v2-6-4/` },
  { rancher: { min: 'v2.6.7', max: 'v2.6.99' }, distribution: 'rke', k8s: { min: '1.18', max: '1.24' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.6.7', '< 1.25.0-0')}; ${SUPPORT}rancher-v2-6-7/` },
  { rancher: { min: 'v2.7.0', max: 'v2.7.1' }, distribution: 'rke', k8s: { min: '1.23', max: '1.24' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.7.0', '< 1.25.0-0')}; ${SUPPORT}rancher-v2-7-0/` },
  { rancher: { min: 'v2.7.2', max: 'v2.7.4' }, distribution: 'rke', k8s: { min: '1.23', max: '1.25' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.7.2', '< 1.26.0-0')}; ${SUPPORT}rancher-v2-7-2/` },
  { rancher: { min: 'v2.7.5', max: 'v2.7.10' }, distribution: 'rke', k8s: { min: '1.23', max: '1.26' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.7.5', '< 1.27.0-0')}; ${SUPPORT}rancher-v2-7-5/` },
  { rancher: { min: 'v2.7.11', max: 'v2.7.99' }, distribution: 'rke', k8s: { min: '1.23', max: '1.27' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.7.11', '< 1.28.0-0')}; ${SUPPORT}rancher-v2-7-11/` },
  { rancher: { min: 'v2.8.0', max: 'v2.8.2' }, distribution: 'rke', k8s: { min: '1.25', max: '1.27' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.8.0', '< 1.28.0-0')}; ${SUPPORT}rancher-v2-8-0/` },
  { rancher: { min: 'v2.8.3', max: 'v2.8.99' }, distribution: 'rke', k8s: { min: '1.25', max: '1.28' }, playbooks: ['playbooks/ha-helm.yml'], source: `${chartYaml('v2.8.3', '< 1.29.0-0')}; ${SUPPORT}rancher-v2-8-3/` },
  // RKE2 and K3s as Rancher's own cluster (from v2.6): the chart's kubeVersion bounds every
  // distribution alike; the lower bounds are those of Rancher's support matrix for RKE2/K3s.
  ...RKE2_K3S_FROM_RKE(),
];

function RKE2_K3S_FROM_RKE(): RancherK8sRow[] {
  return ([
    ['v2.6.0', 'v2.6.2', '1.20', '1.21', '< 1.22.0-0', 'rancher-v2-6-0'], ['v2.6.3', 'v2.6.3', '1.20', '1.22', '< 1.23.0-0', 'rancher-v2-6-3'],
    ['v2.6.4', 'v2.6.6', '1.20', '1.23', '< 1.24.0-0', 'rancher-v2-6-4'], ['v2.6.7', 'v2.6.99', '1.20', '1.24', '< 1.25.0-0', 'rancher-v2-6-7'],
    ['v2.7.0', 'v2.7.1', '1.23', '1.24', '< 1.25.0-0', 'rancher-v2-7-0'], ['v2.7.2', 'v2.7.4', '1.23', '1.25', '< 1.26.0-0', 'rancher-v2-7-2'],
    ['v2.7.5', 'v2.7.10', '1.23', '1.26', '< 1.27.0-0', 'rancher-v2-7-5'], ['v2.7.11', 'v2.7.99', '1.23', '1.27', '< 1.28.0-0', 'rancher-v2-7-11'],
    ['v2.8.0', 'v2.8.2', '1.25', '1.27', '< 1.28.0-0', 'rancher-v2-8-0'], ['v2.8.3', 'v2.8.99', '1.25', '1.28', '< 1.29.0-0', 'rancher-v2-8-3'],
  ] as const).flatMap(([min, max, kmin, kmax, kube, page]) => (['rke2', 'k3s'] as const).map((distribution) => ({
    rancher: { min, max }, distribution, k8s: { min: kmin, max: kmax }, playbooks: ['playbooks/ha-rke2.yml'],
    source: `${chartYaml(min, kube)}; ${SUPPORT}${page}/ (${distribution.toUpperCase()})`,
  })));
}

/** Rancher `rancher` on a `distribution` cluster of Kubernetes `k8s`, against the matrix (empty: fine or not in it). */
export function rancherK8sProblems(rancher: string, k8s: string, distribution: RancherK8sRow['distribution'] = 'rke'): string[] {
  const row = rancherRow(rancher, distribution);
  if (!row || k8sOk(k8s, row.k8s)) return [];
  return [`Rancher ${rancher} supports ${distribution === 'rke' ? '' : `${distribution.toUpperCase()} `}Kubernetes v${row.k8s.min}–v${row.k8s.max} for its cluster, not ${k8s} ` +
    `(rule: Rancher ↔ Kubernetes; source: ${row.source})`];
}

/** The row for a Rancher version and distribution, if the matrix has one. */
export function rancherRow(rancher: string, distribution: RancherK8sRow['distribution'] = 'rke'): RancherK8sRow | undefined {
  return RANCHER_K8S.find((r) => r.distribution === distribution && inRange(rancher, r.rancher.min, r.rancher.max));
}

// ------------------------------------------------------------ RKE

export interface RkeRow {
  rke: { min: string; max: string };
  /** Kubernetes minors this RKE ships system images for, inclusive. */
  k8s: { min: string; max: string };
  /** Docker versions RKE accepts, by Kubernetes minor ('*' = whatever the cluster runs). */
  docker: Record<string, string[]>;
  source: string;
}

const D_1_8 = ['1.11.x', '1.12.x', '1.13.x', '17.03.x'];
const D_1_12 = [...D_1_8, '17.06.x', '17.09.x', '18.06.x'];
const D_18 = [...D_1_8, '18.06.x', '18.09.x'];
const D_18_12 = [...D_1_8, '17.06.x', '17.09.x', '18.06.x', '18.09.x'];
const D_19 = [...D_18, '19.03.x'];
const D_19_12 = [...D_18_12, '19.03.x'];
const D_14 = ['1.13.x', '17.03.x', '17.06.x', '17.09.x', '18.06.x', '18.09.x'];
const D_14_19 = [...D_14, '19.03.x'];
const D_NEW = [...D_14_19, '20.10.x'];
const D_23 = [...D_NEW, '23.0.x', '24.0.x'];
const D_25 = [...D_23, '25.0.x'];
const map = (minors: string[], list: string[]) => Object.fromEntries(minors.map((m) => [m, list]));
const rkeSrc = (tag: string) => `rancher/rke ${tag} docker/docker.go K8sDockerVersions, hosts/tunnel.go checkDockerVersion, ` +
  'vendor/github.com/rancher/types/apis/management.cattle.io/v3/k8s_defaults.go';

export const RKE: RkeRow[] = [
  // v0.1.5–v0.1.9 check every cluster against the "1.8" list (hosts/tunnel.go: K8sVersion = "1.8").
  { rke: { min: 'v0.1.5', max: 'v0.1.9' }, k8s: { min: '1.8', max: '1.11' }, docker: { '*': D_1_8 }, source: rkeSrc('v0.1.9') },
  { rke: { min: 'v0.1.10', max: 'v0.1.15' }, k8s: { min: '1.8', max: '1.12' }, docker: { ...map(['1.8', '1.9', '1.10', '1.11'], D_1_8), '1.12': D_1_12 }, source: rkeSrc('v0.1.15') },
  { rke: { min: 'v0.1.16', max: 'v0.1.18' }, k8s: { min: '1.8', max: '1.13' }, docker: { '1.8': D_1_8, ...map(['1.9', '1.10', '1.11'], D_18), ...map(['1.12', '1.13'], D_18_12) }, source: rkeSrc('v0.1.18') },
  { rke: { min: 'v0.1.19', max: 'v0.1.99' }, k8s: { min: '1.8', max: '1.13' }, docker: { '1.8': D_1_8, ...map(['1.9', '1.10', '1.11'], D_19), ...map(['1.12', '1.13'], D_19_12) }, source: rkeSrc('v0.1.20') },
  { rke: { min: 'v0.2.0', max: 'v0.2.1' }, k8s: { min: '1.8', max: '1.13' }, docker: { '1.8': D_1_8, ...map(['1.9', '1.10', '1.11'], D_18), ...map(['1.12', '1.13'], D_18_12) }, source: rkeSrc('v0.2.1') },
  { rke: { min: 'v0.2.2', max: 'v0.2.6' }, k8s: { min: '1.8', max: '1.15' }, docker: { '1.8': D_1_8, ...map(['1.9', '1.10', '1.11'], D_18), ...map(['1.12', '1.13'], D_18_12), ...map(['1.14', '1.15'], D_14) }, source: rkeSrc('v0.2.6') },
  { rke: { min: 'v0.2.7', max: 'v0.2.99' }, k8s: { min: '1.8', max: '1.15' }, docker: { '1.8': D_1_8, ...map(['1.9', '1.10', '1.11'], D_19), ...map(['1.12', '1.13'], D_19_12), ...map(['1.14', '1.15'], D_14_19) }, source: rkeSrc('v0.2.11') },
  {
    // RKE v0.3.0 and later read the lists from rancher/kontainer-driver-metadata (embedded at build).
    rke: { min: 'v1.4.0', max: 'v1.4.99' }, k8s: { min: '1.23', max: '1.26' },
    docker: { ...map(['1.23', '1.24'], D_23), ...map(['1.25', '1.26'], D_25) },
    source: 'rancher/kontainer-driver-metadata release-v2.7 pkg/rke/k8s_docker_info.go; rancher/rke v1.4.11 `rke config --list-version --all`',
  },
];

/** Default Kubernetes of the RKE releases before `rke config --list-version` (v0.3.0) could say it. */
export const RKE_DEFAULT_K8S: Record<string, string> = {
  'v0.1.6': 'v1.10.1-rancher1', 'v0.1.7': 'v1.10.1-rancher2-1', 'v0.1.8': 'v1.10.5-rancher1-1', 'v0.1.9': 'v1.11.1-rancher1-1',
  'v0.1.10': 'v1.11.3-rancher1-1', 'v0.1.11': 'v1.11.3-rancher1-1', 'v0.1.12': 'v1.11.3-rancher1-1', 'v0.1.13': 'v1.11.5-rancher1-1',
  'v0.1.14': 'v1.11.5-rancher1-1', 'v0.1.15': 'v1.11.6-rancher1-1', 'v0.1.16': 'v1.11.6-rancher1-1', 'v0.1.17': 'v1.13.4-rancher1-1',
  'v0.1.18': 'v1.13.5-rancher1-1', 'v0.1.19': 'v1.13.9-rancher1-1', 'v0.1.20': 'v1.13.10-rancher1-1', 'v0.2.0': 'v1.13.4-rancher1-2',
  'v0.2.1': 'v1.13.5-rancher1-2', 'v0.2.2': 'v1.13.5-rancher1-2', 'v0.2.3': 'v1.13.5-rancher1-3', 'v0.2.4': 'v1.13.5-rancher1-3',
  'v0.2.5': 'v1.14.3-rancher1-1', 'v0.2.6': 'v1.14.3-rancher1-1', 'v0.2.7': 'v1.14.5-rancher1-1', 'v0.2.8': 'v1.14.6-rancher1-1',
  'v0.2.9': 'v1.15.5-rancher1-1', 'v0.2.10': 'v1.15.11-rancher1-0', 'v0.2.11': 'v1.15.12-rancher1-1',
};
export const RKE_DEFAULT_K8S_SOURCE = 'rancher/rke vX.Y.Z vendor/github.com/rancher/types/apis/management.cattle.io/v3/k8s_defaults.go DefaultK8s';

/** RKE features that came late, and from which release. */
export const RKE_FEATURES = {
  listVersion: { since: 'v0.3.0', source: 'rancher/rke v0.3.0 cmd/config.go (--list-version, --all)' },
  rkestate: { since: 'v0.2.0', source: 'rancher/rke v0.2.0 cluster/state.go GetStateFilePath (.rkestate beside the config)' },
  provisioningIncomplete: { since: 'v0.1.6', source: 'rancher/rke v0.1.6 cmd/up.go checkAllIncluded' },
};

export const rkeHas = (rke: string, feature: keyof typeof RKE_FEATURES) => compareVersions(rke, RKE_FEATURES[feature].since) >= 0;

export function rkeRow(rke: string): RkeRow | undefined {
  return RKE.find((r) => inRange(rke, r.rke.min, r.rke.max));
}

/** The Docker versions RKE `rke` accepts on a cluster of Kubernetes `k8s` (undefined: not in the matrix). */
export function rkeDockerVersions(rke: string, k8s: string): { versions: string[]; source: string } | undefined {
  const row = rkeRow(rke);
  if (!row) return undefined;
  const versions = row.docker['*'] ?? row.docker[k8sMinor(k8s)] ?? [];
  return { versions, source: row.source };
}

/** Does Docker `docker` match one of RKE's `X.Y.x` entries (major and minor, as docker.go compares)? */
export function dockerAccepted(docker: string, accepted: string[]): boolean {
  const [ma, mi] = versionParts(docker);
  return accepted.some((a) => {
    const [am, ai] = versionParts(a);
    return am === ma && ai === mi;
  });
}

// ------------------------------------------------------------ what manifests need

/** The API versions a manifest set uses that a Kubernetes minor must serve, and where they stop. */
export interface ApiUse { apiVersion: string; kind: string; servedUntil: string; source: string }

const REMOVALS_SRC = 'Kubernetes deprecated API migration guide (kubernetes/website content/en/docs/reference/using-api/deprecation-guide.md)';
export const EXT_DEPLOYMENT: ApiUse = { apiVersion: 'extensions/v1beta1', kind: 'Deployment', servedUntil: '1.15', source: REMOVALS_SRC };
export const EXT_INGRESS: ApiUse = { apiVersion: 'extensions/v1beta1', kind: 'Ingress', servedUntil: '1.21', source: REMOVALS_SRC };

export interface ChartRow { chart: { min: string; max: string }; uses: ApiUse[]; source: string }

/** Rancher charts (chart version = Rancher version without the v) and the old APIs their manifests use. */
export const CHARTS: ChartRow[] = [
  { chart: { min: '2.0.0', max: '2.1.0' }, uses: [EXT_DEPLOYMENT, EXT_INGRESS], source: 'rancher/server-chart tags 2.0.4–2.1.0 rancher/templates/deployment.yaml, ingress.yaml' },
  { chart: { min: '2.2.0', max: '2.5.3' }, uses: [EXT_INGRESS], source: 'rancher/rancher v2.2.0–v2.5.3 chart/templates/ingress.yaml' },
];

/** The add-on playbooks' manifests (tasks/templates/rancher-cluster-*.yml.hbs, as rke-templates has them). */
export const ADDON_MANIFESTS = {
  uses: [EXT_DEPLOYMENT, EXT_INGRESS],
  source: 'rancher/rancher rke-templates/3-node-*.yml (parent of commit 744202bd9a)',
};

/** The add-on install: Rancher v2.0.x on an RKE that still ships Kubernetes v1.11. */
export const ADDON_RKE_MAX = {
  rke: 'v0.2.2',
  source: 'rancher/kontainer-driver-metadata pkg/rke/k8s_version_info.go ("v1.11": MaxRKEVersion "0.2.2")',
};

// ------------------------------------------------------------ Helm

export const HELM_MIN = {
  version: 'v3.3.2',
  source: 'helm/helm: `--create-namespace` from v3.2.0 (cmd/helm/install.go), `repo add --force-update` from v3.3.2 (cmd/helm/repo_add.go); Helm 2 has no -n',
};

/** `helm version --short --client` against HELM_MIN: Helm 3 prints `v3.19.5+g1ad1a4e`, Helm 2
 * `Client: v2.17.0+ga690bad` (helm/helm cmd/helm/version.go at v3.3.2 and v2.17.0). A problem
 * sentence naming `binary`, or null when usable. */
export function helmVersionProblem(out: string, binary: string): string | null {
  const v = /(?:^|Client: )(v\d+\.\d+\.\d+)/m.exec(out)?.[1];
  if (!v) return `${binary} version printed no version (${out.trim().slice(0, 120) || 'nothing'}): is it helm?`;
  if (compareVersions(v, HELM_MIN.version) >= 0) return null;
  const what = v.startsWith('v2.') ? 'Helm 2 (its CLI has no -n and needs Tiller in the cluster)' : `Helm ${v}`;
  return `${binary} is ${what}; helm-release needs Helm ≥ ${HELM_MIN.version.slice(1)} (--create-namespace since 3.2.0, repo add --force-update since 3.3.2) ` +
    `(source: ${HELM_MIN.source})`;
}

// ------------------------------------------------------------ rules

const k8sOk = (k8s: string, r: { min: string; max: string }) => inRange(k8sMinor(k8s), r.min, `${r.max}.9999`);

/** Kubernetes `k8s` against the add-on install: its manifests must be served, Rancher v2.0.x must support it. */
export function addonK8sProblems(k8s: string): string[] {
  const out: string[] = [];
  for (const u of ADDON_MANIFESTS.uses) {
    if (compareVersions(k8sMinor(k8s), u.servedUntil) > 0) {
      out.push(`kubernetes_version ${k8s}: the add-on manifests use ${u.apiVersion} ${u.kind}, which Kubernetes serves only up to ${u.servedUntil} ` +
        `(rule: manifests in upstream's API versions; source: ${ADDON_MANIFESTS.source}; ${u.source})`);
      break;
    }
  }
  const row = RANCHER_K8S[0]!;
  if (!k8sOk(k8s, row.k8s)) {
    out.push(`kubernetes_version ${k8s} is outside what Rancher v2.0.x supports (v${row.k8s.min}–v${row.k8s.max}; source: ${row.source}); ` +
      'use an RKE v0.1.x release with Kubernetes v1.11, or install a later Rancher with playbooks/ha-helm.yml');
  }
  return out;
}

/** The RKE binary's version against the add-on install. */
export function addonRkeProblems(rke: string): string[] {
  if (compareVersions(rke, ADDON_RKE_MAX.rke) <= 0) return [];
  return [`rke ${rke} ships no Kubernetes that Rancher v2.0.x supports (v1.11 was last in RKE ${ADDON_RKE_MAX.rke}; source: ${ADDON_RKE_MAX.source}); ` +
    'the add-on install needs RKE v0.1.x (e.g. v0.1.9, Kubernetes v1.11.1) — or install a later Rancher with playbooks/ha-helm.yml'];
}

/** Kubernetes `k8s` against the RKE release that would build it. */
export function rkeK8sProblems(rke: string, k8s: string): string[] {
  const row = rkeRow(rke);
  if (!row || k8sOk(k8s, row.k8s)) return [];
  return [`kubernetes_version ${k8s} is not one RKE ${rke} ships (v${row.k8s.min}–v${row.k8s.max}; source: ${row.source})`];
}

/** Rancher `rancher` from its chart on Kubernetes `k8s`: what helm would refuse, and what Rancher does not support. */
export function chartK8sProblems(rancher: string, k8s: string): string[] {
  const out: string[] = [];
  const chart = rancher.replace(/^v/, '');
  for (const c of CHARTS.filter((c) => inRange(chart, c.chart.min, c.chart.max))) {
    const u = c.uses.find((x) => compareVersions(k8sMinor(k8s), x.servedUntil) > 0);
    if (u) {
      out.push(`Rancher chart ${chart} renders ${u.apiVersion} ${u.kind}, which Kubernetes ${k8s} no longer serves (only up to ${u.servedUntil}): ` +
        `helm would fail with "no matches for kind" (source: ${c.source}; ${u.source})`);
    }
  }
  out.push(...rancherK8sProblems(rancher, k8s));
  return out;
}
