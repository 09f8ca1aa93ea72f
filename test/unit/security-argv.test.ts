// Secrets never reach a process list or a readable file: the process table (every process's
// /proc/PID/cmdline, readable by every local user) is sampled while tasks run; env values, proxy
// credentials and chart-repository credentials must not be in it. Files holding credentials are
// private. Multi-line secrets, URL credentials and values a tool echoes back are masked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { join, resolve } from 'node:path';
import { cli, cliAsync, events, project } from './cli-helpers.js';

/** Runs the CLI while sampling every process's command line until it exits. */
async function sampled(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string; cmdlines: Set<string> }> {
  const child = cliAsync(args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const cmdlines = new Set<string>();
  let running = true;
  const done = new Promise<number>((res) => child.on('exit', (c) => { running = false; res(c ?? -1); }));
  while (running) {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        cmdlines.add(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return { code: await done, stdout, stderr, cmdlines };
}

function assertNotListed(cmdlines: Set<string>, secret: string, what: string): void {
  const hit = [...cmdlines].find((c) => c.includes(secret));
  assert.is(hit, undefined, `${what} is in a process list: ${hit}`);
}

test('command env: values reach the command exactly but never a command line (sampled with ps while it runs)', async () => {
  const value = "S3cr3t-env-'quote\"-$(touch pwned)-`id`\nsecond line\n\n";
  const p = project(1, `  token: ${JSON.stringify(value)}\nsecret: [token]\n`);
  const pb = p.write('pb.yml', `name: env
plays:
  - name: p
    hosts: web
    tasks:
      - command:
          cmd: "printf '%s' \\"$TOKEN\\" > {{work}}/got; printf '%s' \\"$SECOND\\" > {{work}}/second; cat > {{work}}/stdin; sleep 1.5 # marker-env-task"
          env: { TOKEN: "{{token}}", SECOND: "plain" }
`);
  const r = await sampled(['run', pb, '-i', p.inventory], { cwd: p.work });
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok([...r.cmdlines].some((c) => c.includes('marker-env-task')), 'the sampler saw the task running');
  assertNotListed(r.cmdlines, 'S3cr3t-env', 'an env value');
  assert.is(readFileSync(join(p.work, 'got'), 'utf8'), value, 'the value arrives byte for byte');
  assert.is(readFileSync(join(p.work, 'second'), 'utf8'), 'plain');
  assert.is(readFileSync(join(p.work, 'stdin'), 'utf8'), '', 'the command reads nothing of the env on its stdin');
  assert.not.ok(readdirSync(p.work).includes('pwned'));
});

test('check-proxy: proxy credentials go to curl on stdin (the proxy receives them, ps never shows them); the drop-in is 0600', async () => {
  const PW = 'Pr0xy-Pa55';
  let auth = '';
  const proxy = createServer((req, res) => {
    auth = req.headers['proxy-authorization'] ?? '';
    setTimeout(() => { res.writeHead(200); res.end('ok'); }, 1500); // while the sampler looks
  });
  await new Promise<void>((res) => proxy.listen(0, '127.0.0.1', res));
  const port = (proxy.address() as { port: number }).port;
  try {
    const url = `http://ops:${PW}@127.0.0.1:${port}`;
    const p = project(1, `  proxy: { http: "${url}", https: "${url}", probe_url: "http://127.0.0.1:9/probe", no_proxy: [localhost, 127.0.0.1, 0.0.0.0, 10.0.0.0/8, cattle-system.svc, .svc, .cluster.local] }\n`);
    const pb = p.write('pb.yml', `name: proxy
plays:
  - name: p
    hosts: web
    tasks:
      - check-proxy: { dropin_path: "{{work}}/http-proxy.conf", manage_docker_dropin: true }
`);
    const r = await sampled(['run', pb, '-i', p.inventory, '--json', '--diff'], { cwd: p.work });
    const ev = events(r.stdout).tasks[0]!;
    assert.is(ev.status, 'changed', r.stdout + r.stderr);
    assert.is(auth, `Basic ${Buffer.from(`ops:${PW}`).toString('base64')}`, 'curl used the credentials');
    assert.ok([...r.cmdlines].some((c) => c.includes('curl') && c.includes('-K -')), 'the sampler saw curl running');
    assertNotListed(r.cmdlines, PW, 'the proxy password');
    const dropin = join(p.work, 'http-proxy.conf');
    assert.ok(readFileSync(dropin, 'utf8').includes(PW), 'the drop-in holds the credentials Docker needs');
    assert.is(statSync(dropin).mode & 0o777, 0o600, 'so only root may read it');
    assert.not.ok((r.stdout + r.stderr).includes(PW), 'and no output shows them');
  } finally {
    proxy.close();
  }
});

test('helm-release: repository credentials go to helm as --username/--password-stdin; helm\'s error text is masked', () => {
  const p = project(1);
  const kubeconfig = p.write('kubeconfig', 'apiVersion: v1\nkind: Config\n');
  const calls = join(p.dir, 'calls.log');
  const helm = p.write('helm', `#!/bin/sh\necho "$*" >> ${calls}\nexec ${resolve('lab/fixtures/helm-fixture')} "$@"\n`);
  chmodSync(helm, 0o755);
  const pb = p.write('pb.yml', `name: helm
plays:
  - name: p
    hosts: localhost
    tasks:
      - helm-release:
          name: rancher
          namespace: cattle-system
          chart: rancher-stable/rancher
          repo: { name: rancher-stable, url: "https://chartuser:R3poPass@releases.rancher.com/server-charts/stable" }
          values: { hostname: rancher.example.com, bootstrapPassword: "Bo0tstrap-pw" }
          kubeconfig: ${kubeconfig}
          helm: ${helm}
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json'], {
    env: { HELM_FIXTURE_FAIL: 'values don\'t meet the specifications of the schema(s): bootstrapPassword "Bo0tstrap-pw" is too short' },
  });
  const ev = events(r.stdout).tasks[0]!;
  assert.is(ev.status, 'failed', r.stdout);
  assert.match(ev.msg, /bootstrapPassword "\*{8}" is too short/);
  assert.not.ok((r.stdout + r.stderr).includes('Bo0tstrap-pw'), 'the value helm echoed is masked');
  const argv = readFileSync(calls, 'utf8');
  assert.match(argv, /repo add --force-update --username chartuser --password-stdin -- rancher-stable https:\/\/releases\.rancher\.com\/server-charts\/stable/);
  assert.not.ok(argv.includes('R3poPass'), 'no password on helm\'s command line');
  assert.not.ok((r.stdout + r.stderr).includes('R3poPass'));
  const repos = JSON.parse(readFileSync(join(p.dir, '.k8s-fixture', 'helm-repositories.json'), 'utf8')) as Record<string, { username?: string; password_set?: boolean }>;
  assert.equal(repos['rancher-stable'], { name: 'rancher-stable', url: 'https://releases.rancher.com/server-charts/stable', username: 'chartuser', password_set: true });
});

test('copy of a private (0600) src without mode: the destination is 0600 and its content never in a diff', () => {
  const p = project(1);
  const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const src = p.write('id_key', key);
  chmodSync(src, 0o600);
  const pb = p.write('pb.yml', `name: copy
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { src: id_key, dest: "{{work}}/id_key" }
`);
  const line = key.split('\n')[1]!;
  const check = cli(['check', pb, '-i', p.inventory, '--diff']);
  assert.is(check.code, 0, check.stderr);
  assert.match(check.stdout, /\(secret, \d+ bytes\)/);
  const r = cli(['run', pb, '-i', p.inventory, '--diff', '-v']);
  assert.is(r.code, 0, r.stderr);
  assert.is(statSync(join(p.work, 'id_key')).mode & 0o777, 0o600);
  assert.is(readFileSync(join(p.work, 'id_key'), 'utf8'), key);
  for (const out of [check, r]) assert.not.ok((out.stdout + out.stderr).includes(line), 'no line of the key in any output');
});

test('a multi-line secret var (a PEM key) is masked line by line in --diff, -v and failure messages', () => {
  const key = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const p = project(1, `  tls_key: !secret ${JSON.stringify(key)}\n`);
  writeFileSync(join(p.work, 'old.pem'), 'old\n');
  const pb = p.write('pb.yml', `name: pem
plays:
  - name: p
    hosts: web
    tasks:
      - name: a 0644 file that holds the key
        copy: { content: "{{tls_key}}", dest: "{{work}}/old.pem", mode: "0644" }
      - name: a command that prints it and fails
        command: { cmd: "cat {{work}}/old.pem; exit 3" }
`);
  const r = cli(['run', pb, '-i', p.inventory, '--diff', '-v']);
  assert.is(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout, /\*{8}/);
  for (const l of key.split('\n').filter((x) => x.length > 20)) assert.not.ok((r.stdout + r.stderr).includes(l), `line leaked: ${l}`);
});

test('URL credentials are masked to the host: @ in the password, tokens, spaces and quotes', () => {
  const p = project(1, '  a: "http://u:p@ss@proxy.example:3128"\n  b: "https://ghp_T0KEN123@git.example/x"\n  c: "http://u:p a\\"s s@proxy.example:3128"\n');
  const pb = p.write('pb.yml', `name: urls
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: 'echo "$A"; echo "$B"; echo "$C"', env: { A: "{{a}}", B: "{{b}}", C: "{{c}}" } }
`);
  const r = cli(['run', pb, '-i', p.inventory, '-v']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /http:\/\/u:\*{8}@proxy\.example:3128/);
  assert.match(r.stdout, /https:\/\/\*{8}@git\.example\/x/);
  for (const leak of ['p@ss', 'ss@proxy', 'T0KEN123', 's s@']) assert.not.ok(r.stdout.includes(leak), `${leak} leaked:\n${r.stdout}`);
});

test('a ConfigMap holding a secret var: its value never shown, nor the old one after the secret is rotated', () => {
  const kubectl = resolve('lab/fixtures/kubectl-fixture');
  const inv = (pw: string) => `  db_password: !secret "${pw}"`;
  const p = project(1, inv('s3cr3t-Value-42'));
  const kubeconfig = p.write('work/kube/kubeconfig.yml', 'apiVersion: v1\nkind: Config\n');
  chmodSync(kubeconfig, 0o600);
  const pb = p.write('pb.yml', [
    'name: cm', 'plays:', '  - name: app settings', '    hosts: localhost', '    tasks:',
    '      - kubectl-apply:',
    `          kubeconfig: ${kubeconfig}`, `          kubectl: ${kubectl}`,
    '          manifest: |',
    '            apiVersion: v1', '            kind: Namespace', '            metadata:', '              name: app', '            ---',
    '            apiVersion: v1', '            kind: ConfigMap', '            metadata:', '              name: settings', '              namespace: app',
    '            data:', '              level: "1"', '              password: "{{ db_password }}"', '',
  ].join('\n'));
  const first = cli(['run', pb, '-i', p.inventory, '--diff']);
  assert.is(first.code, 0, first.stderr + first.stdout);
  // Rotated: the live ConfigMap still holds the old value, which is no longer a known secret.
  writeFileSync(p.inventory, readFileSync(p.inventory, 'utf8').replace(inv('s3cr3t-Value-42'), inv('n3w-Value-77')));
  const shown: string[] = [];
  for (const args of [['check', '--diff'], ['check', '--diff', '--json'], ['run', '--diff', '-v']]) {
    const r = cli([args[0]!, pb, '-i', p.inventory, ...args.slice(1)]);
    assert.is(r.code, 0, r.stderr + r.stdout);
    shown.push(r.stdout + r.stderr);
  }
  assert.match(shown[0]!, /password: \*{8}/, 'the diff shows that the password changed');
  for (const out of [first.stdout + first.stderr, ...shown]) {
    assert.not.ok(out.includes('s3cr3t-Value-42'), `old value shown:\n${out}`);
    assert.not.ok(out.includes('n3w-Value-77'), `new value shown:\n${out}`);
  }
});

test.run();
