// Hostile values (`; rm -rf`, `$(…)`, backticks, newlines, quotes, globs, `%s`)
// in vars and params reach the remote side literally — as a command's environment, copy content
// and destination, render-template vars and paths — and nothing in them is executed. Run through
// the CLI against a real sshd on loopback (as root, and as a sudo user with `become`), and on a
// `connection: local` host, since each quotes on its own path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { cli, events } from './cli-helpers.js';
import { BECOME_USER, ensureUsers, keygen, knownHostsFor, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const dir = scratch();
const marks = join(dir, 'marks'); // every hostile payload tries to create a file in here
const HOSTILE = [
  `; touch ${marks}/semicolon`,
  `$(touch ${marks}/dollar)`,
  `\`touch ${marks}/backtick\``,
  `\n touch ${marks}/newline\n`,
  `' ; touch ${marks}/single '`,
  `" ; touch ${marks}/double "`,
  `| touch ${marks}/pipe && touch ${marks}/and`,
  '* ? [a] ~ %s %% \\ $HOME ${PATH} {{ not a template }}',
].join('');
// A file name (no slash) with the same kinds of characters.
const NAME = `n;$(id)\`id\`'q"*?\\ %s x`;
let sshd: Sshd;

test.before(async () => {
  ensureUsers();
  mkdirSync(marks, { recursive: true });
  chmodSync(marks, 0o777);
  const key = join(dir, 'id');
  const pub = keygen(key);
  sshd = await startSshd([{ path: key, pub }]);
  writeFileSync(join(dir, 'known_hosts'), knownHostsFor(sshd));
  writeFileSync(join(dir, 'inventory.yml'), `defaults: { ssh_key_path: ${key}, known_hosts: ${join(dir, 'known_hosts')}, port: ${sshd.port} }
hosts:
  asroot: { address: 127.0.0.1, user: root }
  viasudo: { address: 127.0.0.1, user: ${BECOME_USER}, become: true }
  local: { connection: local }
groups:
  targets: { hosts: [asroot, viasudo, local] }
vars:
  hostile: ${JSON.stringify(HOSTILE)}
  hostile_name: ${JSON.stringify(NAME)}
  base: ${dir}/out
`);
  writeFileSync(join(dir, 'tpl.hbs'), 'value={{hostile}}\nraw={{{hostile}}}\nextra={{extra}}\n');
  writeFileSync(join(dir, 'pb.yml'), `name: hostile
plays:
  - name: p
    hosts: targets
    tasks:
      - command: { cmd: "mkdir -p {{base}}/{{host.name}} && chmod 0777 {{base}}/{{host.name}}" }
      - name: hostile env value
        command:
          cmd: 'printf %s "$HOSTILE" > {{base}}/{{host.name}}/env.out'
          env: { HOSTILE: "{{hostile}}" }
      - name: hostile copy content and dest
        copy: { content: "{{hostile}}", dest: "{{base}}/{{host.name}}/{{hostile_name}}" }
      - name: hostile render-template vars and dest, validated through %s
        render-template:
          src: tpl.hbs
          dest: "{{base}}/{{host.name}}/{{hostile_name}}.tpl"
          vars: { extra: "{{hostile}}" }
          validate: "grep -q value= %s"
      - name: hostile creates path (an existence test quoted on the remote side)
        command: { cmd: "true", creates: "{{base}}/{{host.name}}/{{hostile}}" }
`);
});

test.after(async () => { await sshd?.stop(); });

test('hostile values arrive literally over SSH (root and sudo) and locally; nothing in them runs', () => {
  const r = cli(['run', join(dir, 'pb.yml'), '-i', join(dir, 'inventory.yml'), '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const ev = events(r.stdout);
  for (const h of ['asroot', 'viasudo', 'local']) {
    const d = join(dir, 'out', h);
    assert.is(readFileSync(join(d, 'env.out'), 'utf8'), HOSTILE, `${h}: env value`);
    assert.is(readFileSync(join(d, NAME), 'utf8'), HOSTILE, `${h}: copy content at the hostile dest`);
    const tpl = readFileSync(join(d, `${NAME}.tpl`), 'utf8');
    assert.ok(tpl.includes(`raw=${HOSTILE}\n`), `${h}: template var verbatim:\n${tpl}`);
    assert.ok(tpl.includes(`extra=`) && tpl.includes(`touch ${marks}/dollar`), `${h}: render-template vars`);
    assert.equal(readdirSync(d).sort(), ['env.out', NAME, `${NAME}.tpl`].sort(), `${h}: no stray files (temp files cleaned)`);
    const created = ev.tasks.find((e) => e.host === h && e.task.startsWith('hostile creates'))!;
    assert.is(created.status, 'changed', `${h}: the hostile creates path does not exist, so the command ran`);
  }
  assert.equal(readdirSync(marks), [], 'no payload executed');
});

test('a second run is idempotent with hostile values (quoted probes compare the right files)', () => {
  const r = cli(['run', join(dir, 'pb.yml'), '-i', join(dir, 'inventory.yml'), '--json']);
  assert.is(r.code, 0, r.stderr + r.stdout);
  const ev = events(r.stdout);
  const files = ev.tasks.filter((e) => e.id === 'copy' || e.id === 'render-template');
  assert.is(files.length, 6);
  for (const e of files) assert.is(e.status, 'ok', `${e.host} ${e.id}: ${e.msg}`);
  assert.equal(readdirSync(marks), [], 'no payload executed');
});

// A value with spaces goes in -e's JSON form: `-e k=v` splits on spaces, as ansible-playbook does.
test('hostile -e values are data too', () => {
  rmSync(join(dir, 'out'), { recursive: true, force: true });
  const r = cli(['run', join(dir, 'pb.yml'), '-i', join(dir, 'inventory.yml'), '--limit', 'asroot', '-e', JSON.stringify({ hostile: `x$(touch ${marks}/extra)\`touch ${marks}/extra2\`;touch ${marks}/extra3` })]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.is(readFileSync(join(dir, 'out', 'asroot', 'env.out'), 'utf8'), `x$(touch ${marks}/extra)\`touch ${marks}/extra2\`;touch ${marks}/extra3`);
  assert.equal(readdirSync(marks), []);
  assert.is(existsSync(join(dir, 'out', 'viasudo')), false, '--limit held');
});

test('over SSH too, rewriting a private file without `mode:` keeps its mode and owner', () => {
  const f = join(dir, 'private-token');
  writeFileSync(f, 'old\n');
  chmodSync(f, 0o600);
  execFileSync('chown', ['daemon:daemon', f]);
  const pb = join(dir, 'rewrite.yml');
  writeFileSync(pb, `name: rewrite\nplays:\n  - name: p\n    hosts: asroot, viasudo\n    tasks:\n      - copy: { content: "new {{host.name}}\\n", dest: ${JSON.stringify(f)} }\n`);
  for (const h of ['asroot', 'viasudo']) {
    const r = cli(['run', pb, '-i', join(dir, 'inventory.yml'), '--limit', h]);
    assert.is(r.code, 0, r.stderr + r.stdout);
    assert.is(readFileSync(f, 'utf8'), `new ${h}\n`);
    assert.is(statSync(f).mode & 0o777, 0o600, h);
    assert.is(statSync(f).uid, Number(execFileSync('id', ['-u', 'daemon'], { encoding: 'utf8' })), h);
  }
});

test.run();
