// Ansible's command-line spellings on run/check: -C -D -l -t -f -u --private-key -b, and
// --list-hosts / --list-tasks (compared live with ansible-playbook's), --start-at-task, --syntax-check.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events, project } from './cli-helpers.js';
import { BECOME_USER, ensureUsers, keygen, knownHostsFor, removeUsers, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const site = `name: site
plays:
  - name: Prepare
    hosts: web
    tasks:
      - name: first
        command: { cmd: "touch {{work}}/{{host.name}}-first" }
      - name: second step
        command: { cmd: "touch {{work}}/{{host.name}}-second" }
        tags: [config, x]
  - name: Finish
    hosts: [web, "!h2"]
    tasks:
      - name: third
        command: { cmd: "touch {{work}}/{{host.name}}-third" }
        tags: [x]
      - copy: { content: "hi\\n", dest: "{{work}}/{{host.name}}-copy" }
`;

test('--help shows the Ansible spellings', () => {
  const r = cli(['run', '--help']);
  assert.is(r.code, 0);
  for (const o of ['-C, --check', '-D, --diff', '-l, --limit', '-t, --tags', '-f, --forks', '-u, --user', '--private-key', '-b, --become', '--list-hosts', '--list-tasks', '--start-at-task', '--syntax-check']) {
    assert.ok(r.stdout.includes(o), `run --help lacks ${o}`);
  }
});

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;

test('--list-hosts and --list-tasks print what ansible-playbook prints for the same play', () => {
  const p = project(3);
  p.write('site.yml', site);
  const file = join(p.dir, 'site.yml');
  const ours = (args: string[]) => {
    const r = cli(['run', file, '-i', p.inventory, ...args]);
    return { ...r, stdout: r.stdout.replace(`playbook: ${file}`, 'playbook: site.yml') };
  };
  const r = ours(['--list-hosts', '--list-tasks']);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /\n {2}play #2 \(web,!h2\): Finish\tTAGS: \[\]\n {4}pattern: \['web', '!h2'\]\n {4}hosts \(2\):\n {6}h1\n {6}h3\n/);
  assert.equal(readdirSync(p.work), [], 'nothing ran');
  if (!hasAnsible) return;
  const a = join(p.dir, 'ansible');
  mkdirSync(a);
  writeFileSync(join(a, 'hosts.ini'), '[web]\nh1\nh2\nh3\n');
  writeFileSync(join(a, 'site.yml'), `- name: Prepare
  hosts: web
  gather_facts: false
  tasks:
    - name: first
      command: "true"
    - name: second step
      command: "true"
      tags: [config, x]
- name: Finish
  hosts: [web, "!h2"]
  gather_facts: false
  tasks:
    - name: third
      command: "true"
      tags: [x]
    - copy: { content: "hi", dest: /tmp/never }
`);
  const ansible = (args: string[]): string => {
    const x = spawnSync('ansible-playbook', ['-i', 'hosts.ini', 'site.yml', ...args], { cwd: a, encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1' } });
    assert.is(x.status, 0, x.stderr);
    return x.stdout;
  };
  // ansible-playbook lists a play's hosts in set order (it varies between runs): compare sorted.
  const hostsSorted = (out: string): string => out.replace(/((?:\n {6}\S+)+)/g, (block) => block.split('\n').sort().join('\n'));
  for (const args of [['--list-hosts'], ['--list-tasks'], ['--list-hosts', '--list-tasks', '-l', 'h2,h3', '-t', 'x']]) {
    // Ansible names an untitled task by its module; ours by its task id (the same word here).
    assert.is(hostsSorted(ours(args).stdout), hostsSorted(ansible(args)), args.join(' '));
  }
});

test('--start-at-task skips the tasks before the first one with that name, across plays', () => {
  const p = project(2);
  const pb = p.write('site.yml', site);
  const r = cli(['run', pb, '-i', p.inventory, '--start-at-task', 'second*', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(p.work).sort(), ['h1-copy', 'h1-second', 'h1-third', 'h2-second']);
  assert.equal(events(r.stdout).tasks.map((t) => t.task), ['second step', 'second step', 'third', 'copy']);
  const late = cli(['run', pb, '-i', p.inventory, '--start-at-task', 'third', '--json']);
  assert.equal(events(late.stdout).tasks.map((t) => `${t.task}@${t.host}`), ['third@h1', 'copy@h1']);
  const bad = cli(['run', pb, '-i', p.inventory, '--start-at-task', 'thrid']);
  assert.is(bad.code, 5);
  assert.match(bad.stderr, /--start-at-task no task named "thrid" \(did you mean "third"\?\)/);
});

test('--syntax-check validates and runs nothing', () => {
  const p = project(2);
  const pb = p.write('site.yml', site);
  const ok = cli(['run', pb, '-i', p.inventory, '--syntax-check']);
  assert.is(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /playbook: /);
  assert.equal(readdirSync(p.work), []);
  const broken = p.write('bad.yml', site.replace('touch {{work}}', 'touch {{wrok}}'));
  const bad = cli(['check', broken, '-i', p.inventory, '--syntax-check']);
  assert.is(bad.code, 5);
  assert.match(bad.stderr, /bad\.yml:\d+:\d+ command\.cmd missing variable "wrok"/);
});

test('-C -D -l -t -f mean --check --diff --limit --tags --forks', () => {
  const p = project(3);
  const pb = p.write('site.yml', site);
  const dry = cli(['run', pb, '-i', p.inventory, '-C', '-D', '--json']);
  assert.is(dry.code, 0, dry.stderr);
  assert.ok(events(dry.stdout).tasks.every((t) => t.check === true));
  assert.ok(events(dry.stdout).tasks.some((t) => JSON.stringify(t.diff ?? '').includes('hi')), 'diff of the copy');
  assert.equal(readdirSync(p.work), []);
  const r = cli(['run', pb, '-i', p.inventory, '-l', 'h3', '-t', 'x', '-f', '1', '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(p.work).sort(), ['h3-second', 'h3-third']);
  assert.is(cli(['run', pb, '-i', p.inventory, '-f', '0']).code, 5);
});

let sshd: Sshd | undefined;
const dir = scratch();

test('-u, --private-key and -b apply to hosts whose inventory sets none; every IdentityFile is tried in order', async () => {
  ensureUsers();
  const key = { path: join(dir, 'id'), pub: keygen(join(dir, 'id')) };
  sshd = await startSshd([key]);
  const home = join(dir, 'home');
  mkdirSync(home);
  writeFileSync(join(dir, 'known_hosts'), knownHostsFor(sshd));
  const inv = join(dir, 'inventory.yml');
  writeFileSync(inv, `defaults: { known_hosts: ${join(dir, 'known_hosts')} }
hosts:
  n1: { address: 127.0.0.1, port: ${sshd.port} }
  n2: { address: 127.0.0.1, port: ${sshd.port}, user: root, ssh_key_path: ${key.path}, become: false }
`);
  const pb = join(dir, 'who.yml');
  writeFileSync(pb, `name: who
plays:
  - name: who
    hosts: all
    tasks:
      - command: { cmd: "id -un" }
`);
  const who = (r: { stdout: string }, host: string): string => events(r.stdout).tasks.find((t) => t.host === host)!.msg;
  const plain = cli(['run', pb, '-i', inv, '-u', BECOME_USER, '--private-key', key.path, '--json'], { env: { HOME: home } });
  assert.is(plain.code, 0, plain.stdout + plain.stderr);
  assert.is(who(plain, 'n1'), `rc=0: ${BECOME_USER}`, '-u and --private-key used for n1');
  assert.is(who(plain, 'n2'), 'rc=0: root', 'the inventory user wins over -u');
  const become = cli(['run', pb, '-i', inv, '-u', BECOME_USER, '--private-key', key.path, '-b', '--json'], { env: { HOME: home } });
  assert.is(become.code, 0, become.stdout + become.stderr);
  assert.is(who(become, 'n1'), 'rc=0: root', '-b runs through sudo');
  assert.is(who(become, 'n2'), 'rc=0: root');
  const nokey = cli(['run', pb, '-i', inv, '-u', BECOME_USER, '--json', '--limit', 'n1'], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
  assert.is(nokey.code, 4, 'without --private-key there is no key for n1');

  // ~/.ssh/config with several IdentityFiles: the first is not authorised, the second is.
  mkdirSync(join(home, '.ssh'));
  keygen(join(home, '.ssh', 'wrong'));
  writeFileSync(join(home, '.ssh', 'config'), `Host 127.0.0.1\n  IdentityFile ~/.ssh/wrong\n  IdentityFile ${key.path}\n`);
  const listed = cli(['inventory', '-i', inv, '--json'], { env: { HOME: home } });
  assert.equal(JSON.parse(listed.stdout).hosts.n1.identity_files, [join(home, '.ssh', 'wrong'), key.path]);
  const both = cli(['run', pb, '-i', inv, '-u', BECOME_USER, '--json', '--limit', 'n1'], { env: { HOME: home, SSH_AUTH_SOCK: '' } });
  assert.is(both.code, 0, both.stdout + both.stderr);
  assert.is(who(both, 'n1'), `rc=0: ${BECOME_USER}`, 'the second identity file was tried');
});

test.after(async () => {
  await sshd?.stop();
  removeUsers();
  rmSync(dir, { recursive: true, force: true });
});

test.run();
