// fast-check drives hostile strings — shell metacharacters, command substitutions, newlines, NUL
// bytes, leading dashes (options), format and template syntax — through every string param of
// every built-in task on a `connection: local` host, and asserts that nothing outside the tasks'
// declared effects happens: the payloads' marker file is never created, the CLI never crashes
// (exit 1, a stack trace). Each value reaches the tasks twice: known at validate time (a var)
// and known only at run time (a registered command output, so it passes no precheck).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinTasks } from '../../tasks/index.js';
import { cli, events, project, type CliResult } from './cli-helpers.js';

const p = project(1);
const MARK = join(p.dir, 'MARK');
p.write('tpl.hbs', 'x={{x}}\n');

/** Params that are shell commands by design (like Ansible's `shell`) or expressions. */
const CODE_PARAMS = new Set(['command.cmd', 'configure-nginx-lb.test_cmd', 'configure-nginx-lb.reload_cmd', 'render-template.validate', 'command.changed_when', 'command.failed_when']);

/** For each task: valid params around the one under test (fast to fail, nothing that waits long). */
const W = '{{work}}';
const BASE: Record<string, Record<string, unknown>> = {
  command: { cmd: 'true' },
  copy: { content: 'x', dest: `${W}/copy` },
  'wait-for': { port: 9, timeout: 0 },
  'render-template': { src: 'tpl.hbs', dest: `${W}/tpl`, vars: { x: 'y' } },
  'check-docker': {},
  'check-proxy': { http_proxy: 'http://127.0.0.1:9', probe_url: 'http://127.0.0.1:9/', timeout: 1, dropin_path: `${W}/dropin.conf` },
  'configure-nginx-lb': { fqdn: 'lb.example.com', upstreams: ['127.0.0.1'], conf_dir: `${W}/nginx`, tls_dir: `${W}/tls`, test_cmd: 'true', reload_cmd: 'true' },
  'verify-dns': { fqdn: 'rancher.invalid', expect: ['127.0.0.1'], resolver: '127.0.0.1:9', timeout: 1 },
  'rke-up': { config: `${W}/cluster.yml` },
  'backup-kubeconfig': { config: `${W}/cluster.yml`, dir: `${W}/backups` },
  'helm-release': { name: 'rancher', namespace: 'cattle-system', chart: 'rancher-stable/rancher', kubeconfig: `${W}/kubeconfig` },
  'kubectl-rollout': { resource: 'deploy/rancher', namespace: 'cattle-system', kubeconfig: `${W}/kubeconfig` },
  'kubectl-apply': { manifest: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n', kubeconfig: `${W}/kubeconfig` },
  'verify-rancher': { fqdn: 'rancher.invalid', resolver: '127.0.0.1:9', retries: 0, timeout: 1 },
  fetch: { src: `${W}/fetch-src`, dest: `${W}/fetched` },
  'rke2-server': { config: {}, install_url: 'https://127.0.0.1:9/install.sh', ready_timeout: 10 },
};

/** Tasks whose apply installs a Kubernetes distribution on the host: here their items run in check
 * mode (`check_mode: true`), so the values go through their probes; the lab drives their apply. */
const CHECK_ONLY = new Set(['rke2-server']);

/** Every (task, string param) pair, with the path to put the hostile value at. */
const targets: { id: string; path: string[] }[] = [];
for (const t of builtinTasks) {
  const props = ((t.schema as { properties?: Record<string, { type?: string; anyOf?: { type?: string }[]; enum?: unknown[] }> }).properties) ?? {};
  for (const [k, s] of Object.entries(props)) {
    const isString = s.type === 'string' || s.anyOf?.some((a) => a.type === 'string');
    if (!isString || s.enum || CODE_PARAMS.has(`${t.id}.${k}`)) continue;
    targets.push({ id: t.id, path: [k] });
  }
  if (t.id === 'command') targets.push({ id: 'command', path: ['env', 'X'] });
  if (t.id === 'render-template') targets.push({ id: 'render-template', path: ['vars', 'x'] });
}

test('every built-in task has a base for the fuzz (a new task must be added here)', () => {
  for (const t of builtinTasks) assert.ok(BASE[t.id], `no BASE params for ${t.id}`);
  assert.ok(targets.length >= 40, `${targets.length} string params`);
});

const payload = fc.constantFrom(
  `$(touch ${MARK})`, `\`touch ${MARK}\``, `;touch ${MARK};`, `|touch ${MARK}`, `&&touch ${MARK}`, `\ntouch ${MARK}\n`,
  `'$(touch ${MARK})'`, `"$(touch ${MARK})"`, `-oProxyCommand=touch ${MARK}`, `--post-renderer=touch ${MARK}`,
  `' ; touch ${MARK} ; '`, `%s;touch ${MARK}`, `$(IFS=,;x=touch,${MARK};$x)`, `\${IFS}touch\${IFS}${MARK}`,
);
const noise = fc.string({ unit: fc.constantFrom('a', '-', ' ', "'", '"', '\\', '$', '{', '}', '\n', '\0', '*', '%', '/', '.', ':', '@'), maxLength: 6 });
const hostile = fc.tuple(fc.constantFrom('', '-', '--', '127.0.0.1', 'x.example.com', 'http://h:1/'), noise, payload, noise)
  .map(([a, b, c, d]) => `${a}${b}${c}${d}`);

function set(obj: Record<string, unknown>, path: string[], v: unknown): Record<string, unknown> {
  const out = structuredClone(obj);
  let cur = out;
  for (const k of path.slice(0, -1)) cur = (cur[k] ??= {}) as Record<string, unknown>;
  cur[path[path.length - 1]!] = v;
  return out;
}

/** Params that exclude another one of the base (the schema's oneOf). */
const EXCLUDES: Record<string, string> = { 'copy.src': 'content', 'wait-for.url': 'port', 'kubectl-apply.src': 'manifest' };

function params(id: string, path: string[], value: string): Record<string, unknown> {
  const out = set(BASE[id]!, path, value);
  const other = EXCLUDES[`${id}.${path.join('.')}`];
  if (other) delete out[other];
  return out;
}

function playbook(value: string): string {
  const items = targets.map(({ id, path }) => ({
    name: `${id} ${path.join('.')}`,
    [id]: params(id, path, value),
    ignore_errors: true,
    ...(CHECK_ONLY.has(id) ? { check_mode: true } : {}),
  }));
  return JSON.stringify({
    name: 'fuzz',
    plays: [{
      name: 'p', hosts: 'web',
      tasks: [{ name: 'the value, known at run time', command: { cmd: `cat ${join(p.dir, 'value.txt')}` }, register: 'v' }, ...items],
    }],
  }, null, 1);
}

function sane(what: string, r: CliResult): void {
  assert.ok([0, 2, 4, 5].includes(r.code), `${what}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.not.match(r.stderr, /\n\s+at .*:\d+:\d+/, `${what}: stack trace\n${r.stderr}`);
  assert.is(existsSync(MARK), false, `${what}: a value ran as code\n${r.stdout}${r.stderr}`);
}

test('hostile strings in every string param of every built-in task: nothing runs that the tasks did not declare', () => {
  fc.assert(
    fc.property(hostile, (value) => {
      rmSync(MARK, { force: true }); // each value on its own (shrinking reruns smaller ones)
      // Known only at run time: every item renders the registered output (no precheck sees it).
      writeFileSync(join(p.dir, 'value.txt'), value);
      const runtime = p.write('runtime.yml', playbook('{{v.stdout}}'));
      const r = cli(['run', runtime, '-i', p.inventory, '--json'], { cwd: p.work });
      sane(`run ${JSON.stringify(value)}`, r);
      // Every item really ran (a failure is fine, a playbook refused as a whole would test nothing).
      assert.is(events(r.stdout).tasks.length, targets.length + 1, 'one result per item');
      // Known at validate time: a var (prechecks and static checks see it).
      const vars = p.write('vars.json', JSON.stringify({ hostile: value }));
      const stat = p.write('static.yml', playbook('{{hostile}}'));
      sane(`check ${JSON.stringify(value)}`, cli(['check', stat, '-i', p.inventory, '-e', `@${vars}`], { cwd: p.work }));
    }),
    { numRuns: 6, seed: 20 },
  );
});

test.run();
