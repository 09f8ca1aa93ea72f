// Secrets never reach any output. Private keys (as file content, base64-embedded
// in a rendered config), secret vars (`!secret` and the `secret:` list) and values derived from
// them are searched for in every output mode: --json, plain, -v, --diff, the Listr tree (through a
// pseudo-TTY), check mode, failures that echo the command's output, and input errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, cliShell, events, project, type CliResult } from './cli-helpers.js';

const KEY = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const KEY_B64 = Buffer.from(KEY).toString('base64');
// A line from the middle of the PEM body: finds the key even when only part of it leaks.
const KEY_LINE = KEY.split('\n')[5]!;
const PW = 'Hunter2-very-secret';
const TOKEN = 'tok-4f9a1c77e2';

/** Every way a key or secret var could leak: verbatim, base64, or one line of the PEM. */
function assertClean(what: string, r: CliResult): void {
  const all = r.stdout + r.stderr;
  for (const [name, needle] of [['key', KEY_LINE], ['key base64', KEY_B64.slice(100, 160)], ['password', PW], ['token', TOKEN]] as const) {
    assert.is(all.includes(needle), false, `${what}: ${name} leaked:\n${all}`);
  }
}

function setup() {
  const p = project(1, `  db_password: !secret ${PW}\n  api_token: ${TOKEN}\nsecret: [api_token]\n`);
  const keyFile = p.write('tls.key', KEY);
  p.write('cluster.yml.hbs', 'tls:\n  key: {{b64file key_file}}\n  password: {{db_password}}\n  version: {{version}}\n');
  const pb = (version: string) => p.write('pb.yml', `name: secrets
vars: { key_file: ${JSON.stringify(keyFile)}, version: "${version}" }
plays:
  - name: p
    hosts: web
    tasks:
      - name: cluster config holds the key, so 0600
        render-template: { src: cluster.yml.hbs, dest: "{{work}}/cluster.yml", mode: "0600" }
      - name: a world-readable file with a secret var inside
        copy: { content: "user=admin\\npassword={{db_password}}\\ntoken={{api_token}}\\n", dest: "{{work}}/app.conf", mode: "0644" }
      - name: a command that prints the secrets
        command: { cmd: "echo pw={{db_password}} token={{api_token}}; echo err-{{db_password}} >&2" }
`);
  return { p, pb };
}

test('a rendered 0600 file with an embedded key: never in --json, --diff, -v, plain or check output', () => {
  const { p, pb } = setup();
  const file = pb('v1');
  const runs: [string, CliResult][] = [];
  runs.push(['check --json --diff', cli(['check', file, '-i', p.inventory, '--json', '--diff'])]);
  runs.push(['check plain --diff -v', cli(['check', file, '-i', p.inventory, '--diff', '-v'])]);
  const first = cli(['run', file, '-i', p.inventory, '--json', '--diff', '-v']);
  runs.push(['run --json --diff -v', first]);
  assert.is(first.code, 0, first.stderr + first.stdout);
  // The file really holds the key (so a clean output means masking, not a missing render).
  assert.ok(readFileSync(join(p.work, 'cluster.yml'), 'utf8').includes(KEY_B64));
  assert.is(statSync(join(p.work, 'cluster.yml')).mode & 0o777, 0o600);
  const ev = events(first.stdout).tasks.find((e) => e.id === 'render-template')!;
  assert.is(ev.status, 'changed');
  assert.match(JSON.stringify(ev.diff), /\(secret, \d+ bytes\)/, 'the diff says a secret file changed, with its size');
  // A content change of the existing private file: neither the old nor the new content shows.
  const second = cli(['run', pb('v2'), '-i', p.inventory, '--diff', '-v']);
  runs.push(['run plain --diff -v (update)', second]);
  assert.is(second.code, 0, second.stderr + second.stdout);
  assert.match(second.stdout, /cluster\.yml: content/);
  for (const [what, r] of runs) assertClean(what, r);
});

test('secret vars are masked inside diffs, messages and logs of world-readable files and commands', () => {
  const { p, pb } = setup();
  const r = cli(['run', pb('v1'), '-i', p.inventory, '--diff', '-v']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assertClean('plain', r);
  // The values did reach the host: only the output is masked.
  assert.ok(readFileSync(join(p.work, 'app.conf'), 'utf8').includes(`password=${PW}`));
  assert.match(r.stdout, /\+password=\*{8}/, 'the diff line is there, masked');
  assert.match(r.stdout, /pw=\*{8} token=\*{8}/, 'the command output is there, masked');
});

test('a failing command that echoes secrets (stderr into the failure message) leaks nothing', () => {
  const { p } = setup();
  const pb = p.write('fail.yml', `name: fail
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "echo using {{db_password}} and {{api_token}} >&2; exit 3" }
`);
  for (const args of [['--json'], ['-v'], []]) {
    const r = cli(['run', pb, '-i', p.inventory, ...args]);
    assert.is(r.code, 2, r.stderr + r.stdout);
    assert.match(r.stdout, /rc=3: using \*{8} and \*{8}/);
    assertClean(`failure ${args.join(' ')}`, r);
  }
});

test('the Listr tree (a pseudo-TTY) masks secrets and private diffs too', () => {
  const { p, pb } = setup();
  const file = pb('v1');
  // A wide terminal, so the tree prints diffs and logs whole instead of wrapping them.
  const r = spawnSync('script', ['-qec', `stty cols 400 rows 60; ${cliShell(['run', file, '-i', p.inventory, '--diff', '-v'])}`, '/dev/null'], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', CI: '', TERM: 'xterm' }, maxBuffer: 32 << 20,
  });
  const out = { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  assert.is(out.code, 0, out.stdout + out.stderr);
  assert.ok(readFileSync(join(p.work, 'cluster.yml'), 'utf8').includes(KEY_B64));
  const text = out.stdout.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '');
  assert.match(text, /\(secret, \d+ bytes\)/, 'the tree shows the private diff, masked');
  assert.match(text, /\+password=\*{8}/, 'the tree shows the world-readable diff, masked');
  assertClean('tree', out);
});

test('input errors do not echo a secret value (vars_schema pattern on a secret var)', () => {
  const { p } = setup();
  const pb = p.write('schema.yml', `name: schema
vars_schema:
  properties:
    db_password: { type: string, pattern: "^[0-9]+$" }
    api_token: { type: string, maxLength: 3 }
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "true" }
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 5, r.stderr + r.stdout);
  assert.match(r.stderr, /db_password/);
  assertClean('vars_schema error', r);
});

test('`inventory` masks `!secret` values and `secret:` list vars at any depth', () => {
  const p = project(1, `  db_password: !secret ${PW}\n  api_token: ${TOKEN}\n  nested: { api_token: ${TOKEN} }\nsecret: [api_token]\n`);
  const r = cli(['inventory', '-i', p.inventory]);
  assert.is(r.code, 0, r.stderr);
  assertClean('inventory', r);
  assert.match(r.stdout, /db_password: "?\*{8}"?/);
  assert.match(r.stdout, /api_token: "?\*{8}"?/);
});

test('an ssh key passphrase given in RANCHER_PLAY_SSH_PASSPHRASE never appears (failing connect, -v)', () => {
  const p = project(0);
  const key = join(p.dir, 'id_enc');
  spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right-passphrase-xyz', '-f', key]);
  // 127.0.0.1 port 9: nothing listens (discard); the connection fails after the key was decrypted.
  const inv = p.write('inv.yml', `defaults: { ssh_key_path: ${JSON.stringify(key)}, connect_timeout: 2 }\nhosts:\n  n1: { address: 127.0.0.1, port: 9 }\n`);
  const pb = p.write('pb.yml', 'name: x\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "true" }\n');
  for (const passphrase of ['right-passphrase-xyz', 'wrong-passphrase-abc']) {
    const r = cli(['run', pb, '-i', inv, '-v', '--json'], { env: { RANCHER_PLAY_SSH_PASSPHRASE: passphrase } });
    assert.is(r.code, 4, r.stdout + r.stderr);
    assert.is((r.stdout + r.stderr).includes(passphrase), false, r.stdout + r.stderr);
    assert.is((r.stdout + r.stderr).includes(readFileSync(key, 'utf8').split('\n')[2]!), false, 'key body');
  }
  writeFileSync(join(p.dir, 'done'), '');
});

test('credentials inside URLs (a proxy user:password) are masked in task messages, diffs and `inventory`', () => {
  const p = project(1, '  proxy: { http: "http://ops:Pr0xyPassw0rd@127.0.0.1:9", https: "http://ops:Pr0xyPassw0rd@127.0.0.1:9" }\n');
  const pb = p.write('proxy.yml', `name: proxy
plays:
  - name: p
    hosts: web
    tasks:
      - check-proxy: { probe_url: "http://127.0.0.1:8/" }
      - copy: { content: "HTTP_PROXY={{proxy.http}}\\n", dest: "{{work}}/env", mode: "0644" }
        ignore_errors: true
`);
  for (const args of [['--json', '--diff', '-v'], ['--diff', '-v']]) {
    const r = cli(['run', pb, '-i', p.inventory, ...args]);
    assert.ok(r.code === 0 || r.code === 2, r.stderr + r.stdout);
    assert.match(r.stdout, /http:\/\/ops:\*{8}@127\.0\.0\.1:9/, r.stdout);
    assert.is((r.stdout + r.stderr).includes('Pr0xyPassw0rd'), false, r.stdout + r.stderr);
  }
  const inv = cli(['inventory', '-i', p.inventory]);
  assert.is(inv.code, 0, inv.stderr);
  assert.is(inv.stdout.includes('Pr0xyPassw0rd'), false, inv.stdout);
});

test.run();
