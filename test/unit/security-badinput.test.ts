// Malformed input at the command line: every malformed inventory/playbook of the model corpus
// (test/fixtures/model/bad, plus generated huge/deep/binary files and bad options) makes
// `rancher-play run` exit 5 with `file:line:column` and connect to nothing. "Nothing" is
// observed, not assumed: every host points at a local TCP listener that records each connection,
// and a control run with good input shows that listener does notice a connection attempt.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:net';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../runner/cli/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-badinput-'));
const bad = resolve('test/fixtures/model/bad');
let connections = 0;
let server: Server;
let port = 0;

function sink() {
  let out = '';
  return { stream: { write: (s: string | Uint8Array) => { out += String(s); return true; } } as unknown as NodeJS.WritableStream, text: () => out };
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const o = sink();
  const e = sink();
  const code = await main(argv, { stdout: o.stream, stderr: e.stream, env: { NO_COLOR: '1' } });
  return { code, stdout: o.text(), stderr: e.text() };
}

let inventory = '';
let playbook = '';

test.before(async () => {
  server = createServer((s) => { connections += 1; s.destroy(); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
  const key = join(dir, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  // The hosts and groups the corpus playbooks name (as the model's good inventory), all at the listener.
  inventory = join(dir, 'inventory.yml');
  writeFileSync(inventory, `defaults: { user: rancher, port: ${port}, ssh_key_path: ${key}, connect_timeout: 2, known_hosts: ${join(dir, 'kh')} }
hosts:
  node1: { address: 127.0.0.1 }
  node2: { address: 127.0.0.1 }
  node3: { address: 127.0.0.1 }
  lb1: { address: 127.0.0.1 }
groups:
  rancher: { hosts: [node1, node2, node3], vars: { rke_roles: [controlplane, etcd, worker], level: rancher } }
  lb: { hosts: [lb1] }
  zz: { hosts: [lb1] }
vars:
  fqdn: rancher.example.com
  level: inventory
  db_password: !secret hunter22
  proxy: { http: "http://proxy.example.com:3128", https: "http://proxy.example.com:3128" }
`);
  writeFileSync(join(dir, 'kh'), '');
  playbook = join(dir, 'good.yml');
  writeFileSync(playbook, 'name: good\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "true" }\n');
});

test.after(() => { server.close(); });

test('control: good input does try to connect, and the listener sees it (exit 4)', async () => {
  const before = connections;
  const r = await run(['run', playbook, '-i', inventory, '--limit', 'node1']);
  assert.is(r.code, 4, r.stderr + r.stdout);
  assert.ok(connections > before, 'the listener must notice a connection attempt');
});

// Generated members: too big, too deep, binary, and an alias bomb sized to pass a naive parser.
const generated: { name: string; kind: 'inventory' | 'playbook'; text: string | Buffer }[] = [
  { name: 'huge-playbook.yml', kind: 'playbook', text: `name: huge\nvars:\n  pad: "${'x'.repeat(3 << 20)}"\nplays: []\n` },
  { name: 'deep-playbook.yml', kind: 'playbook', text: `name: deep\nvars:\n  x: ${'['.repeat(30000)}${']'.repeat(30000)}\nplays: []\n` },
  { name: 'binary.yml', kind: 'playbook', text: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0xff, 0xfe, 0x00, 0x01]) },
  { name: 'random-bytes-inventory.yml', kind: 'inventory', text: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256)) },
  { name: 'alias-bomb-inventory.yml', kind: 'inventory', text: `a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nhosts: {}\n` },
  { name: 'tpl-injection-playbook.yml', kind: 'playbook', text: 'name: inj\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "{{#with (lookup this \'constructor\')}}{{this}}{{/with}}" }\n' },
  { name: 'tpl-proto-playbook.yml', kind: 'playbook', text: 'name: inj\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "{{ __proto__.polluted }}" }\n' },
  { name: 'tpl-process-playbook.yml', kind: 'playbook', text: 'name: inj\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "{{ process.env.HOME }}" }\n' },
  { name: 'when-js-playbook.yml', kind: 'playbook', text: 'name: inj\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "true" }\n        when: "require(\'child_process\').execSync(\'touch /tmp/rp-pwned\')"\n' },
];

type Case = { name: string; file: string; kind: 'inventory' | 'playbook' };
const cases: Case[] = [
  ...readdirSync(join(bad, 'inventory')).sort().map((f) => ({ name: `inventory/${f}`, file: join(bad, 'inventory', f), kind: 'inventory' as const })),
  ...readdirSync(join(bad, 'playbook')).sort().map((f) => ({ name: `playbook/${f}`, file: join(bad, 'playbook', f), kind: 'playbook' as const })),
  ...generated.map((g) => {
    const file = join(dir, g.name);
    writeFileSync(file, g.text);
    return { name: `generated/${g.name}`, file, kind: g.kind };
  }),
];

test('the corpus has at least 40 members', () => {
  assert.ok(cases.length >= 40, `only ${cases.length}`);
});

for (const c of cases) {
  test(`exit 5, file:line:column, no connection: ${c.name}`, async () => {
    const before = connections;
    const argv = c.kind === 'inventory' ? ['run', playbook, '-i', c.file] : ['run', c.file, '-i', inventory];
    const r = await run([...argv, '--json']);
    assert.is(r.code, 5, `${c.name}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    assert.is(r.stdout, '', 'no events: nothing ran');
    assert.ok(r.stderr.startsWith(`${c.file}:`), `${c.name}: first problem must name the file:\n${r.stderr.slice(0, 500)}`);
    assert.match(r.stderr.split('\n')[0]!, new RegExp(`^${c.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+ `));
    assert.match(r.stderr, /nothing was run/);
    assert.not.match(r.stderr, /\n\s+at .*\(/, 'no stack trace');
    assert.is(connections, before, `${c.name}: a connection was made`);
  });
}

// Bad options are input errors too: exit 5 before anything connects.
const badOptions: [string, string[]][] = [
  ['-e without =', ['-e', 'novalue']],
  ['-e unknown file', ['-e', '@/nonexistent/vars.yml']],
  ['--limit no such host', ['--limit', 'nosuchhost']],
  ['--forks 0', ['--forks', '0']],
  ['--forks text', ['--forks', 'many']],
  ['--tasks-dir missing', ['--tasks-dir', '/nonexistent/tasks']],
];
for (const [name, extra] of badOptions) {
  test(`exit 5, no connection: ${name}`, async () => {
    const before = connections;
    const r = await run(['run', playbook, '-i', inventory, ...extra]);
    assert.is(r.code, 5, `${name}: exit ${r.code}\n${r.stderr}${r.stdout}`);
    assert.is(connections, before, `${name}: a connection was made`);
  });
}

test('nothing in the corpus executed code or polluted prototypes', async () => {
  const { existsSync } = await import('node:fs');
  assert.is(existsSync('/tmp/rp-pwned'), false);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test.run();
