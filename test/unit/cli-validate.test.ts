// Bad input is rejected by `validate` and `run` with exit 5, every problem named
// file:line:column, and nothing runs (a command that would create a file did not).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cli, project } from './cli-helpers.js';

const bad = (work: string): string => `name: broken
plays:
  - name: first
    hosts: web
    tasks:
      - name: would create a file
        command: { cmd: "touch ${work}/ran", creates: "${work}/ran" }
      - name: type error
        copy: { content: "x", dest: "${work}/x", mode: 644 }
      - name: misspelt id
        comand: { cmd: "true" }
  - name: second
    hosts: web[9]
    tasks:
      - command: { cmd: "touch ${work}/ran2" }
`;

test('validate: a group the inventory lacks is a warning with a did-you-mean (as ansible-playbook skips that play)', () => {
  const p = project(2);
  const pb = p.write('pb.yml', 'name: ok\nplays:\n  - name: p\n    hosts: webz\n    tasks:\n      - command: { cmd: "true" }\n');
  const r = cli(['validate', pb, '-i', p.inventory]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /\[WARNING\]: Could not match supplied host pattern, ignoring: webz \(did you mean "web"\?\)/);
});

for (const cmd of ['validate', 'run', 'check']) {
  test(`${cmd}: type error, misspelt task id and a subscript past the group → exit 5 with file:line:column, nothing run`, () => {
    const p = project(2);
    const pb = p.write('pb.yml', bad(p.work));
    const r = cli([cmd, pb, '-i', p.inventory]);
    assert.is(r.code, 5, r.stderr);
    const lines = r.stderr.split('\n');
    const at = (re: RegExp): string | undefined => lines.find((l) => re.test(l));
    const typeErr = at(/copy\.mode/);
    assert.ok(typeErr, `no copy.mode error in:\n${r.stderr}`);
    assert.match(typeErr!, /pb\.yml:9:\d+ /);
    assert.match(typeErr!, /must be string/);
    const idErr = at(/comand/);
    assert.ok(idErr, r.stderr);
    assert.match(idErr!, /pb\.yml:11:\d+ /);
    assert.match(idErr!, /did you mean "command"/);
    const groupErr = at(/web\[9\]/);
    assert.ok(groupErr, r.stderr);
    assert.match(groupErr!, /pb\.yml:13:\d+ /);
    assert.match(groupErr!, /No hosts matched the subscripted pattern/);
    assert.is(r.stdout.includes('PLAY'), false, 'nothing was rendered as run');
    assert.is(existsSync(join(p.work, 'ran')), false, 'the command task must not have run');
    assert.is(existsSync(join(p.work, 'ran2')), false);
  });
}

test('a missing template variable is reported before anything runs, with its position', () => {
  const p = project(1);
  const pb = p.write('pb.yml', `name: missing var
plays:
  - name: p
    hosts: all
    tasks:
      - command: { cmd: "touch ${p.work}/first" }
      - copy: { content: "{{ no_such_var }}", dest: "${p.work}/x" }
`);
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 5, r.stderr);
  assert.match(r.stderr, /pb\.yml:7:\d+ .*no_such_var/);
  assert.is(existsSync(join(p.work, 'first')), false, 'the first task must not run either');
});

test('bad options are usage errors with exit 5', () => {
  const p = project(1);
  const pb = p.write('pb.yml', 'name: ok\nplays:\n  - name: p\n    hosts: all\n    tasks:\n      - command: { cmd: "true" }\n');
  assert.is(cli(['run', pb, '-i', p.inventory, '--forks', 'zero']).code, 5);
  assert.is(cli(['run', pb]).code, 5, 'missing -i');
  assert.is(cli(['frobnicate']).code, 5);
  const lim = cli(['run', pb, '-i', p.inventory, '--limit', 'nosuchhost']);
  assert.is(lim.code, 5);
  assert.match(lim.stderr, /nosuchhost/);
});

test('validate on a good playbook says so and exits 0', () => {
  const p = project(2);
  const pb = p.write('pb.yml', `name: good\nplays:\n  - name: p\n    hosts: web\n    tasks:\n      - command: { cmd: "touch ${p.work}/ran" }\n`);
  const r = cli(['validate', pb, '-i', p.inventory]);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid/);
  assert.is(existsSync(join(p.work, 'ran')), false);
});

test('an item whose when is false from the vars alone need not render: `x is defined` guards a template using x', () => {
  const p = project(1);
  const pb = (when: string) => p.write('guarded.yml', [
    'name: guarded', 'plays:', '  - name: p', '    hosts: web', '    tasks:',
    '      - name: uses the CA', '        command: { cmd: "cat {{ ca_cert }}" }', `        when: "${when}"`,
    '      - name: probe', '        command: { cmd: "true" }', '        register: probed', '',
  ].join('\n'));
  const ok = cli(['validate', pb('ca_cert is defined'), '-i', p.inventory]);
  assert.is(ok.code, 0, ok.stderr);
  // Without the guard, or when the guard reads a result only known at run time, the template is checked.
  for (const when of ['work is defined', 'probed is defined']) {
    const r = cli(['validate', pb(when), '-i', p.inventory]);
    assert.is(r.code, 5, `${when}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /guarded\.yml:7:\d+ command\.cmd missing variable "ca_cert"/);
  }
});

test.run();
