// configure-nginx-lb: nginx in front of the Rancher nodes, layer 7 (TLS ends here, HTTP to the
// nodes' port 80 with the X-Forwarded-* headers Rancher needs) or layer 4 (TCP 80/443 passed
// through). The probe computes every file the mode needs and compares; apply writes them, runs
// `nginx -t`, puts every old file back if the test fails (nginx never reloaded, so it keeps
// serving the old config), and reloads only after a passing test.
import { defineTask, groupHosts, type FileDiff, type PrecheckContext, type TaskContext, type Vars } from '../runner/sdk/index.js';
import { createPrivateKey } from 'node:crypto';
import { certChainProblems, fqdnProblems, parseCertificates } from './rancher-rules.js';
import { renderShipped } from './templates/index.js';
import { hidden } from './_file.js';

// Paths inside conf_dir (Debian's nginx layout: conf.d/ is included inside `http`).
const L7_CONF = 'conf.d/rancher.conf';
const L4_CONF = 'rancher-stream.conf';
const DEFAULT_SITE = 'sites-enabled/default';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['l4', 'l7'], default: 'l7', description: 'l7: TLS terminated here, HTTP to the nodes; l4: TCP 80/443 passed through.' },
    fqdn: { type: 'string', description: 'Rancher host name (default: vars fqdn).' },
    upstreams: {
      type: 'array', items: { type: 'string' },
      description: 'Node addresses to balance over (default: the addresses of upstream_group).',
    },
    upstream_group: { type: 'string', default: 'rancher', description: 'Inventory group of the Rancher nodes.' },
    tls_cert: {
      type: 'string',
      description: 'l7: certificate chain file on the controller, server certificate first, then intermediates (default: vars tls_cert).',
    },
    tls_key: { type: 'string', description: 'l7: private key file on the controller, copied with mode 0600, never shown (default: vars tls_key).' },
    conf_dir: {
      type: 'string', default: '/etc/nginx',
      description: `nginx config directory: l7 writes ${L7_CONF}, l4 writes ${L4_CONF} and includes it from nginx.conf.`,
    },
    tls_dir: { type: 'string', description: 'Directory on the LB for the certificate and key (default <conf_dir>/ssl).' },
    disable_default_site: {
      type: 'boolean', default: true,
      description: `l4: remove <conf_dir>/${DEFAULT_SITE}, whose port-80 server would take the stream's port.`,
    },
    worker_processes: { type: 'integer', minimum: 1, default: 4, description: "nginx.conf worker_processes (Rancher's example nginx.conf: 4)." },
    worker_rlimit_nofile: { type: 'integer', minimum: 1024, default: 40000, description: "nginx.conf worker_rlimit_nofile (Rancher's example: 40000): every agent and browser tab holds a websocket." },
    worker_connections: { type: 'integer', minimum: 512, default: 8192, description: "nginx.conf events { worker_connections } (Rancher's example: 8192)." },
    max_fails: { type: 'integer', default: 3, description: 'Passive health check: failures before a node is left out.' },
    fail_timeout: { type: 'string', default: '10s', description: 'Passive health check: how long a failed node is left out.' },
    read_timeout: { type: 'string', default: '1800s', description: 'l7 proxy_read_timeout (>= 900s keeps shell windows open).' },
    health_check: {
      enum: ['off', 'warn', 'require'], default: 'warn',
      description: 'Active check: GET /healthz on every upstream from the LB; warn or fail when one does not answer 200.',
    },
    test_cmd: { type: 'string', default: 'nginx -t', description: 'Shell command that tests the whole nginx config.' },
    reload_cmd: {
      type: 'string',
      default: 'if [ -s /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then nginx -s reload; else nginx; fi',
      description: 'Shell command that makes nginx load the new config (run only after `nginx -t` passed).',
    },
  },
} as const;

/** One file the mode wants: content, or null for "must not exist". */
interface Want {
  path: string;
  content: string | null;
  mode: number;
  secret?: boolean;
}

interface FileState extends Want {
  before: string | null;
  /** Symlink target when the existing file is a link (restored as a link). */
  link?: string;
}

interface State {
  changes: FileState[];
}

function includeLine(path: string): string {
  return `include ${path};`;
}

/** nginx.conf with (l4) or without (l7) our top-level include of the stream file. */
export function withStreamInclude(conf: string, streamPath: string, present: boolean): string {
  const re = new RegExp(`^\\s*include\\s+${streamPath.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*;.*\\n?`, 'm');
  const comment = /^# rancher-play: Rancher layer-4 passthrough.*\n?/m;
  const has = re.test(conf);
  if (present) {
    if (has) return conf;
    const sep = conf.endsWith('\n') || conf === '' ? '' : '\n';
    return `${conf}${sep}# rancher-play: Rancher layer-4 passthrough (a stream block must be top-level)\n${includeLine(streamPath)}\n`;
  }
  return has ? conf.replace(comment, '').replace(re, '') : conf;
}

/**
 * nginx.conf with the limits of Rancher's example load balancer config (worker_processes 4;
 * worker_rlimit_nofile 40000; events { worker_connections 8192; }): each value replaced where the
 * directive is, added where it is missing, everything else kept.
 */
export function withWorkerLimits(conf: string, l: { processes: number; nofile: number; connections: number }): string {
  let out = conf;
  const top = (name: string, value: number) => {
    const re = new RegExp(`^([ \\t]*)${name}\\s+[^;]*;`, 'm');
    if (re.test(out)) out = out.replace(re, `$1${name} ${value};`);
    else out = `${name} ${value};\n${out}`;
  };
  // Added in this order at the top, so worker_processes ends up first.
  top('worker_rlimit_nofile', l.nofile);
  top('worker_processes', l.processes);
  const events = /^([ \t]*)events\s*\{/m.exec(out);
  if (!events) return `${out}${out.endsWith('\n') || out === '' ? '' : '\n'}events {\n    worker_connections ${l.connections};\n}\n`;
  const start = events.index + events[0].length;
  const end = out.indexOf('}', start);
  const body = out.slice(start, end === -1 ? out.length : end);
  const wc = /worker_connections\s+[^;]*;/;
  const newBody = wc.test(body) ? body.replace(wc, `worker_connections ${l.connections};`)
    : `\n${events[1]}    worker_connections ${l.connections};${body.trim() === '' ? `\n${events[1]}` : body}`;
  return out.slice(0, start) + newBody + out.slice(start + body.length);
}

async function readState(ctx: TaskContext, want: Want): Promise<FileState> {
  const r = await ctx.run(`if [ -L ${ctx.quote(want.path)} ]; then readlink ${ctx.quote(want.path)}; fi`);
  const link = r.stdout.trim() || undefined;
  return { ...want, before: await ctx.readFile(want.path), link };
}

/** The certificate and key files: the params, else the vars of the same names. */
function tlsFiles(params: { tls_cert?: string; tls_key?: string }, vars: Vars): { cert?: string; key?: string } {
  const fromVars = (k: string): string | undefined => (typeof vars[k] === 'string' ? vars[k] : undefined);
  return { cert: params.tls_cert ?? fromVars('tls_cert'), key: params.tls_key ?? fromVars('tls_key') };
}

/** A controller file for a precheck; null when it is missing or cannot be read. */
async function readable(ctx: PrecheckContext, path: string): Promise<Buffer | null> {
  return ctx.readLocal(path).catch(() => null);
}

function shown(f: { content: string | null; secret?: boolean }, which: string | null): string | null {
  if (which === null) return null;
  return f.secret ? hidden(which) : which;
}

export default defineTask({
  id: 'configure-nginx-lb',
  summary: 'nginx load balancer for Rancher (l7 TLS termination or l4 passthrough), tested with nginx -t before reload',
  schema,
  runsOn: 'host',
  secretParams: [],
  async precheck(params, ctx) {
    const out: string[] = [];
    if (params.fqdn !== undefined) out.push(...fqdnProblems(params.fqdn));
    if (params.mode !== 'l7') return out;
    const { cert, key } = tlsFiles(params, ctx.vars);
    if (!cert || !key) {
      out.push('mode l7 needs tls_cert and tls_key (files on the controller; params or vars)');
      return out;
    }
    // The chain order matters to clients: check it before anything connects.
    const text = (await readable(ctx, cert))?.toString('utf8');
    if (text === undefined) return [...out, `tls_cert ${cert} cannot be read on the controller`];
    const chain = certChainProblems(text, cert);
    out.push(...chain);
    if (chain.length) return out;
    // A key of another certificate would only show up as failed TLS handshakes: refuse it here.
    const keyPem = await readable(ctx, key);
    if (keyPem === null) return [...out, `tls_key ${key} cannot be read on the controller`];
    try {
      const pk = createPrivateKey(keyPem);
      if (!parseCertificates(text)[0]!.checkPrivateKey(pk)) out.push(`tls_key ${key} does not belong to the certificate in ${cert}`);
    } catch (e) {
      out.push(`tls_key ${key} is not a readable private key (${(e as Error).message.split('\n')[0]})`);
    }
    return out;
  },
  async probe(ctx, params) {
    const host = ctx.host.name;
    const mode = params.mode;
    const fqdn = params.fqdn ?? (typeof ctx.vars.fqdn === 'string' ? ctx.vars.fqdn : '');
    const bad = fqdnProblems(fqdn);
    if (bad.length) return { changed: false, status: 'failed', msg: bad.join('; ') };
    const upstreams = params.upstreams ?? groupHosts(ctx.vars, params.upstream_group).map((h) => h.address);
    if (upstreams.length === 0) {
      return { changed: false, status: 'failed', msg: `no upstreams: group ${params.upstream_group} is empty and no upstreams given` };
    }
    const nginx = await ctx.run('command -v nginx || ls /usr/sbin/nginx 2>/dev/null');
    if (nginx.code !== 0) return { changed: false, status: 'failed', msg: `nginx is not installed on ${host}: install it (apt-get install nginx)` };

    const read = (p: string) => ctx.readLocal(p);
    const data = {
      fqdn, upstreams, upstream_port: 80,
      max_fails: params.max_fails, fail_timeout: params.fail_timeout, read_timeout: params.read_timeout,
      tls_cert: '', tls_key: '',
    };
    const wants: Want[] = [];
    const confDir = params.conf_dir.replace(/\/+$/, '');
    const l7Conf = `${confDir}/${L7_CONF}`;
    const l4Conf = `${confDir}/${L4_CONF}`;
    const mainConf = `${confDir}/nginx.conf`;
    const current = await ctx.readFile(mainConf);
    if (current === null) return { changed: false, status: 'failed', msg: `${mainConf} not found on ${host}: is nginx installed there (conf_dir)?` };
    const limits = { processes: params.worker_processes, nofile: params.worker_rlimit_nofile, connections: params.worker_connections };
    if (mode === 'l7') {
      const { cert: certPath, key: keyPath } = tlsFiles(params, ctx.vars);
      if (!certPath || !keyPath) return { changed: false, status: 'failed', msg: 'mode l7 needs tls_cert and tls_key' };
      const cert = await ctx.readLocal(ctx.resolve(certPath));
      const key = await ctx.readLocal(ctx.resolve(keyPath));
      if (!cert) return { changed: false, status: 'failed', msg: `tls_cert ${certPath} not found on the controller` };
      if (!key) return { changed: false, status: 'failed', msg: `tls_key ${keyPath} not found on the controller` };
      const dir = params.tls_dir ?? `${confDir}/ssl`;
      data.tls_cert = `${dir}/${fqdn}.crt`;
      data.tls_key = `${dir}/${fqdn}.key`;
      wants.push({ path: data.tls_cert, content: cert.toString('utf8'), mode: 0o644 });
      wants.push({ path: data.tls_key, content: key.toString('utf8'), mode: 0o600, secret: true });
      wants.push({ path: l7Conf, content: await renderShipped('nginx-l7.conf.hbs', data, read), mode: 0o644 });
      wants.push({ path: l4Conf, content: null, mode: 0o644 });
      wants.push({ path: mainConf, content: withWorkerLimits(withStreamInclude(current, l4Conf, false), limits), mode: 0o644 });
    } else {
      wants.push({ path: l4Conf, content: await renderShipped('nginx-l4.conf.hbs', data, read), mode: 0o644 });
      wants.push({ path: mainConf, content: withWorkerLimits(withStreamInclude(current, l4Conf, true), limits), mode: 0o644 });
      wants.push({ path: l7Conf, content: null, mode: 0o644 });
      if (params.disable_default_site) wants.push({ path: `${confDir}/${DEFAULT_SITE}`, content: null, mode: 0o644 });
    }

    const changes: FileState[] = [];
    for (const w of wants) {
      const s = await readState(ctx, w);
      if (s.before !== w.content) changes.push(s);
    }

    // Active health check of the nodes from the LB (read-only; nodes may not be up yet before rke up).
    const warnings: string[] = [];
    const hc = params.health_check;
    let unhealthy: string[] = [];
    if (hc !== 'off') {
      const q = ctx.quote;
      const script = upstreams
        .map((u) => `c=$(curl -s -o /dev/null -w '%{http_code}' --noproxy '*' --max-time 5 ${q(`http://${u}:80/healthz`)} 2>/dev/null); echo ${q(u)} "$c"`)
        .join('\n');
      const r = await ctx.run(`command -v curl >/dev/null 2>&1 || { echo nocurl; exit 0; }\n${script}`, { become: false });
      if (!r.stdout.includes('nocurl')) {
        unhealthy = r.stdout.trim().split('\n').filter((l) => l && !/ 200$/.test(l)).map((l) => l.split(' ')[0]!);
        if (unhealthy.length) warnings.push(`${host}: /healthz does not answer 200 on ${unhealthy.join(', ')} (normal before rke up)`);
      }
    }
    if (hc === 'require' && unhealthy.length) {
      return { changed: false, status: 'failed', msg: `${host}: upstream(s) ${unhealthy.join(', ')} fail the /healthz check`, warnings };
    }

    const diff: FileDiff[] = changes.map((c) => ({ path: c.path, before: shown(c, c.before), after: shown(c, c.content) }));
    const what = changes.map((c) => `${c.content === null ? 'remove' : 'write'} ${c.path}`).join(', ');
    return {
      changed: changes.length > 0,
      msg: changes.length ? `${mode}: ${what}` : `${mode} config for ${fqdn} in place (${upstreams.length} upstreams)`,
      diff: changes.length ? diff : undefined,
      warnings,
      state: { changes },
    };
  },
  async apply(ctx, params, probe) {
    const { changes } = probe.state as State;
    const q = ctx.quote;
    const put = async (path: string, content: string | null, mode: number, link?: string) => {
      if (link !== undefined) {
        const r = await ctx.run(`ln -sfn ${q(link)} ${q(path)}`);
        if (r.code !== 0) throw new Error(`cannot restore link ${path}: ${r.stderr.trim()}`);
      } else if (content === null) {
        const r = await ctx.run(`rm -f ${q(path)}`);
        if (r.code !== 0) throw new Error(`cannot remove ${path}: ${r.stderr.trim()}`);
      } else {
        const dir = path.slice(0, path.lastIndexOf('/')) || '/';
        await ctx.run(`mkdir -p ${q(dir)}`);
        await ctx.writeFile(path, content, { mode });
      }
    };
    const restore = async () => {
      for (const c of [...changes].reverse()) await put(c.path, c.before, c.mode, c.before === null ? undefined : c.link);
    };
    try {
      for (const c of changes) await put(c.path, c.content, c.mode);
    } catch (e) {
      await restore();
      return { status: 'failed', msg: `${ctx.host.name}: ${(e as Error).message}; previous files restored` };
    }
    const test = await ctx.run(`${params.test_cmd} 2>&1`);
    if (test.code !== 0) {
      await restore();
      let out = (test.stdout + test.stderr).trim();
      if (/unknown directive "stream"/.test(out)) out += ' (install the stream module: apt-get install libnginx-mod-stream)';
      return {
        status: 'failed',
        msg: `${ctx.host.name}: nginx -t rejected the new config, the previous config was kept and nginx was not reloaded: ${out}`,
      };
    }
    const reload = await ctx.run(`${params.reload_cmd} 2>&1`);
    if (reload.code !== 0) {
      return { status: 'failed', msg: `${ctx.host.name}: config is valid but nginx did not reload: ${(reload.stdout + reload.stderr).trim()}` };
    }
    return { msg: `${probe.msg}; nginx -t passed, reloaded` };
  },
});
