// Read-only probes the built-in tasks share, as facts: one command and a pure parser of its
// result (tested from recorded output in test/unit/facts.test.ts). `ctx.fact` reads each at most
// once per host until a task changes that host.
import { defineFact, type ExecResult } from '../runner/sdk/index.js';

export interface FileState {
  exists: boolean;
  /** Permission bits, e.g. 0o644. */
  mode?: number;
  /** The mode as `stat` prints it (e.g. "644"), for messages. */
  modeText?: string;
  user?: string;
  group?: string;
  sha256?: string;
}

/** A file's mode, owner and content checksum, in one round trip (GNU stat, sha256sum). */
export const fileState = defineFact<{ path: string }, FileState>({
  id: 'file-state',
  command: ({ path }, q) => `if [ -e ${q(path)} ]; then stat -c '%a %U %G' ${q(path)} && sha256sum < ${q(path)}; else echo absent; fi`,
  parse(r: ExecResult, { path }) {
    if (r.code !== 0) throw new Error(`cannot inspect ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
    const [meta = '', sum = ''] = r.stdout.trim().split('\n');
    if (meta.trim() === 'absent') return { exists: false };
    const [modeText = '', user = '', group = ''] = meta.trim().split(' ');
    return { exists: true, mode: parseInt(modeText, 8), modeText, user, group, sha256: sum.split(/\s/)[0] };
  },
});

export interface DaemonProxy {
  http: string;
  https: string;
  noProxy: string;
}

/** The proxy the running Docker daemon uses (it reads its drop-in only when restarted), or the
 * first line of the docker CLI's error. */
export const dockerDaemonProxy = defineFact<void, { proxy: DaemonProxy } | { error: string }>({
  id: 'docker-daemon-proxy',
  command: () => `docker info --format '{{.HTTPProxy}}|{{.HTTPSProxy}}|{{.NoProxy}}' 2>&1`,
  parse(r: ExecResult) {
    if (r.code !== 0) return { error: r.stdout.trim().split('\n')[0] ?? `exit ${r.code}` };
    const [http = '', https = '', noProxy = ''] = r.stdout.trim().split('|');
    return { proxy: { http, https, noProxy } };
  },
});
