// check-docker: the node can run RKE's containers — Docker CLI present, daemon answering, recent
// enough, reachable by the SSH user without sudo (RKE connects as that user), and not root on
// RHEL/CentOS. Registers the server version as the fact `docker_version`.
// With `pull_probe: IMAGE` (default: var docker_pull_probe) the daemon itself must pull IMAGE, the
// proof that its proxy settings work the way RKE's image pulls will use them. An image already
// present is pulled again (the registry is asked; nothing is downloaded when the digest is the
// same, so a second run is unchanged); a missing one is what `apply` pulls (changed). Check mode
// only inspects: it says what it would pull, and pulls nothing.
import { defineTask } from '../runner/sdk/index.js';
import { compareVersions } from './rancher-rules.js';
import { dockerAccepted, rkeDockerVersions } from './_support-matrix.js';
import { localRke, oldRkeDefault } from './rke-up.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    min_version: {
      type: 'string',
      default: '17.03',
      description: 'Lowest acceptable Docker server version (compared numerically, e.g. "17.03" < "20.10.24").',
    },
    docker: { type: 'string', default: 'docker', description: 'Docker CLI to run (name on PATH or absolute path).' },
    rke: {
      type: 'boolean',
      default: false,
      description: 'Also apply the Docker versions the cluster\'s RKE accepts for its Kubernetes (rke --version of vars rke_binary on the controller, ' +
        'vars kubernetes_version or that RKE\'s default): what `rke up` would stop at fails here; with vars ignore_docker_version: true only a warning.',
    },
    rke_version: { type: 'string', description: 'The RKE release to apply the rule of (default: `rke --version` on the controller).' },
    pull_probe: {
      type: 'string',
      description: 'Image the daemon must pull, e.g. rancher/rancher:v2.0.6 (default: var docker_pull_probe; empty: no pull).',
    },
  },
} as const;

/** key=value lines printed by the probe script (values have newlines folded to spaces). */
function parseKv(out: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return kv;
}

/** `repo@sha256:…` of IMAGE among an image's RepoDigests (image given as repo[:tag]). */
function digestFor(image: string, repoDigests: string): string | undefined {
  const repo = image.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
  const names = [repo, `docker.io/${repo}`, `docker.io/library/${repo}`];
  return repoDigests.split(/[\s,\[\]"]+/).find((d) => names.includes(d.split('@')[0] ?? ''))?.split('@')[1];
}

/** The digest line `docker pull` prints, and whether it downloaded anything. */
function pullResult(out: string): { digest?: string; newer: boolean } {
  return { digest: /^Digest: (sha256:[0-9a-f]{64})/m.exec(out)?.[1], newer: /^Status: Downloaded newer image/m.test(out) };
}

interface PullState { image: string }

export default defineTask<typeof schema, PullState>({
  id: 'check-docker',
  summary: 'Docker is installed, running, recent enough and usable by the SSH user without sudo',
  schema,
  runsOn: 'host',
  async probe(ctx, params) {
    const min = params.min_version;
    const docker = ctx.quote(params.docker);
    const fold = (v: string) => `"$(printf %s "${v}" | tr '\\n' ' ')"`;
    // One round trip. Runs without sudo on purpose: RKE uses the SSH user as-is.
    const script = [
      'echo "user=$(id -un)"',
      '( . /etc/os-release 2>/dev/null; echo "os_id=$ID"; echo "os_like=$ID_LIKE"; echo "os_name=$PRETTY_NAME" )',
      `if ! command -v ${docker} >/dev/null 2>&1; then echo cli=missing; exit 0; fi`,
      'echo cli=present',
      `v=$(${docker} version --format '{{.Server.Version}}' 2>&1); echo "version_rc=$?"; echo version_out=${fold('$v')}`,
      `p=$(${docker} ps 2>&1 >/dev/null); echo "ps_rc=$?"; echo ps_err=${fold('$p')}`,
    ];
    const probeVar = ctx.vars.docker_pull_probe;
    const image = params.pull_probe ?? (typeof probeVar === 'string' ? probeVar : '');
    if (image) {
      script.push(`i=$(${docker} image inspect --format '{{json .RepoDigests}}' ${ctx.quote(image)} 2>/dev/null); echo "image_rc=$?"; echo image_digests=${fold('$i')}`);
    }
    const r = await ctx.run(script.join('\n'), { become: false });
    const kv = parseKv(r.stdout);
    const host = ctx.host.name;
    const user = kv.user || '?';
    const problems: string[] = [];

    const osIds = `${kv.os_id ?? ''} ${kv.os_like ?? ''}`.toLowerCase();
    if (user === 'root' && /\b(rhel|centos|fedora)\b/.test(osIds)) {
      problems.push(
        `SSH user is root on ${kv.os_name || 'RHEL/CentOS'}: RKE cannot use root there (Red Hat bug 1527565, ` +
          'https://bugzilla.redhat.com/show_bug.cgi?id=1527565); connect as a non-root user in the docker group',
      );
    }
    if (kv.cli !== 'present') {
      problems.push(`docker CLI not found for user ${user}: install Docker ${min} or newer`);
      return { changed: false, status: 'failed', msg: `${host}: ${problems.join('; ')}` };
    }

    let version: string | undefined;
    const vout = kv.version_out ?? '';
    if (kv.version_rc !== '0') {
      if (/permission denied/i.test(vout)) {
        problems.push(
          `user ${user} cannot reach the Docker socket without sudo: add it to the docker group ` +
            `(sudo usermod -aG docker ${user}) and reconnect — docker said: ${vout}`,
        );
      } else if (/cannot connect to the docker daemon/i.test(vout)) {
        problems.push(`the Docker daemon is not running: start it (sudo systemctl start docker) — docker said: ${vout}`);
      } else problems.push(`docker version failed: ${vout || `exit ${kv.version_rc}`}`);
    } else {
      version = vout;
      if (compareVersions(version, min) < 0) {
        problems.push(`Docker ${version} is older than the required ${min}: upgrade Docker`);
      }
    }
    const warnings: string[] = [];
    if (version && params.rke) {
      // RKE's own whitelist (hosts/tunnel.go checkDockerVersion): checked here so preflight cannot pass what `rke up` rejects.
      const binary = typeof ctx.vars.rke_binary === 'string' ? ctx.vars.rke_binary : 'rke';
      const local = params.rke_version ? { version: params.rke_version, defaultK8s: oldRkeDefault(params.rke_version) } : await localRke(binary);
      const rke = local.version;
      const k8s = typeof ctx.vars.kubernetes_version === 'string' && ctx.vars.kubernetes_version ? ctx.vars.kubernetes_version : local.defaultK8s;
      const rule = rke && k8s ? rkeDockerVersions(rke, k8s) : undefined;
      if (rule && !dockerAccepted(version, rule.versions)) {
        const what = `Docker ${version} is not one RKE ${rke} accepts for Kubernetes ${k8s} (${rule.versions.join(', ') || 'none'}; source: ${rule.source})`;
        if (ctx.vars.ignore_docker_version === true) warnings.push(`${host}: ${what}; ignore_docker_version: true, so RKE only warns`);
        else {
          problems.push(`${what}: rke up would stop with "Unsupported Docker version found [${version}]"; install one of those, ` +
            'or set ignore_docker_version: true (RKE then skips its check)');
        }
      }
    }
    if (kv.version_rc === '0' && kv.ps_rc !== '0') {
      problems.push(`\`docker ps\` fails for user ${user}: ${kv.ps_err || `exit ${kv.ps_rc}`}`);
    }

    const facts = version ? { docker_version: version } : undefined;
    if (problems.length) return { changed: false, status: 'failed', msg: `${host}: ${problems.join('; ')}`, facts, warnings };
    const usable = `Docker ${version} usable by ${user}`;
    if (!image) return { changed: false, msg: usable, facts, data: { docker_version: version, user }, warnings };

    const had = kv.image_rc === '0' ? digestFor(image, kv.image_digests ?? '') : undefined;
    const data = { docker_version: version, user, pull_probe: image, digest: had };
    if (warnings.length) ctx.log(warnings.join('; '));
    if (kv.image_rc !== '0') {
      return { changed: true, msg: `${usable}; ${ctx.check ? 'would pull' : 'pulling'} ${image} (not present)`, facts, data, state: { image } };
    }
    if (ctx.check) return { changed: false, msg: `${usable}; ${image} present${had ? ` (${had})` : ''}, not pulled again in check mode`, facts, data };
    // Present: ask the registry again through the daemon (its proxy); same digest → nothing downloaded.
    const pull = await ctx.run(`${docker} pull -- ${ctx.quote(image)}`, { become: false });
    if (pull.code !== 0) return { changed: false, status: 'failed', msg: `${host}: docker pull ${image} failed: ${(pull.stderr || pull.stdout).trim()}`, facts, data };
    const got = pullResult(pull.stdout);
    const digest = got.digest ?? had;
    return {
      changed: got.newer || (!!had && !!digest && had !== digest),
      msg: `${usable}; pulled ${image}: ${got.newer ? 'newer image' : 'up to date'}${digest ? ` (${digest})` : ''}`,
      facts, data: { ...data, digest },
    };
  },
  async apply(ctx, params, probe) {
    const image = probe.state!.image;
    const docker = ctx.quote(params.docker);
    const pull = await ctx.run(`${docker} pull -- ${ctx.quote(image)}`, { become: false });
    if (pull.code !== 0) return { status: 'failed', msg: `${ctx.host.name}: docker pull ${image} failed: ${(pull.stderr || pull.stdout).trim()}` };
    const { digest } = pullResult(pull.stdout);
    return { msg: `pulled ${image}${digest ? ` (${digest})` : ''}`, data: { ...(probe.data ?? {}), digest } };
  },
});
