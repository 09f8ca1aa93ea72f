// The one-file bundle as an operator uses it on a jump host: only bundle/rancher-play.mjs is
// copied into an empty directory (no node_modules anywhere above it), then `tasks`, `validate`
// and a playbook run with a built-in task, an embedded shipped template and a custom
// TypeScript task importing `defineTask` from 'rancher-play'.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve('.');
const build = mkdtempSync(join(tmpdir(), 'rp-bundle-build-'));
const work = mkdtempSync(join(tmpdir(), 'rp-jump-host-'));
const bundleName = 'rancher-play.mjs';
test.after(() => {
  rmSync(build, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

// A jump host's environment: no NODE_PATH, no proxy, no CI niceties from the repo.
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, NODE_PATH: '', CI: '1', NO_COLOR: '1' };
function rp(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(work, bundleName), ...args], { cwd: work, encoding: 'utf8', env });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function events(out: string): Array<Record<string, unknown>> {
  return out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const customTask = `// A custom task written by an operator on the jump host.
import { defineTask } from 'rancher-play';
import type { TaskContext } from 'rancher-play';

interface Want { path: string; line: string }

async function has(ctx: TaskContext, p: Want): Promise<boolean> {
  const text = (await ctx.readFile(p.path)) ?? '';
  return text.split('\\n').includes(p.line);
}

export default defineTask({
  id: 'ensure-line',
  summary: 'A line is present in a file',
  schema: {
    type: 'object',
    required: ['path', 'line'],
    additionalProperties: false,
    properties: { path: { type: 'string' }, line: { type: 'string' } },
  },
  async probe(ctx, p) {
    return (await has(ctx, p)) ? { changed: false, msg: 'present' } : { changed: true, msg: \`add "\${p.line}"\` };
  },
  async apply(ctx, p) {
    const text = (await ctx.readFile(p.path)) ?? '';
    await ctx.writeFile(p.path, text + p.line + '\\n');
  },
});
`;

test.before(() => {
  const r = spawnSync(process.execPath, ['scripts/bundle.mjs', '--outfile', join(build, bundleName)], { cwd: root, encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr + r.stdout);
  copyFileSync(join(build, bundleName), join(work, bundleName));
  mkdirSync(join(work, 'tasks'));
  writeFileSync(join(work, 'tasks', 'ensure-line.ts'), customTask);
  writeFileSync(join(work, 'inventory.yml'), 'hosts:\n  localhost: { connection: local }\nvars:\n  out: OUT\n'.replace('OUT', join(work, 'out')));
  writeFileSync(join(work, 'site.yml'), `name: jump host smoke
plays:
  - name: local
    hosts: localhost
    tasks:
      - name: out dir
        command: { cmd: "mkdir -p {{ out }}", creates: "{{ out }}" }
      - name: docker proxy drop-in from the embedded shipped template
        render-template:
          src: ../tasks/templates/docker-http-proxy.conf.hbs
          dest: "{{ out }}/http-proxy.conf"
          vars: { http_proxy: "http://proxy.lab:3128", https_proxy: "http://proxy.lab:3128", no_proxy: "localhost,127.0.0.1" }
      - name: custom TypeScript task
        ensure-line: { path: "{{ out }}/lines.txt", line: "hello from the bundle" }
`);
});

test('the bundle is one file and the directory holds nothing else of rancher-play', () => {
  assert.equal(readdirSync(work).sort(), ['inventory.yml', bundleName, 'site.yml', 'tasks'].sort());
  assert.not.ok(existsSync(join(work, 'node_modules')));
  const head = readFileSync(join(work, bundleName), 'utf8').slice(0, 200);
  assert.match(head, /^#!\/usr\/bin\/env node/);
  assert.ok(statSync(join(work, bundleName)).size > 100_000);
});

test('`tasks` lists the built-in tasks and the custom TypeScript task', () => {
  const r = rp('tasks');
  assert.is(r.code, 0, r.err);
  for (const id of ['command', 'copy', 'wait-for', 'render-template', 'check-docker', 'check-proxy', 'configure-nginx-lb', 'verify-dns', 'rke-up', 'backup-kubeconfig', 'ensure-line']) {
    assert.match(r.out, new RegExp(`^${id}\\b`, 'm'), `${id} listed`);
  }
  const one = rp('tasks', 'ensure-line');
  assert.is(one.code, 0, one.err);
  assert.match(one.out, /line/);
});

test('`validate` accepts the playbook and rejects a bad param with file:line:column, exit 5', () => {
  const ok = rp('validate', 'site.yml', '-i', 'inventory.yml');
  assert.is(ok.code, 0, ok.err + ok.out);
  writeFileSync(join(work, 'bad.yml'), readFileSync(join(work, 'site.yml'), 'utf8').replace('line: "hello from the bundle"', 'lines: "x"'));
  const bad = rp('validate', 'bad.yml', '-i', 'inventory.yml');
  assert.is(bad.code, 5);
  assert.match(bad.err + bad.out, /bad\.yml:\d+:\d+ .*ensure-line/);
  rmSync(join(work, 'bad.yml'));
});

test('a playbook runs from the bundle: changed, then nothing changed; check mode changes nothing', () => {
  const dry = rp('check', 'site.yml', '-i', 'inventory.yml', '--json');
  assert.is(dry.code, 0, dry.err + dry.out);
  assert.not.ok(existsSync(join(work, 'out')), 'check mode created nothing');

  const first = rp('run', 'site.yml', '-i', 'inventory.yml', '--json');
  assert.is(first.code, 0, first.err + first.out);
  const ev = events(first.out);
  const recap = ev.find((e) => e.event === 'recap') as { hosts: Record<string, { changed: number; failed: number }> };
  assert.is(recap.hosts.localhost!.failed, 0);
  assert.is(recap.hosts.localhost!.changed, 3);
  const dropin = readFileSync(join(work, 'out', 'http-proxy.conf'), 'utf8');
  assert.match(dropin, /\[Service\]/);
  assert.match(dropin, /HTTPS_PROXY=http:\/\/proxy\.lab:3128/);
  assert.is(readFileSync(join(work, 'out', 'lines.txt'), 'utf8'), 'hello from the bundle\n');

  const second = rp('run', 'site.yml', '-i', 'inventory.yml', '--json');
  assert.is(second.code, 0, second.err);
  const recap2 = events(second.out).find((e) => e.event === 'recap') as { hosts: Record<string, { changed: number; ok: number }> };
  assert.is(recap2.hosts.localhost!.changed, 0);
  assert.is(recap2.hosts.localhost!.ok, 3);
});

test('`lab` is not part of the bundle and says so', () => {
  const r = rp('lab', 'status');
  assert.is.not(r.code, 0);
  assert.match(r.err, /not part of the one-file bundle/);
});

test.run();
