// Check mode as in Ansible: under --check a command runs only when its item says
// `check_mode: false`; `changed_when`/`failed_when` change what is reported, never whether it runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events, project, totalChanged } from './cli-helpers.js';

const quiet = (extra = ''): string => `name: quiet
plays:
  - name: mutate quietly
    hosts: web
    tasks:
      - name: create a file
        command: { cmd: "touch {{work}}/{{host.name}}-created", changed_when: false }${extra}
      - name: append
        command: { cmd: "echo x >> {{work}}/{{host.name}}-log" }
        changed_when: false${extra}
      - name: remove
        command: { cmd: "rm -f {{work}}/keep" }
        changed_when: "rc == 0"${extra}
`;

test('check of a playbook whose commands all say changed_when: false changes nothing', () => {
  const p = project(2);
  p.write('work/keep', 'k\n');
  const pb = p.write('q.yml', quiet());
  const r = cli(['check', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.equal(readdirSync(p.work), ['keep'], 'no file created, appended to or removed');
  const e = events(r.stdout);
  // changed_when: false still decides the report: ok, not changed; the expression cannot be
  // judged without running, so that command is reported as what it would do.
  assert.equal(e.tasks.filter((t) => t.host === 'h1').map((t) => t.status), ['ok', 'ok', 'changed']);
  assert.match(e.tasks[0]!.msg, /would run: touch/);
  assert.ok(e.tasks.every((t) => t.check === true));
});

test('the same items with check_mode: false run under --check', () => {
  const p = project(2);
  p.write('work/keep', 'k\n');
  const pb = p.write('q.yml', quiet('\n        check_mode: false'));
  const r = cli(['check', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok(existsSync(join(p.work, 'h1-created')) && existsSync(join(p.work, 'h2-log')));
  assert.not.ok(existsSync(join(p.work, 'keep')), 'rm ran');
  const e = events(r.stdout);
  assert.equal(e.tasks.filter((t) => t.host === 'h2').map((t) => t.status), ['ok', 'ok', 'changed']);
});

test('check_mode: true only probes even in a real run', () => {
  const p = project(1);
  const pb = p.write('q.yml', `name: q
plays:
  - name: q
    hosts: web
    tasks:
      - command: { cmd: "touch {{work}}/never" }
        check_mode: true
      - command: { cmd: "touch {{work}}/yes" }
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(p.work), ['yes']);
});

test('item-level failed_when and changed_when judge the result of any run', () => {
  const p = project(1);
  const pb = p.write('q.yml', `name: q
plays:
  - name: q
    hosts: web
    tasks:
      - name: grep finds nothing
        command: { cmd: "grep nope /dev/null" }
        failed_when: "rc > 1"
        register: g
      - name: output decides
        command: { cmd: "echo same" }
        changed_when: "stdout != 'same'"
      - name: declared failure
        command: { cmd: "echo boom" }
        failed_when: "'boom' in stdout"
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 2, r.stdout + r.stderr);
  const e = events(r.stdout).tasks;
  assert.equal(e.map((t) => t.status), ['changed', 'ok', 'failed']);
  assert.match(e[2]!.msg, /failed_when/);
});

test('dry-run prediction stays exact: check predicts the changed count of the run that follows', () => {
  const p = project(2);
  const pb = p.write('q.yml', `name: q
plays:
  - name: q
    hosts: web
    tasks:
      - command: { cmd: "mkdir {{work}}/{{host.name}}", creates: "{{work}}/{{host.name}}" }
      - command: { cmd: "cat /dev/null", changed_when: false }
      - command: { cmd: "rm -r {{work}}/gone", removes: "{{work}}/gone" }
`);
  const c = events(cli(['check', pb, '-i', p.inventory, '--json']).stdout);
  const r = events(cli(['run', pb, '-i', p.inventory, '--json']).stdout);
  assert.is(totalChanged(c.recap), 2);
  assert.equal(c.recap, r.recap);
  assert.is(totalChanged(events(cli(['check', pb, '-i', p.inventory, '--json']).stdout).recap), 0);
});

test.run();
