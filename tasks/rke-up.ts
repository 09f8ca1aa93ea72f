// rke-up: builds (or updates) the Kubernetes cluster with `rke up --config FILE` on the controller.
// Checks first what RKE would fail on late (YAML, nodes, odd etcd count, SSH keys) or only warn
// about (add-ons the cluster's Kubernetes no longer serves), skips when the config is unchanged
// since the last successful run and its outputs exist, streams RKE's log into the tree, and fails
// with RKE's own words on what RKE itself lets pass with exit 0 (a dropped node, a failed add-on
// job).
import { basename, dirname, extname, join } from 'node:path';
import { defineTask } from '../runner/sdk/index.js';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import {
  RKE_DEFAULT_K8S, RKE_DEFAULT_K8S_SOURCE, RKE_FEATURES, addonK8sProblems, addonRkeProblems, chartK8sProblems, rkeHas, rkeK8sProblems,
} from './_support-matrix.js';
import {
  addonInstallVersionProblems, certChainProblems, checkRkeConfig, etcdProblems, fqdnProblems, groupHosts, parseRkeLine,
  rancherVersionProblems, unservedAddonProblems,
} from './rancher-rules.js';
import { expandHome, yamlValue } from '../runner/sdk/index.js';
import { sha256 } from './_file.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['config'],
  properties: {
    config: { type: 'string', description: 'Cluster config (rancher-cluster.yml) on the controller; RKE runs in its directory.' },
    binary: { type: 'string', description: 'The rke binary, name on PATH or path (default: vars rke_binary, else rke).' },
    force: { type: 'boolean', default: false, description: 'Run even when the config is unchanged since the last successful run.' },
    rancher_addons: {
      type: 'boolean',
      default: false,
      description: 'The config installs Rancher as RKE add-ons: refuse a rancher_version above v2.0.8 (the last one that install supports), ' +
        'and a Kubernetes or RKE release that Rancher v2.0.x and the add-ons\' extensions/v1beta1 manifests cannot run on.',
    },
    rancher_chart: {
      type: 'boolean',
      default: false,
      description: 'Rancher\'s Helm chart of rancher_version goes into this cluster next: refuse a Kubernetes release the chart cannot install on ' +
        'or that Rancher does not support.',
    },
  },
} as const;

/** Beside the config: what the last successful run saw. */
const STATE = '.rancher-play-rke.json';

export interface RkeState {
  config_sha256: string;
  /** `rke --version` of that run: RKE before v0.2.0 writes no .rkestate. */
  rke_version?: string;
  finished_at: string;
  /** The .rkestate as that run left it: another `rke up` since (by hand) rewrites it. */
  rkestate_sha256?: string;
}

/**
 * The files RKE writes beside the config, named as RKE names them: `kube_config_` + the config's
 * file name, extension kept (rancher/rke pki/util.go GetLocalKubeConfig), and the config's name
 * with `.rkestate` in place of its extension (rancher/rke cluster/state.go GetStateFilePath).
 */
export function rkeOutputs(config: string): { kubeconfig: string; rkestate: string; state: string } {
  const dir = dirname(config);
  const file = basename(config);
  return {
    kubeconfig: join(dir, `kube_config_${file}`),
    rkestate: join(dir, `${file.slice(0, file.length - extname(file).length)}.rkestate`),
    state: join(dir, STATE),
  };
}

/**
 * What ends an `rke up` as failed although RKE may exit 0: a fatal line; a user add-on job that
 * failed (rancher/rke cluster/cluster.go deployAddons: only a warning `Failed to deploy addon
 * execute job [...]`); the DNS add-on that failed (cluster/addons.go deployDNS, RKE v0.2.0+:
 * `Failed to deploy DNS addon execute job for provider ...`). A node whose SSH tunnel failed is
 * warned about (`Removing host [ADDR] from node lists`, cluster/hosts.go TunnelHosts) and the run
 * goes on with fewer nodes, then ends with exit 1 and `Provisioning incomplete, host(s) [...]
 * skipped because they could not be contacted` (cmd/up.go checkAllIncluded, RKE v0.1.6+): the
 * warning is kept as the reason, the fatal line is the failure.
 */
export function rkeFailureLine(level: string, msg: string): boolean {
  return level === 'fatal' || level === 'panic' || /^Removing host \[[^\]]*\] from node lists/.test(msg) ||
    /^Failed to deploy (DNS )?addon execute job/.test(msg);
}

/** `rke version v1.4.11` (rancher/rke main.go: app.Version) → v1.4.11. */
export function rkeVersionOf(out: string): string | undefined {
  return /rke version (v?\d+\.\d+\.\d+)/.exec(out)?.[1];
}

/** The Kubernetes an RKE release installs when the config names none, without asking it (RKE
 * before v0.3.0 has no `config --list-version`): undefined when the matrix does not know it. */
export function oldRkeDefault(rke: string): string | undefined {
  return RKE_DEFAULT_K8S[rke];
}

/** What validate can learn from the controller's rke without touching anything: its version and
 * (from v0.3.0, `rke config --list-version`) its default Kubernetes. Asked once per binary, and
 * without blocking: validate goes on with its other checks while rke answers. */
const localRkeCache = new Map<string, Promise<{ version?: string; defaultK8s?: string }>>();
export function localRke(binary: string): Promise<{ version?: string; defaultK8s?: string }> {
  let found = localRkeCache.get(binary);
  if (!found) localRkeCache.set(binary, (found = askRke(binary)));
  return found;
}

async function askRke(binary: string): Promise<{ version?: string; defaultK8s?: string }> {
  const run = (args: string[]) => new Promise<string | undefined>((resolve) => {
    try {
      // (stdin closed at once: nothing is ever typed to it)
      execFile(binary, args, { encoding: 'utf8', timeout: 15000 }, (err, stdout) => resolve(err ? undefined : stdout)).stdin?.end();
    } catch {
      resolve(undefined);
    }
  });
  const version = rkeVersionOf((await run(['--version'])) ?? '');
  if (!version) return {};
  if (!rkeHas(version, 'listVersion')) return { version, defaultK8s: oldRkeDefault(version) };
  const lv = (await run(['config', '--list-version']))?.trim().split('\n').pop()?.trim();
  return { version, defaultK8s: lv || undefined };
}

function binaryOf(params: { binary?: string }, vars: Record<string, unknown>): string {
  return params.binary ?? (typeof vars.rke_binary === 'string' ? vars.rke_binary : 'rke');
}

export default defineTask({
  id: 'rke-up',
  summary: 'Run `rke up --config FILE` (checked first; skipped when nothing changed since the last success)',
  schema,
  runsOn: 'controller',
  // The Rancher rules, from the inventory, before anything connects: concrete version, valid FQDN,
  // CA file of PEM certificates in order, odd etcd count, every node's SSH key present.
  async precheck(params, ctx) {
    const v = ctx.vars;
    const out = [
      ...(v.rancher_version !== undefined ? rancherVersionProblems(v.rancher_version) : []),
      ...(params.rancher_addons
        ? addonInstallVersionProblems(v.rancher_version).map((m) => {
            const at = ctx.varSource?.('rancher_version');
            return at ? `${at}: ${m}` : m;
          })
        : []),
      ...(v.fqdn !== undefined ? fqdnProblems(v.fqdn) : []),
    ];
    // The support matrix: Kubernetes and RKE releases this install cannot run on.
    const at = (name: string) => (m: string) => {
      const src = ctx.varSource?.(name);
      return src ? `${src}: ${m}` : m;
    };
    const wantK8s = typeof v.kubernetes_version === 'string' && v.kubernetes_version ? v.kubernetes_version : undefined;
    if (params.rancher_addons || params.rancher_chart) {
      const rke = await localRke(binaryOf(params, v));
      const k8s = wantK8s ?? rke.defaultK8s;
      if (params.rancher_addons) {
        if (rke.version) out.push(...addonRkeProblems(rke.version).map(at('rke_binary')));
        if (k8s) {
          out.push(...addonK8sProblems(k8s).map((m) => (wantK8s ? at('kubernetes_version')(m) : `rke ${rke.version}'s default Kubernetes: ${m}`)));
        }
      }
      if (rke.version && wantK8s) out.push(...rkeK8sProblems(rke.version, wantK8s).map(at('kubernetes_version')));
      if (params.rancher_chart && typeof v.rancher_version === 'string' && k8s && !rancherVersionProblems(v.rancher_version).length) {
        out.push(...chartK8sProblems(v.rancher_version, k8s).map((m) => (wantK8s ? at('kubernetes_version')(m) : `rke ${rke.version}'s default Kubernetes: ${m}`)));
      }
    }
    if (typeof v.ca_cert === 'string') {
      const file = ctx.resolve(v.ca_cert);
      if (!existsSync(file)) out.push(`ca_cert ${v.ca_cert} does not exist on the controller`);
      else out.push(...certChainProblems(readFileSync(file, 'utf8'), v.ca_cert));
    }
    const nodes = groupHosts(v, 'rancher');
    if (nodes.length) {
      const roles = nodes.map((n) => (Array.isArray(n.vars.rke_roles) ? n.vars.rke_roles.map(String) : ['controlplane', 'etcd', 'worker']));
      out.push(...etcdProblems(roles).problems.map((p) => `group rancher: ${p}`));
      for (const n of nodes) {
        const hostInfo = n.vars.host as { ssh_key_path?: unknown } | undefined;
        const key = n.vars.rke_ssh_key_path ?? hostInfo?.ssh_key_path;
        if (typeof key === 'string' && !existsSync(expandHome(key))) out.push(`${n.name}: ssh_key_path ${key} does not exist on the controller`);
      }
    }
    return out;
  },
  async probe(ctx, params) {
    const config = ctx.resolve(params.config);
    const binary = binaryOf(params, ctx.vars);
    const q = ctx.quote;
    const would = `${binary} up --config ${basename(config)} (in ${dirname(config)})`;
    const text = await ctx.readFile(config);
    if (text === null) {
      // In check mode an earlier task may only have reported that it would write the config.
      if (ctx.check) return { changed: true, msg: `would run: ${would} (config not written yet)` };
      return { changed: false, status: 'failed', msg: `cluster config ${config} not found: render it first (render-template)` };
    }
    const chk = checkRkeConfig(text, config);
    if (chk.keyPaths.length) {
      const r = await ctx.run(chk.keyPaths.map((p) => `[ -r ${q(p)} ] || echo ${q(p)}`).join('\n'));
      for (const p of r.stdout.split('\n').filter(Boolean)) {
        chk.problems.push(`ssh_key_path ${p} does not exist on the controller (RKE uses it to reach the nodes)`);
      }
    }
    if (chk.problems.length) return { changed: false, status: 'failed', msg: chk.problems.join('; '), warnings: chk.warnings };
    const bin = await ctx.run(`command -v ${q(binary)} >/dev/null && ${q(binary)} --version`);
    if (bin.code !== 0) {
      const why = bin.code === 127 || !bin.stdout.trim() ? 'not found on the controller: install RKE or set binary' : `--version failed: ${(bin.stderr || bin.stdout).trim()}`;
      return { changed: false, status: 'failed', msg: `${binary} ${why}`, warnings: chk.warnings };
    }
    const rkeVersion = rkeVersionOf(bin.stdout) ?? bin.stdout.trim();
    const read = yamlValue(text);
    const cfg = (('value' in read ? read.value : null) ?? {}) as { kubernetes_version?: unknown; addons?: unknown };
    let k8s = typeof cfg.kubernetes_version === 'string' && cfg.kubernetes_version ? cfg.kubernetes_version : '';
    const old = rkeVersionOf(bin.stdout) !== undefined && !rkeHas(rkeVersion, 'listVersion');
    if (!k8s && old) {
      // No `rke config --list-version` before v0.3.0: the release's default from the matrix.
      k8s = oldRkeDefault(rkeVersion) ?? '';
      if (!k8s) {
        return {
          changed: false, status: 'failed', warnings: chk.warnings,
          msg: `RKE ${rkeVersion} cannot say its default Kubernetes (\`rke config --list-version\` exists from ${RKE_FEATURES.listVersion.since}) ` +
            `and the matrix does not know it (${RKE_DEFAULT_K8S_SOURCE}): set kubernetes_version`,
        };
      }
    }
    if (!k8s) {
      // The release's default (rancher/rke cmd/config.go generateK8sVersionList prints it alone).
      const lv = await ctx.run(`${q(binary)} config --list-version`);
      k8s = lv.code === 0 ? (lv.stdout.trim().split('\n').pop() ?? '').trim() : '';
      if (!k8s) {
        return { changed: false, status: 'failed', msg: `${binary} config --list-version gave no Kubernetes version (exit ${lv.code}): ${(lv.stderr || lv.stdout).trim()}`, warnings: chk.warnings };
      }
    }
    if (typeof cfg.addons === 'string') {
      const unserved = unservedAddonProblems(cfg.addons, k8s);
      if (unserved.length) {
        return {
          changed: false,
          status: 'failed',
          msg: `${unserved.join('; ')} (RKE ${rkeVersion} would only warn "Failed to deploy addon execute job" and exit 0)`,
          warnings: chk.warnings,
        };
      }
    }
    const about = `RKE ${rkeVersion}, Kubernetes ${k8s}`;

    const sha = sha256(text);
    const out = rkeOutputs(config);
    // RKE before v0.2.0 keeps its state in the cluster, not in a .rkestate file.
    const withState = rkeVersionOf(bin.stdout) === undefined || rkeHas(rkeVersion, 'rkestate');
    if (!params.force) {
      const last = await ctx.readFile(out.state);
      let prev: Partial<RkeState> = {};
      try {
        prev = last ? (JSON.parse(last) as Partial<RkeState>) : {};
      } catch {
        prev = {};
      }
      const have = await ctx.run(`[ -e ${q(out.kubeconfig)} ]${withState ? ` && [ -e ${q(out.rkestate)} ]` : ''}`);
      const rkestate = withState && prev.config_sha256 === sha && have.code === 0 && prev.rkestate_sha256 ? await ctx.readFile(out.rkestate) : null;
      if (rkestate !== null && sha256(rkestate) !== prev.rkestate_sha256) {
        return {
          changed: true,
          msg: `would run: ${would} (${about}): ${basename(out.rkestate)} changed since the last successful rke up here (${prev.finished_at}) — another rke up ran on this cluster since`,
          warnings: chk.warnings, state: { sha, rke: rkeVersion },
        };
      }
      if (prev.config_sha256 === sha && have.code === 0) {
        return {
          changed: false,
          msg: `cluster config unchanged since the last successful rke up (${prev.finished_at}); ${basename(out.kubeconfig)}${withState ? ` and ${basename(out.rkestate)}` : ''} present (${about})`,
          warnings: chk.warnings,
          data: { kubeconfig: out.kubeconfig, rkestate: out.rkestate },
        };
      }
    }
    return { changed: true, msg: `would run: ${would} (${about})`, warnings: chk.warnings, state: { sha, rke: rkeVersion } };
  },
  async apply(ctx, params, probe) {
    const config = ctx.resolve(params.config);
    const binary = binaryOf(params, ctx.vars);
    const q = ctx.quote;
    const failures: string[] = [];
    const warnings: string[] = [];
    const tail: string[] = [];
    let lastInfo: string | undefined;
    const seen = (line: string) => {
      const p = parseRkeLine(line);
      if (!p) return;
      if (rkeFailureLine(p.level, p.msg)) failures.push(p.msg);
      else if (p.level === 'warning' || p.level === 'error') warnings.push(p.msg);
      else if (p.level === 'info') lastInfo = p.msg;
    };
    const out = rkeOutputs(config);
    // The kubeconfig and state hold cluster credentials: private before rke runs (files it
    // creates are private under umask 077), and again after it, whatever the outcome.
    const tighten = `chmod 600 ${q(out.kubeconfig)} ${q(out.rkestate)} 2>/dev/null; true`;
    await ctx.run(tighten);
    let r: { code: number; stdout: string; stderr: string };
    try {
      r = await ctx.run(`umask 077; ${q(binary)} up --config ${q(basename(config))}`, {
        cwd: dirname(config),
        onLine: (line) => {
          ctx.log(line);
          seen(line);
          tail.push(line);
          if (tail.length > 5) tail.shift();
        },
      });
    } finally {
      // An interrupt refuses new commands; the files are on this machine (a controller task).
      await ctx.run(tighten).catch(() => {
        for (const f of [out.kubeconfig, out.rkestate]) try { chmodSync(f, 0o600); } catch { /* not there */ }
      });
    }
    // A runner that does not stream hands the whole output at the end.
    if (!tail.length) for (const line of (r.stdout + '\n' + r.stderr).split('\n')) seen(line);
    if (r.code !== 0 || failures.length) {
      const why = failures.length ? failures.join('; ') : tail.join(' | ') || (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      return { status: 'failed', msg: `rke up failed (exit ${r.code}): ${why}`, warnings };
    }
    const rkestate = await ctx.readFile(out.rkestate);
    const st = probe.state as { sha: string; rke: string };
    const state: RkeState = {
      config_sha256: st.sha, rke_version: st.rke, finished_at: new Date().toISOString(),
      ...(rkestate !== null ? { rkestate_sha256: sha256(rkestate) } : {}),
    };
    await ctx.writeFile(out.state, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    return {
      msg: `rke up finished${lastInfo ? `: ${lastInfo}` : ''}`,
      warnings,
      data: { kubeconfig: out.kubeconfig, rkestate: out.rkestate },
    };
  },
});
