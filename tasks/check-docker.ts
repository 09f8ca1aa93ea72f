// check-docker: the node can run RKE's containers — Docker CLI present, daemon answering, recent
// enough, reachable by the SSH user without sudo (RKE connects as that user), and not root on
// RHEL/CentOS. Read-only; registers the server version as the fact `docker_version`.
import { defineTask } from '../runner/task.js';
import { compareVersions } from './rancher-rules.js';

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

export default defineTask({
  id: 'check-docker',
  summary: 'Docker is installed, running, recent enough and usable by the SSH user without sudo',
  schema,
  runsOn: 'host',
  async probe(ctx, params) {
    const min = params.min_version ?? '17.03';
    const docker = ctx.quote(params.docker ?? 'docker');
    const fold = (v: string) => `"$(printf %s "${v}" | tr '\\n' ' ')"`;
    // One round trip. Runs without sudo on purpose: RKE uses the SSH user as-is.
    const script = [
      'echo "user=$(id -un)"',
      '( . /etc/os-release 2>/dev/null; echo "os_id=$ID"; echo "os_like=$ID_LIKE"; echo "os_name=$PRETTY_NAME" )',
      `if ! command -v ${docker} >/dev/null 2>&1; then echo cli=missing; exit 0; fi`,
      'echo cli=present',
      `v=$(${docker} version --format '{{.Server.Version}}' 2>&1); echo "version_rc=$?"; echo version_out=${fold('$v')}`,
      `p=$(${docker} ps 2>&1 >/dev/null); echo "ps_rc=$?"; echo ps_err=${fold('$p')}`,
    ].join('\n');
    const r = await ctx.run(script, { become: false });
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
            `(sudo usermod -aG docker ${user}) and reconnect`,
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
    if (kv.version_rc === '0' && kv.ps_rc !== '0') {
      problems.push(`\`docker ps\` fails for user ${user}: ${kv.ps_err || `exit ${kv.ps_rc}`}`);
    }

    const facts = version ? { docker_version: version } : undefined;
    if (problems.length) return { changed: false, status: 'failed', msg: `${host}: ${problems.join('; ')}`, facts };
    return { changed: false, msg: `Docker ${version} usable by ${user}`, facts, data: { docker_version: version, user } };
  },
});
