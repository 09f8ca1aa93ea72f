// Differential test: the same inventory and an equivalent playbook go through ansible-playbook
// (live, at test time: --list-hosts, --list-tasks, --syntax-check, and --check on localhost with
// the local connection, so nothing connects anywhere) and through rancher-play's same flags.
// Host patterns (in -l and in a play's hosts:), tags, -e and the inventory idioms must agree, or
// be one of the refusals the README lists. Where ansible-playbook fails (exit 1, "ERROR!"),
// rancher-play must refuse with exit 5.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../unit/cli-helpers.js';

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'compat-playbook-'));
const w = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

interface Out { code: number; out: string; err: string }

function ansible(args: string[]): Out {
  const r = spawnSync('ansible-playbook', args, {
    cwd: dir, encoding: 'utf8',
    env: {
      ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: dir, ANSIBLE_LOCAL_TEMP: dir, ANSIBLE_CONFIG: join(dir, 'none.cfg'),
      ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_DEPRECATION_WARNINGS: '0', ANSIBLE_PYTHON_INTERPRETER: 'auto_silent',
    },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

function ours(args: string[]): Out {
  const r = cli(args, { cwd: dir });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** Each play's hosts in a --list-hosts listing (sorted: ansible-playbook prints a set). */
function playHosts(out: string): string[][] {
  return out.split(/\n {2}play #\d+ /).slice(1).map((b) => {
    const m = /hosts \(\d+\):\n?((?: {6}\S+\n?)*)/.exec(b);
    return (m?.[1] ?? '').split('\n').map((s) => s.trim()).filter(Boolean).sort();
  });
}

/** The patterns warned about as matching nothing. */
const warned = (err: string): string[] => [...new Set([...err.matchAll(/Could not match supplied host pattern, ignoring: (\S+)/g)].map((m) => m[1]!))].sort();

/** Each play's task lines of a --list-tasks listing. */
const taskLines = (out: string): string[] => out.split('\n').filter((l) => /^ {6}\S/.test(l) && l.includes('\tTAGS: ['));

/** Agree: both fail (ansible 1 / ours 5), or both succeed with the same hosts and warnings. */
function sameListing(a: Out, r: Out, what: string): void {
  if (a.code !== 0) {
    assert.is(r.code, 5, `${what}: ansible-playbook fails (${a.err.trim()}); rancher-play must refuse\n${r.out}${r.err}`);
    return;
  }
  assert.is(r.code, 0, `${what}: ${r.err}`);
  assert.equal(playHosts(r.out), playHosts(a.out), `${what}: hosts per play`);
  assert.equal(warned(r.err), warned(a.err), `${what}: warnings`);
}

const hostsIni = w('hosts.ini', `[web]
web1
web2
web3
[db]
db1
db2
[lb]
lb1
[prod:children]
web
[prod]
db1
[all:vars]
ansible_connection=local
`);
w('retry', 'web2\ndb1\n');

const PATTERNS = [
  'web:&prod', 'all:!db', 'web:lb', 'web,db', 'web[0]', 'web[0:1]', 'web[1:]', 'web[-1]', '~web[12]', '~(db|lb)',
  'w*', '*1', 'web:!web2', '!db', '&prod', 'prod:&db', 'db[0]:lb', 'web,nosuch', 'nosuch', 'localhost', 'web1:db2',
];

const ansiblePlay = (name: string, hosts: string, tasks: string, extra = ''): string => `- name: ${JSON.stringify(name)}
  hosts: ${JSON.stringify(hosts)}
  gather_facts: false${extra}
  tasks:
${tasks}`;
const oursPlay = (name: string, hosts: string, tasks: string): string => `  - name: ${JSON.stringify(name)}
    hosts: ${JSON.stringify(hosts)}
    tasks:
${tasks}`;

const aPatterns = w('patterns-ansible.yml', PATTERNS.map((p, i) => ansiblePlay(`p${i}`, p, '    - debug: msg=x\n')).join(''));
const rPatterns = w('patterns.yml', `plays:\n${PATTERNS.map((p, i) => oursPlay(`p${i}`, p, '      - command: { cmd: "true" }\n')).join('')}`);

test('host patterns in a play\'s hosts: the same hosts per play, the same warnings, a play without hosts skipped', () => {
  if (!hasAnsible) return;
  const a = ansible(['-i', hostsIni, aPatterns, '--list-hosts']);
  assert.is(a.code, 0, a.err);
  const r = ours(['run', rPatterns, '-i', hostsIni, '--list-hosts']);
  sameListing(a, r, 'hosts:');
  assert.is(playHosts(r.out).length, PATTERNS.length);
  assert.equal(playHosts(r.out)[PATTERNS.indexOf('web[0:1]')], ['web1', 'web2'], 'the end of a subscript is inclusive');
});

const LIMITS: string[][] = [
  ['-l', 'web:&prod'], ['-l', 'web[0:1]'], ['-l', 'web', '-l', 'db1'], ['-l', '@retry'], ['-l', 'web,web9'],
  ['-l', 'all:!web'], ['-l', '~^db'], ['-l', 'web,&db'], ['-l', 'web9'], ['-l', 'web[5]'], ['-l', '~(web'],
  ['-l', 'localhost'],
];

for (const limit of LIMITS) {
  test(`--limit ${limit.filter((x) => x !== '-l').join(' then ')}: the same hosts, warnings and failures as ansible-playbook`, () => {
    if (!hasAnsible) return;
    const play = PATTERNS.slice(0, 3);
    const a = ansible(['-i', hostsIni, w('limit-ansible.yml', play.map((p, i) => ansiblePlay(`p${i}`, p, '    - debug: msg=x\n')).join('')), '--list-hosts', ...limit]);
    const r = ours(['run', w('limit.yml', `plays:\n${play.map((p, i) => oursPlay(`p${i}`, p, '      - command: { cmd: "true" }\n')).join('')}`), '-i', hostsIni, '--list-hosts', ...limit]);
    sameListing(a, r, limit.join(' '));
    if (a.code !== 0 && /no hosts to target/.test(a.err)) assert.match(r.err, /no hosts to target/);
  });
}

const TAGGED = [
  ['destroy', 'tags: [never, destroy]'], ['plain', ''], ['pkgcfg', 'tags: "packages, config"'], ['sorted', 'tags: [zeta, alpha, zeta]'],
  ['keep', 'tags: [always]'], ['config2', 'tags: [config]'], ['guarded', 'tags: [never]'],
];
const aTags = w('tags-ansible.yml', ansiblePlay('tags', 'localhost', TAGGED.map(([n, t]) => `    - name: ${n}\n      debug: msg=x\n${t ? `      ${t}\n` : ''}`).join('')));
const rTags = w('tags.yml', `plays:\n${oursPlay('tags', 'localhost', TAGGED.map(([n, t]) => `      - name: ${n}\n        command: { cmd: "true" }\n${t ? `        ${t}\n` : ''}`).join(''))}`);

const TAG_ARGS: string[][] = [
  [], ['--tags', 'tagged'], ['--tags', 'untagged'], ['--tags', 'all'], ['--tags', 'destroy'], ['--tags', 'packages'],
  ['--tags', 'never'], ['--skip-tags', 'tagged'], ['--skip-tags', 'always'], ['--skip-tags', 'untagged,config'],
  ['--tags', 'all', '--skip-tags', 'all'], ['--tags', 'config', '--start-at-task', 'plain'],
];

for (const args of TAG_ARGS) {
  test(`--list-tasks ${args.join(' ') || '(no tags)'}: the same tasks with the same sorted tags`, () => {
    if (!hasAnsible) return;
    const a = ansible(['-i', hostsIni, aTags, '--list-tasks', ...args]);
    assert.is(a.code, 0, a.err);
    const r = ours(['run', rTags, '-i', hostsIni, '--list-tasks', ...args]);
    assert.is(r.code, 0, r.err);
    assert.equal(taskLines(r.out), taskLines(a.out));
  });
}

/** The names of the tasks that ran (not skipped) in a --check run on localhost. */
function ranAnsible(args: string[], playbook: string): string[] {
  const r = ansible(['-i', hostsIni, playbook, '--check', ...args]);
  assert.is(r.code, 0, r.err + r.out);
  // The default callback: `TASK [name] ***` then `ok: [localhost]` or `skipping: [localhost]`.
  return r.out.split(/^TASK \[/m).slice(1).filter((b) => /^(ok|changed): \[localhost\]/m.test(b)).map((b) => b.slice(0, b.indexOf('] *')));
}
function ranOurs(args: string[], playbook: string): string[] {
  const r = ours(['check', playbook, '-i', hostsIni, '--json', ...args]);
  assert.is(r.code, 0, r.err + r.out);
  return r.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; task: string; status: string })
    .filter((e) => e.event === 'task' && e.status !== 'skipped').map((e) => e.task);
}

test('--tags with --start-at-task: the start task is looked for among the tasks the tags keep (--check on localhost)', () => {
  if (!hasAnsible) return;
  for (const args of [['--tags', 'config', '--start-at-task', 'plain'], ['--tags', 'config', '--start-at-task', 'pkgcfg'], ['--start-at-task', 'sorted'], []]) {
    assert.equal(ranOurs(args, rTags), ranAnsible(args, aTags), args.join(' '));
  }
  assert.equal(ranOurs([], rTags), ['plain', 'pkgcfg', 'sorted', 'keep', 'config2'], 'never-tagged tasks do not run without --tags');
});

w('vars.yml', 'a: no\nb: 0644\nc: 1e5\nd: "0644"\n');
const CONDITIONS = [
  'port == "8080"', 'port == 8080', 'mode == "0644"', 'flag == "false"', 'flag == false', 'pkgs == "[a,b]"',
  'env == "prod"', 'region == "eu"', 'n == 8080', 'm == 420', 'f == 100000', 'a == false', 'b == 420', 'c == "1e5"', 'd == "0644"',
  'msg == "hello world"',
];
const EXTRA = ['-e', 'port=8080 mode=0644', '-e', 'flag=false', '-e', 'pkgs=[a,b]', '-e', 'env=prod region=eu', '-e', '{"n": 8080, "m": 0644}',
  '-e', '{"f": 1e5}', '-e', '@vars.yml', '-e', 'msg="hello world"'];

test('-e: key=value strings (several per -e), {...} typed, @file YAML 1.1 — the same `when` outcomes (--check on localhost)', () => {
  if (!hasAnsible) return;
  const a = w('extra-ansible.yml', ansiblePlay('extra', 'localhost', CONDITIONS.map((c) => `    - name: ${JSON.stringify(c)}\n      debug: msg=x\n      when: ${JSON.stringify(c)}\n`).join('')));
  const r = w('extra.yml', `plays:\n${oursPlay('extra', 'localhost', CONDITIONS.map((c) => `      - name: ${JSON.stringify(c)}\n        command: { cmd: "true" }\n        when: ${JSON.stringify(c)}\n`).join(''))}`);
  const got = ranOurs(EXTRA, r);
  assert.equal(got, ranAnsible(EXTRA, a));
  assert.ok(got.includes('port == "8080"') && !got.includes('port == 8080'), 'a key=value value is a string');
});

test('-e refusals where ansible-playbook fails too: a list, a bare file name', () => {
  if (!hasAnsible) return;
  for (const e of ['[1, 2]', './vars.yml']) {
    assert.is.not(ansible(['-i', hostsIni, aTags, '--list-tasks', '-e', e]).code, 0, e);
    const r = ours(['run', rTags, '-i', hostsIni, '--list-tasks', '-e', e]);
    assert.is(r.code, 5, e);
  }
});

test('--syntax-check: a comma-separated tag string and ":" patterns are valid to both', () => {
  if (!hasAnsible) return;
  assert.is(ansible(['-i', hostsIni, aTags, '--syntax-check']).code, 0);
  assert.is(ours(['run', rTags, '-i', hostsIni, '--syntax-check']).code, 0);
  assert.is(ansible(['-i', hostsIni, aPatterns, '--syntax-check']).code, 0);
  assert.is(ours(['run', rPatterns, '-i', hostsIni, '--syntax-check']).code, 0);
});

function inventory(args: string[]): Out {
  const r = spawnSync('ansible-inventory', args, {
    cwd: dir, encoding: 'utf8', env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: dir, ANSIBLE_CONFIG: join(dir, 'none.cfg') },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const INVENTORIES: [string, string][] = [
  ['null-children.yml', 'all:\n  children:\n    web:\n    db:\n      hosts:\n        db1:\n'],
  ['null-top.yml', 'web:\n  hosts:\n    web1:\ndb:\n'],
  ['nested.yml', 'all:\n  children:\n    k8s:\n      children:\n        control:\n          hosts:\n            c1:\n        workers:\n          hosts:\n            w1:\n    web:\n      hosts:\n        web1:\n'],
  ['hosts', '# production\n; managed by hand\nloose1\n[web]\nweb1\nweb2 ansible_port=2222\n[db]\ndb1\n[all:children]\nweb\n'],
  ['hosts.ini', ''],
];

for (const [name, text] of INVENTORIES) {
  test(`inventory --graph ${name}: nested groups, no implicit localhost, as ansible-inventory --graph`, () => {
    if (!hasAnsible) return;
    const f = text ? w(name, text) : join(dir, name);
    const a = inventory(['-i', f, '--graph']);
    assert.is(a.code, 0, a.err);
    const r = ours(['inventory', '-i', f, '--graph']);
    assert.is(r.code, 0, r.err);
    assert.is(r.out, a.out);
  });
}

test('an empty YAML group is usable in patterns; with null groups the play lists the same hosts', () => {
  if (!hasAnsible) return;
  const f = join(dir, 'null-children.yml');
  const a = ansible(['-i', f, w('null-ansible.yml', ansiblePlay('n', 'web:db', '    - debug: msg=x\n')), '--list-hosts']);
  const r = ours(['run', w('null.yml', `plays:\n${oursPlay('n', 'web:db', '      - command: { cmd: "true" }\n')}`), '-i', f, '--list-hosts']);
  sameListing(a, r, 'null groups');
});

test('ProxyCommand "ssh -W %h:%p -q -i KEY user@bastion" in ansible_ssh_common_args is accepted: the hop carries the key', () => {
  const f = w('proxy.ini', `[web]\nweb1 ansible_ssh_common_args='-o ProxyCommand="ssh -W %h:%p -q -i key.pem ops@bastion"'\n`);
  if (hasAnsible) assert.is(inventory(['-i', f, '--list']).code, 0);
  const r = ours(['inventory', '-i', f, '--json']);
  assert.is(r.code, 0, r.err);
  const web1 = (JSON.parse(r.out) as { hosts: Record<string, { jump: { address: string; user: string; port: number }[] }> }).hosts.web1!;
  assert.equal(web1.jump, [{ address: 'bastion', port: 22, user: 'ops' }]);
});

test('refusal (README): a YAML group key `host:` (for hosts:) that Ansible only warns about', () => {
  const f = w('typo.yml', 'all:\n  children:\n    web:\n      host:\n        web1:\n');
  if (hasAnsible) {
    const a = inventory(['-i', f, '--list']);
    assert.is(a.code, 0, 'Ansible warns and drops web1');
    assert.not.ok(a.out.includes('web1'));
  }
  const r = ours(['inventory', '-i', f, '--graph']);
  assert.is(r.code, 5);
  assert.match(r.err, /typo\.yml:4:7 .*unknown group key/);
});

test.run();
