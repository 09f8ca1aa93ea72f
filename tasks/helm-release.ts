// helm-release: an idempotent `helm upgrade --install` on the controller. The probe asks the
// cluster what is deployed (`helm status`, `helm history --max 1` for the chart version, `helm get
// values` for the user-supplied values) and reports ok when version and values already match, so a
// rerun changes nothing; otherwise it upgrades (or installs) once. Values go to helm in a 0600
// temp file that is removed afterwards, also when helm fails. Helm's own error text is reported.
import { existsSync, rmSync } from 'node:fs';
import { stringify as stringifyYaml } from 'yaml';
import { helmVersionProblem } from './_support-matrix.js';
import { defineTask, type KubeApi, type TaskContext } from '../runner/sdk/index.js';
import type { FileDiff, Vars } from '../runner/sdk/index.js';
import { MASK, yamlValue } from '../runner/sdk/index.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'namespace', 'chart'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'Release name, e.g. rancher.' },
    namespace: { type: 'string', minLength: 1, description: 'Namespace of the release, e.g. cattle-system.' },
    chart: { type: 'string', minLength: 1, description: 'repo/name (e.g. rancher-stable/rancher) or a local chart .tgz on the controller (air-gapped installs).' },
    repo: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'url'],
      properties: { name: { type: 'string', minLength: 1 }, url: { type: 'string', minLength: 1 } },
      description: 'Chart repository, added (or updated) with `helm repo add --force-update` before installing. Ignored for a local .tgz.',
    },
    version: { type: 'string', description: 'Chart version (a leading v is accepted: v2.4.18 = 2.4.18). Without it, helm takes the newest and only the values are compared.' },
    values: {
      anyOf: [{ type: 'object' }, { type: 'string' }],
      description: 'Values: an object, or YAML text (as in a values.yaml; Handlebars blocks may choose keys). Compared with `helm get values` (user-supplied values only).',
    },
    kubeconfig: { type: 'string', description: 'Kubeconfig on the controller (default: helm\'s own, $KUBECONFIG or ~/.kube/config).' },
    wait: { type: 'boolean', default: true, description: 'Pass --wait: helm returns once the release\'s pods are ready.' },
    timeout: { type: 'string', default: '10m', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$', description: 'helm --timeout (a Go duration such as 10m or 600s).' },
    create_namespace: { type: 'boolean', default: true, description: 'Pass --create-namespace (used by helm on install only).' },
    helm: { type: 'string', description: 'The helm binary (default: vars helm_binary, else helm on PATH).' },
  },
} as const;

// ---- helpers shared with kubectl-apply ----

/** The binary to run: the param, else the var (e.g. helm_binary), else the name on PATH. */
export function binaryFor(param: string | undefined, vars: Vars, varName: string, fallback: string): string {
  if (param) return param;
  const v = vars[varName];
  return typeof v === 'string' && v ? v : fallback;
}

/** `BINARY [--kubeconfig FILE]`, quoted for the shell (helm and kubectl take the same flag). */
export function kubeCli(ctx: TaskContext, binary: string, kubeconfig: string | undefined): string {
  return `${ctx.quote(binary)}${kubeconfig ? ` --kubeconfig ${ctx.quote(ctx.resolve(kubeconfig))}` : ''}`;
}

/** Why the cluster cannot be asked yet: the kubeconfig is not there. In check mode an earlier task
 * (rke-up) may only have reported that it would create it; then the probe predicts a change. */
export async function missingKubeconfig(ctx: TaskContext, kubeconfig: string | undefined): Promise<string | null> {
  if (!kubeconfig) return null;
  const r = await ctx.run(`[ -e ${ctx.quote(kubeconfig)} ]`);
  return r.code === 0 ? null : kubeconfig;
}

/**
 * The API server of `kubeconfig` for the tool: a tunnel through the inventory host the server
 * names (ctx.kubeApi), which the engine closes when the probe or apply returns, whatever way.
 * Without a kubeconfig the tool's default is used as it is. A string is why it cannot be reached.
 */
export async function kubeApiFor(ctx: TaskContext, kubeconfig: string | undefined): Promise<{ kubeconfig?: string; api?: KubeApi } | string> {
  if (!kubeconfig) return {};
  try {
    const api = await ctx.kubeApi(kubeconfig);
    return { kubeconfig: api.kubeconfig, api };
  } catch (e) {
    return `cannot reach the API server of ${kubeconfig}: ${(e as Error).message}`;
  }
}

/** What the tunnel saw go wrong, for a tool's error message (empty when nothing did). */
export function tunnelNote(api: KubeApi | undefined): string {
  const why = api?.problem();
  return why ? ` (API server ${api!.server} through ${api!.via}: ${why})` : '';
}

/** Key names whose values are secrets wherever they appear in values or manifests. */
const SECRET_KEY = /pass(word|phrase)?|secret|token|credential|private[-_]?key|(^|[-_.])key$|apikey|accesskey/i;

/** A copy of `value` with values under secret-looking keys replaced (before/after marked when
 * `other` differs there, as kubectl diff does), so a diff says that a secret changed, not to what. */
export function maskValues(value: unknown, other: unknown = value, side: 'before' | 'after' | '' = ''): unknown {
  if (Array.isArray(value)) return value.map((v, i) => maskValues(v, Array.isArray(other) ? other[i] : undefined, side));
  if (value && typeof value === 'object') {
    const o = other && typeof other === 'object' && !Array.isArray(other) ? (other as Vars) : {};
    const out: Vars = {};
    for (const [k, v] of Object.entries(value as Vars)) {
      if (SECRET_KEY.test(k) && v !== null && typeof v !== 'object') {
        out[k] = side && canonical(v) !== canonical(o[k]) ? `${MASK} (${side})` : MASK;
      } else {
        out[k] = maskValues(v, o[k], side);
      }
    }
    return out;
  }
  return value;
}

/** JSON with object keys sorted: equal for deep-equal values whatever their key order. */
export function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === 'object') {
      return Object.fromEntries(Object.keys(x as Vars).sort().map((k) => [k, sort((x as Vars)[k])]));
    }
    return x;
  };
  return JSON.stringify(sort(v) ?? null);
}

/** The last meaningful lines of a CLI's stderr (helm and kubectl print `Error: ...` there), with
 * `secrets` masked: a chart's or the API server's message may echo a value it rejects. */
export function cliError(r: { stdout: string; stderr: string }, secrets: string[] = []): string {
  const lines = (r.stderr.trim() || r.stdout.trim()).split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.filter((l) => /^(Error|error)\b/.test(l));
  return maskIn((err.length ? err : lines.slice(-3)).join(' | ') || 'no output', secrets);
}

/** `text` with every one of `secrets` (and each line of a multi-line one) replaced by the mask. */
export function maskIn(text: string, secrets: string[]): string {
  const all = new Set<string>();
  for (const s of secrets) {
    if (s.length >= 3) all.add(s);
    for (const l of s.split('\n')) if (l.trim().length >= 3) all.add(l.trim());
  }
  let out = text;
  for (const s of [...all].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}

/** The values under secret-looking keys inside `value` (what maskValues hides in a diff). */
export function secretLeaves(value: unknown, under = false, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => secretLeaves(v, under, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Vars)) secretLeaves(v, under || SECRET_KEY.test(k), out);
  } else if (under && value !== null && value !== undefined && String(value).length >= 3) out.push(String(value));
  return out;
}

/** Kubernetes object names as helm and kubectl accept them (RFC 1123 label; helm allows 53). */
export function dnsLabelProblem(what: string, v: string, max = 63): string | undefined {
  if (v.length <= max && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) return undefined;
  return `${what} ${JSON.stringify(v)} is not a valid name (lower-case letters, digits and inner hyphens, at most ${max})`;
}

/** A repository URL without its credentials, and the credentials (for --username/--password-stdin). */
export function repoCredentials(url: string): { url: string; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { url };
  }
  if (!u.username && !u.password) return { url };
  const username = decodeURIComponent(u.username);
  const password = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { url: u.href.replace(/\/$/, url.endsWith('/') ? '/' : ''), username, password };
}

// ---- helm-release ----

/** Chart versions compare without the leading v (Rancher tags v2.4.18, its chart is 2.4.18). */
export function chartVersion(v: string): string {
  return v.replace(/^v(?=\d)/, '');
}

/** `rancher-2.4.18` (helm list/history "chart") → name and version; the version starts at the first
 * `-<digit>` or `-v<digit>` (chart names may contain dashes; jetstack's versions keep their v). */
export function splitChart(s: string): { name: string; version: string } {
  const m = /^(.*?)-(v?\d+\.\d+\.\d+.*)$/.exec(s);
  return m ? { name: m[1]!, version: m[2]! } : { name: s, version: '' };
}

export function isLocalChart(chart: string): boolean {
  return /\.tgz$/i.test(chart) || chart.startsWith('/') || chart.startsWith('./') || chart.startsWith('../');
}

/** The wanted values as an object: YAML text is parsed as helm parses a values file. */
export function wantedValues(values: unknown): { values: Vars; problem?: string } {
  if (values === undefined || values === null) return { values: {} };
  if (typeof values === 'string') {
    const read = yamlValue(values);
    if ('problem' in read) return { values: {}, problem: `values ${read.problem}` };
    const parsed = read.value;
    if (parsed === null || parsed === undefined) return { values: {} };
    if (typeof parsed !== 'object' || Array.isArray(parsed)) return { values: {}, problem: 'values must be a mapping (key: value), not a list or a scalar' };
    return { values: parsed as Vars };
  }
  return { values: values as Vars };
}

function valuesText(chart: string, values: unknown, other: unknown, side: 'before' | 'after'): string {
  const body = values && Object.keys(values as Vars).length ? stringifyYaml(JSON.parse(canonical(maskValues(values, other, side)))) : '{}\n';
  return `# chart: ${chart}\n${body}`;
}

interface HelmState {
  action: 'install' | 'upgrade';
  chartName: string;
  values: Vars;
  from?: string;
}

interface HelmParams {
  name: string;
  namespace: string;
  chart: string;
  kubeconfig?: string;
  helm?: string;
}

/** Release and namespace names: checked before they reach helm's command line. */
function nameProblems(p: { name: string; namespace: string; repo?: { name: string } }): string[] {
  return [
    dnsLabelProblem('release name', p.name, 53),
    dnsLabelProblem('namespace', p.namespace),
    p.repo && /^-|[\s/\0]/.test(p.repo.name) ? `repo name ${JSON.stringify(p.repo.name)} may not start with - or hold spaces or slashes` : undefined,
  ].filter((x): x is string => x !== undefined);
}

function helmBase(ctx: TaskContext, p: HelmParams, kubeconfig = p.kubeconfig): string {
  return kubeCli(ctx, binaryFor(p.helm, ctx.vars, 'helm_binary', 'helm'), kubeconfig);
}

export { helmVersionProblem };

export default defineTask<typeof schema, HelmState>({
  id: 'helm-release',
  summary: 'Install or upgrade a Helm release (`helm upgrade --install`), only when its chart version or values differ',
  schema,
  runsOn: 'controller',
  precheck(p, ctx) {
    const out = nameProblems(p);
    const w = wantedValues(p.values);
    if (w.problem) out.push(w.problem);
    if (isLocalChart(p.chart) && !existsSync(ctx.resolve(p.chart))) out.push(`chart ${p.chart} does not exist on the controller (a local chart .tgz; fetch it with \`helm pull\` where there is network)`);
    return out;
  },
  async probe(ctx, p) {
    const q = ctx.quote;
    const names = nameProblems(p);
    if (names.length) return { changed: false, status: 'failed', msg: names.join('; ') };
    const w = wantedValues(p.values);
    if (w.problem) return { changed: false, status: 'failed', msg: w.problem };
    const secrets = secretLeaves(w.values);
    const ns = `-n ${q(p.namespace)}`;
    const local = isLocalChart(p.chart);
    const kube = p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined;

    // The chart's own name and version: from the .tgz's Chart.yaml (helm ignores --version for a
    // local chart, so a .tgz of another version would silently be installed), else repo/name.
    let chartName = p.chart.split('/').pop() ?? p.chart;
    let want = p.version ? chartVersion(p.version) : undefined;
    if (local) {
      const file = ctx.resolve(p.chart);
      const r = await ctx.run(`tar -xzOf ${q(file)} --wildcards '*/Chart.yaml' 2>&1 | head -c 65536`);
      type ChartMeta = { name?: unknown; version?: unknown } | null;
      const read = yamlValue(r.stdout);
      const meta = ('value' in read ? read.value : null) as ChartMeta;
      if (!meta || typeof meta !== 'object' || typeof meta.name !== 'string' || meta.version === undefined) {
        return { changed: false, status: 'failed', msg: `chart ${p.chart} is not a chart archive (no <name>/Chart.yaml with name and version inside)` };
      }
      chartName = meta.name;
      const has = chartVersion(String(meta.version));
      if (want && has !== want) {
        return { changed: false, status: 'failed', msg: `chart ${p.chart} holds ${chartName} ${has}, not the wanted version ${want}: fetch that version (helm pull ${chartName} --version ${want})` };
      }
      want = has;
    }
    const wantChart = `${chartName}${want ? `-${want}` : ''}`;

    // The CLI first: an old helm is refused before any release is asked about or touched.
    const binary = binaryFor(p.helm, ctx.vars, 'helm_binary', 'helm');
    const ver = await ctx.run(`${q(binary)} version --short --client`);
    const old = ver.code === 127 ? `${binary} not found on the controller` : helmVersionProblem(`${ver.stdout}\n${ver.stderr}`, binary);
    if (old) return { changed: false, status: 'failed', msg: old };

    const missing = await missingKubeconfig(ctx, kube);
    if (missing) {
      if (ctx.check) return { changed: true, msg: `would install ${p.name} (${wantChart}) in ${p.namespace}: kubeconfig ${missing} not written yet`, state: { action: 'install', chartName, values: w.values }, data: { pending: true } };
      return { changed: false, status: 'failed', msg: `kubeconfig ${missing} not found on the controller (run rke-up first)` };
    }
    const reach = await kubeApiFor(ctx, kube);
    if (typeof reach === 'string') return { changed: false, status: 'failed', msg: reach };
    const helm = helmBase(ctx, p, reach.kubeconfig);

    const st = await ctx.run(`${helm} status ${ns} -o json -- ${q(p.name)}`);
    const diffOf = (beforeChart: string | null, before: Vars | null): FileDiff[] | undefined => (ctx.diff ? [{
      path: `helm release ${p.namespace}/${p.name}`,
      before: beforeChart === null ? null : valuesText(beforeChart, before, w.values, 'before'),
      after: valuesText(wantChart, w.values, before, 'after'),
    }] : undefined);
    if (st.code !== 0) {
      // helm's storage driver error for an unknown release (pkg/storage/driver: ErrReleaseNotFound).
      if (/release: not found/.test(st.stderr)) {
        return {
          changed: true, msg: `would install ${p.name} (${wantChart}) in ${p.namespace}`,
          diff: diffOf(null, null), state: { action: 'install', chartName, values: w.values }, data: { pending: true },
        };
      }
      return { changed: false, status: 'failed', msg: `helm status ${p.name} failed (exit ${st.code}): ${cliError(st, secrets)}${tunnelNote(reach.api)}` };
    }
    let status = 'unknown';
    try {
      status = String((JSON.parse(st.stdout) as { info?: { status?: unknown } }).info?.status ?? 'unknown');
    } catch {
      return { changed: false, status: 'failed', msg: `helm status ${p.name} printed no JSON: ${st.stdout.slice(0, 200)}` };
    }
    // `helm status -o json` leaves the chart out; the newest revision in the history names it.
    const hist = await ctx.run(`${helm} history ${ns} --max 1 -o json -- ${q(p.name)}`);
    let deployedChart = '';
    try {
      const rows = JSON.parse(hist.stdout) as { chart?: unknown; revision?: unknown }[];
      deployedChart = String(rows[rows.length - 1]?.chart ?? '');
    } catch {
      return { changed: false, status: 'failed', msg: `helm history ${p.name} failed (exit ${hist.code}): ${cliError(hist, secrets)}` };
    }
    const gv = await ctx.run(`${helm} get values ${ns} -o json -- ${q(p.name)}`);
    let deployedValues: Vars = {};
    try {
      deployedValues = (JSON.parse(gv.stdout) as Vars | null) ?? {}; // `null` when no values were given
    } catch {
      return { changed: false, status: 'failed', msg: `helm get values ${p.name} failed (exit ${gv.code}): ${cliError(gv, secrets)}` };
    }
    const dep = splitChart(deployedChart);
    const reasons: string[] = [];
    if (status !== 'deployed') reasons.push(`release status is ${status}`);
    if (dep.name !== chartName) reasons.push(`chart ${dep.name} → ${chartName}`);
    if (want && chartVersion(dep.version) !== want) reasons.push(`version ${dep.version} → ${want}`);
    const changedKeys = diffKeys(deployedValues, w.values);
    if (changedKeys.length) reasons.push(`values differ (${changedKeys.join(', ')})`);
    const data = { status, chart: deployedChart, version: dep.version };
    if (!reasons.length) return { changed: false, msg: `${p.name} ${deployedChart} ${status} in ${p.namespace} with the wanted values`, data: { ...data, pending: false } };
    return {
      changed: true, msg: `would upgrade ${p.name}: ${reasons.join('; ')}`, diff: diffOf(deployedChart, deployedValues),
      state: { action: 'upgrade', chartName, values: w.values, from: deployedChart }, data: { ...data, pending: true },
    };
  },
  async apply(ctx, p, probe) {
    const q = ctx.quote;
    const state = probe.state!;
    const local = isLocalChart(p.chart);
    const secrets = secretLeaves(state.values);
    const reach = await kubeApiFor(ctx, p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined);
    if (typeof reach === 'string') return { status: 'failed', msg: reach };
    const helm = helmBase(ctx, p, reach.kubeconfig);
    if (p.repo && !local) {
      // Credentials in the URL go to helm as --username and --password-stdin, never on argv.
      const repo = repoCredentials(p.repo.url);
      if (repo.password !== undefined) secrets.push(repo.password);
      const auth = repo.username !== undefined ? ` --username ${q(repo.username)} --password-stdin` : '';
      const r = await ctx.run(`${helm} repo add --force-update${auth} -- ${q(p.repo.name)} ${q(repo.url)}`, {
        onLine: (l) => ctx.log(maskIn(l, secrets)), stdin: repo.username !== undefined ? `${repo.password ?? ''}\n` : undefined,
      });
      if (r.code !== 0) return { status: 'failed', msg: `helm repo add ${p.repo.name} ${repo.url} failed (exit ${r.code}): ${cliError(r, secrets)}` };
    }
    // A private directory for the values file: values may hold proxy credentials or passwords.
    const mk = await ctx.run('umask 077 && mktemp -d "${TMPDIR:-/tmp}/rancher-play-helm.XXXXXX"');
    const dir = mk.stdout.trim();
    if (mk.code !== 0 || !dir) return { status: 'failed', msg: `cannot create a temp directory for the values: ${cliError(mk)}` };
    const file = `${dir}/values.yaml`;
    try {
      await ctx.writeFile(file, stringifyYaml(state.values), { mode: 0o600 });
      const cmd = [
        `${helm} upgrade --install`,
        `--namespace ${q(p.namespace)}`,
        p.create_namespace ? '--create-namespace' : '',
        p.version && !local ? `--version ${q(chartVersion(p.version))}` : '',
        `-f ${q(file)}`,
        p.wait ? `--wait --timeout ${q(p.timeout)}` : '',
        // Positional arguments after `--`: a value starting with `-` is never an option.
        `-- ${q(p.name)} ${q(local ? ctx.resolve(p.chart) : p.chart)}`,
      ].filter(Boolean).join(' ');
      const r = await ctx.run(cmd, { onLine: (l) => ctx.log(maskIn(l, secrets)) });
      if (r.code !== 0) return { status: 'failed', msg: `helm upgrade --install ${p.name} failed (exit ${r.code}): ${cliError(r, secrets)}${tunnelNote(reach.api)}` };
    } finally {
      // An interrupt aborts ctx.run; the directory is on this machine (a controller task), so
      // it is removed directly then.
      await ctx.run(`rm -rf ${q(dir)}`).catch(() => rmSync(dir, { recursive: true, force: true }));
    }
    const after = await ctx.run(`${helm} history -n ${q(p.namespace)} --max 1 -o json -- ${q(p.name)}`);
    let rev = '';
    let chart = '';
    try {
      const rows = JSON.parse(after.stdout) as { chart?: unknown; revision?: unknown }[];
      rev = String(rows[rows.length - 1]?.revision ?? '');
      chart = String(rows[rows.length - 1]?.chart ?? '');
    } catch { /* the upgrade itself succeeded; the message just says less */ }
    const what = state.action === 'install' ? `installed ${p.name} ${chart}`
      : state.from === chart ? `upgraded ${p.name} ${chart} (new values)` : `upgraded ${p.name} ${state.from} → ${chart}`;
    return { msg: `${what} in ${p.namespace}${rev ? ` (revision ${rev})` : ''}`, data: { status: 'deployed', chart, version: splitChart(chart).version, revision: rev, pending: false } };
  },
});

/** Dotted paths of the values that differ (masked keys included by name, never by value). */
export function diffKeys(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (x: unknown): x is Vars => !!x && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffKeys(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  return canonical(a) === canonical(b) ? [] : [prefix || '(all)'];
}
