// rke-up: builds (or updates) the Kubernetes cluster with `rke up --config FILE` on the controller.
// Checks first what RKE would fail on late (YAML, nodes, odd etcd count, SSH keys), skips when the
// config is unchanged since the last successful run and its outputs exist, streams RKE's log into
// the tree, and reports RKE's FATA line when it fails.
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { defineTask } from '../runner/task.js';
import { existsSync, readFileSync } from 'node:fs';
import {
  certChainProblems, checkRkeConfig, etcdProblems, fqdnProblems, groupHosts, rancherVersionProblems,
} from './rancher-rules.js';
import { expandHome } from '../runner/paths.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['config'],
  properties: {
    config: { type: 'string', description: 'Cluster config (rancher-cluster.yml) on the controller; RKE runs in its directory.' },
    binary: { type: 'string', description: 'The rke binary, name on PATH or path (default: vars rke_binary, else rke).' },
    force: { type: 'boolean', default: false, description: 'Run even when the config is unchanged since the last successful run.' },
  },
} as const;

/** Beside the config: what the last successful run saw. */
const STATE = '.rancher-play-rke.json';

export interface RkeState {
  config_sha256: string;
  finished_at: string;
}

export function rkeOutputs(config: string): { kubeconfig: string; rkestate: string; state: string } {
  const dir = dirname(config);
  const name = basename(config, extname(config));
  return { kubeconfig: join(dir, `kube_config_${name}.yml`), rkestate: join(dir, `${name}.rkestate`), state: join(dir, STATE) };
}

export default defineTask({
  id: 'rke-up',
  summary: 'Run `rke up --config FILE` (checked first; skipped when nothing changed since the last success)',
  schema,
  runsOn: 'controller',
  // The Rancher rules, from the inventory, before anything connects: concrete version, valid FQDN,
  // CA file of PEM certificates in order, odd etcd count, every node's SSH key present.
  precheck(_params, ctx) {
    const v = ctx.vars;
    const out = [
      ...(v.rancher_version !== undefined ? rancherVersionProblems(v.rancher_version) : []),
      ...(v.fqdn !== undefined ? fqdnProblems(v.fqdn) : []),
    ];
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
    const binary = params.binary ?? (typeof ctx.vars.rke_binary === 'string' ? ctx.vars.rke_binary : 'rke');
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
    const bin = await ctx.run(`command -v ${q(binary)}`);
    if (bin.code !== 0) {
      return { changed: false, status: 'failed', msg: `${binary} not found on the controller: install RKE or set binary`, warnings: chk.warnings };
    }

    const sha = createHash('sha256').update(text).digest('hex');
    const out = rkeOutputs(config);
    if (!params.force) {
      const last = await ctx.readFile(out.state);
      let prev: Partial<RkeState> = {};
      try {
        prev = last ? (JSON.parse(last) as Partial<RkeState>) : {};
      } catch {
        prev = {};
      }
      const have = await ctx.run(`[ -e ${q(out.kubeconfig)} ] && [ -e ${q(out.rkestate)} ]`);
      if (prev.config_sha256 === sha && have.code === 0) {
        return {
          changed: false,
          msg: `cluster config unchanged since the last successful rke up (${prev.finished_at}); ${basename(out.kubeconfig)} and ${basename(out.rkestate)} present`,
          warnings: chk.warnings,
          data: { kubeconfig: out.kubeconfig, rkestate: out.rkestate },
        };
      }
    }
    return { changed: true, msg: `would run: ${would}`, warnings: chk.warnings, state: sha };
  },
  async apply(ctx, params, probe) {
    const config = ctx.resolve(params.config);
    const binary = params.binary ?? (typeof ctx.vars.rke_binary === 'string' ? ctx.vars.rke_binary : 'rke');
    const q = ctx.quote;
    let fata: string | undefined;
    const tail: string[] = [];
    const r = await ctx.run(`${q(binary)} up --config ${q(basename(config))}`, {
      cwd: dirname(config),
      onLine: (line) => {
        ctx.log(line);
        if (/^FATA\[/.test(line)) fata = line;
        tail.push(line);
        if (tail.length > 5) tail.shift();
      },
    });
    if (!fata) fata = (r.stdout + '\n' + r.stderr).split('\n').find((l) => /^FATA\[/.test(l));
    if (r.code !== 0) {
      const why = fata ?? (tail.join(' | ') || (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | '));
      return { status: 'failed', msg: `rke up failed (exit ${r.code}): ${why}` };
    }
    const out = rkeOutputs(config);
    // The kubeconfig and state hold cluster credentials.
    await ctx.run(`chmod 600 ${q(out.kubeconfig)} ${q(out.rkestate)} 2>/dev/null; true`);
    const state: RkeState = { config_sha256: probe.state as string, finished_at: new Date().toISOString() };
    await ctx.writeFile(out.state, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    const last = tail.filter((l) => /^INFO\[/.test(l)).pop();
    return {
      msg: `rke up finished${last ? `: ${last}` : ''}`,
      data: { kubeconfig: out.kubeconfig, rkestate: out.rkestate },
    };
  },
});
