// No value from an inventory or a playbook runs as code, and values that could become options or
// code are refused before anything runs: hostile hosts and proxy URLs in wait-for and
// check-proxy (through validate, check and run on local hosts, the marker file never appears),
// host addresses, NUL bytes, release names, alias bombs in manifests.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { cli, events, project, type CliResult } from './cli-helpers.js';

function noTrace(r: CliResult): void {
  assert.not.match(r.stderr, /\n\s+at .*:\d+:\d+/, `no stack trace:\n${r.stderr}`);
}

/** A loopback listener (what wait-for waits for). */
async function listener(): Promise<{ port: number; server: Server }> {
  const server = createServer((s) => s.end());
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return { port: (server.address() as { port: number }).port, server };
}

const HOSTILE_HOSTS = [
  '127.0.0.1$(touch pwned)',
  '127.0.0.1`touch pwned`',
  '127.0.0.1;touch pwned',
  '127.0.0.1/1;touch pwned;',
  '-oProxyCommand=touch pwned',
];

test('wait-for: a host holding shell code is exit 5 at validate, check and run; nothing runs', () => {
  for (const host of HOSTILE_HOSTS) {
    const p = project(1);
    const pb = p.write('pb.yml', `name: w
plays:
  - name: p
    hosts: web
    tasks:
      - wait-for: { host: ${JSON.stringify(host)}, port: 9, timeout: 0 }
`);
    for (const cmd of host === HOSTILE_HOSTS[0] ? ['validate', 'check', 'run'] : ['check']) {
      const r = cli([cmd, pb, '-i', p.inventory], { cwd: p.work });
      assert.is(r.code, 5, `${cmd} ${host}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /pb\.yml:6:9 wait-for host .* is not a valid host name/, r.stderr);
      noTrace(r);
    }
    assert.equal(readdirSync(p.work), [], `nothing was created for ${host}`);
  }
});

test('wait-for: a hostile host known only at run time fails the task without running it; bash /dev/tcp still works', async () => {
  const { port, server } = await listener();
  try {
    const p = project(1);
    const pb = p.write('pb.yml', `name: w
plays:
  - name: p
    hosts: web
    tasks:
      - name: a value from a command's output
        command: { cmd: "printf '%s' '127.0.0.1$(touch pwned)'" }
        register: h
      - name: hostile
        wait-for: { host: "{{h.stdout}}", port: ${port}, timeout: 0 }
        ignore_errors: true
      - name: a real port, through bash's /dev/tcp (no nc on this PATH)
        wait-for: { host: 127.0.0.1, port: ${port}, timeout: 5 }
`);
    // Only the tools the fallback needs: no nc here, whatever the machine has.
    const r = cli(['run', pb, '-i', p.inventory, '--json'], { cwd: p.work, env: { PATH: '/usr/bin:/bin' } });
    const ev = events(r.stdout).tasks;
    assert.is(ev[1]!.status, 'failed', r.stdout);
    assert.match(ev[1]!.msg, /not a valid host name/);
    assert.is(ev[2]!.status, 'ok', r.stdout + r.stderr);
    assert.is(existsSync(join(p.work, 'pwned')), false, 'the marker file was never created');
  } finally {
    server.close();
  }
});

test('check-proxy: a proxy URL whose host holds $(…), braces or backticks is exit 5 (validate and check); nothing runs', () => {
  for (const proxy of ['http://$(touch${IFS}pwned):3128', 'http://`touch${IFS}pwned`:3128', 'http://{touch,pwned}:3128']) {
    const p = project(1, `  proxy: { http: ${JSON.stringify(proxy)}, https: ${JSON.stringify(proxy)}, probe_url: "http://127.0.0.1:9/" }\n`);
    const pb = p.write('pb.yml', `name: w
plays:
  - name: p
    hosts: web
    tasks:
      - check-proxy: { dropin_path: "{{work}}/dropin.conf" }
`);
    for (const cmd of proxy.includes('$(') ? ['validate', 'check'] : ['check']) {
      const r = cli([cmd, pb, '-i', p.inventory], { cwd: p.work });
      assert.is(r.code, 5, `${cmd} ${proxy}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /pb\.yml:6:9 check-proxy http host .*is not a valid host name/, r.stderr);
    }
    assert.equal(readdirSync(p.work), [], `nothing was created for ${proxy}`);
  }
});

test('inventory addresses that are no host name or IP address are exit 5 at validate, with the position', () => {
  const bad = ['::g', '127.0.0.1 -oProxyCommand=x', '-oProxyCommand=x', '$(touch x)', '127.0.0.1\\0x', 'a..b', '999.1.1.1'];
  const p = project(0, '');
  const inv = p.write('inv.yml', ['hosts:', ...bad.map((a, i) => `  n${i}: { address: "${a.replace(/"/g, '\\"')}" }`), 'jump_hosts:', '  j: { address: "-oProxyCommand=y" }', ''].join('\n'));
  const pb = p.write('pb.yml', 'name: x\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "true" }\n');
  const r = cli(['validate', pb, '-i', inv]);
  assert.is(r.code, 5, r.stdout + r.stderr);
  bad.forEach((_a, i) => assert.match(r.stderr, new RegExp(`inv\\.yml:${i + 2}:\\d+ hosts\\.n${i}\\.address address `), r.stderr));
  assert.match(r.stderr, /jump_hosts\.j\.address address "-oProxyCommand=y"/);
  assert.not.match(r.stderr, /127\.0\.0\.1 x/, 'a NUL byte is never shown as a space');
  noTrace(r);
  // Good ones pass: IPv4, IPv6 (with and without brackets, with a zone), names.
  const good = p.write('good.yml', 'hosts:\n  a: { address: 10.0.0.1 }\n  b: { address: "::1" }\n  c: { address: "[fe80::1%eth0]" }\n  d: { address: node-1.example.com }\n  node_2: {}\n');
  const ok = cli(['validate', pb, '-i', good]);
  assert.is(ok.code, 0, ok.stderr);
});

test('a NUL byte in any string param is exit 5: in the playbook and through a var', () => {
  const p = project(1, '  bad: "x\\0y"\n');
  const literal = p.write('pb1.yml', `name: x
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { content: "a\\0b", dest: "{{work}}/f" }
`);
  const viaVar = p.write('pb2.yml', `name: x
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { content: "{{bad}}", dest: "{{work}}/g" }
`);
  for (const cmd of ['validate', 'run']) {
    const a = cli([cmd, literal, '-i', p.inventory]);
    assert.is(a.code, 5, a.stdout + a.stderr);
    assert.match(a.stderr, /pb1\.yml:6:\d+ copy\.content holds a NUL byte/);
    const b = cli([cmd, viaVar, '-i', p.inventory]);
    assert.is(b.code, 5, b.stdout + b.stderr);
    assert.match(b.stderr, /pb2\.yml:6:\d+ copy\.content holds a NUL byte once rendered \(host h1\)/);
  }
  assert.equal(readdirSync(p.work), []);
});

test('helm-release: release names and namespaces that could be options are exit 5', () => {
  const p = project(1);
  const pb = p.write('pb.yml', `name: x
plays:
  - name: p
    hosts: localhost
    tasks:
      - helm-release: { name: "--post-renderer=/tmp/x", namespace: cattle-system, chart: rancher-stable/rancher }
      - helm-release: { name: rancher, namespace: "-n", chart: rancher-stable/rancher }
`);
  const r = cli(['validate', pb, '-i', p.inventory]);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /pb\.yml:6:9 helm-release release name "--post-renderer=\/tmp\/x" is not a valid name/);
  assert.match(r.stderr, /pb\.yml:7:9 helm-release namespace "-n" is not a valid name/);
});

test('kubectl-apply: an alias bomb in a manifest is exit 5 with a message, not a crash', () => {
  const p = project(1);
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)];
  const manifest = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: { name: x }', 'data:', ...bomb.map((l) => `  ${l}`)].join('\n');
  const pb = p.write('pb.yml', `name: x
plays:
  - name: p
    hosts: localhost
    tasks:
      - kubectl-apply:
          manifest: ${JSON.stringify(manifest)}
`);
  const r = cli(['validate', pb, '-i', p.inventory]);
  assert.is(r.code, 5, r.stdout + r.stderr);
  assert.match(r.stderr, /pb\.yml:6:9 kubectl-apply manifest has too many alias expansions/);
  noTrace(r);
});

test.run();
