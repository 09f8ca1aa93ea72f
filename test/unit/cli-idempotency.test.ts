// Idempotency and check mode: command(creates) + copy + render-template report changes the first time
// and 0 changed the second; --check on a fresh directory reports would-be changes and writes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events, project, totalChanged, type Project } from './cli-helpers.js';

function setup(): { p: Project; pb: string } {
  const p = project(3);
  p.write('templates/app.conf.hbs', 'name={{host.name}}\nport={{port}}\nall={{#each groups.web}}{{this}} {{/each}}\n');
  const pb = p.write('site.yml', `name: idempotent
vars: { port: 8080 }
plays:
  - name: files
    hosts: web
    tasks:
      - name: make dir
        command: { cmd: "mkdir {{work}}/{{host.name}}", creates: "{{work}}/{{host.name}}" }
      - name: copy
        copy: { content: "hello {{host.name}}\\n", dest: "{{work}}/{{host.name}}/hello.txt", mode: "0600" }
      - name: render
        render-template: { src: templates/app.conf.hbs, dest: "{{work}}/{{host.name}}/app.conf", mode: "0644" }
`);
  return { p, pb };
}

test('first run changes, second run reports 0 changed in the --json recap', () => {
  const { p, pb } = setup();
  const first = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(first.code, 0, first.stderr);
  const a = events(first.stdout);
  assert.is(totalChanged(a.recap), 9, 'three tasks changed on three hosts');
  for (const h of ['h1', 'h2', 'h3']) assert.equal(a.recap.hosts[h], { ok: 3, changed: 3, failed: 0, skipped: 0, unreachable: 0 });
  assert.is(readFileSync(join(p.work, 'h2', 'hello.txt'), 'utf8'), 'hello h2\n');
  assert.is(statSync(join(p.work, 'h2', 'hello.txt')).mode & 0o777, 0o600);
  assert.is(readFileSync(join(p.work, 'h3', 'app.conf'), 'utf8'), 'name=h3\nport=8080\nall=h1 h2 h3 \n');
  assert.ok(a.tasks.every((e) => e.check === undefined), 'no check flag outside check mode');

  const second = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(second.code, 0, second.stderr);
  const b = events(second.stdout);
  assert.is(totalChanged(b.recap), 0, second.stdout);
  assert.ok(b.tasks.every((e) => e.status === 'ok'));
});

test('a changed file is put back (and only that file), with mode fixed', () => {
  const { p, pb } = setup();
  assert.is(cli(['run', pb, '-i', p.inventory, '--json']).code, 0);
  const f = join(p.work, 'h1', 'app.conf');
  writeFileSync(f, 'tampered\n');
  const r = events(cli(['run', pb, '-i', p.inventory, '--json', '--diff']).stdout);
  const changed = r.tasks.filter((e) => e.changed);
  assert.is(changed.length, 1);
  assert.is(changed[0]!.host, 'h1');
  assert.is(changed[0]!.task, 'render');
  assert.ok(JSON.stringify(changed[0]!.diff).includes('tampered'), 'diff shows the old content');
  assert.is(readFileSync(f, 'utf8').startsWith('name=h1'), true);
});

test('--check on a fresh directory reports would-be changes with check:true and creates nothing', () => {
  const { p, pb } = setup();
  const r = cli(['run', pb, '-i', p.inventory, '--json', '--check']);
  assert.is(r.code, 0, r.stderr);
  const e = events(r.stdout);
  assert.is(e.tasks.length, 9);
  assert.ok(e.tasks.every((t) => t.status === 'changed' && t.changed === true && t.check === true), r.stdout);
  assert.is(totalChanged(e.recap), 9);
  assert.equal(readdirSync(p.work), [], 'check mode created nothing');
  // `check` is the same as `run --check`
  const c = cli(['check', pb, '-i', p.inventory, '--json']);
  assert.equal(events(c.stdout).recap, e.recap);
  assert.equal(readdirSync(p.work), []);
  assert.is(readdirSync(p.dir).sort().join(','), 'inventory.yml,site.yml,templates,work', 'nothing written beside the playbook');
});

test('--check after a run reports 0 changed; --diff shows what a change would do', () => {
  const { p, pb } = setup();
  const run = cli(['run', pb, '-i', p.inventory]);
  assert.is(run.code, 0, run.stderr);
  assert.is(totalChanged(events(cli(['check', pb, '-i', p.inventory, '--json']).stdout).recap), 0);
  writeFileSync(join(p.work, 'h1', 'app.conf'), 'old line\n');
  const r = cli(['check', pb, '-i', p.inventory, '--diff', '--limit', 'h1']);
  assert.is(r.code, 0);
  assert.match(r.stdout, /-old line/);
  assert.match(r.stdout, /\+name=h1/);
  assert.is(readFileSync(join(p.work, 'h1', 'app.conf'), 'utf8'), 'old line\n', 'check did not write');
});

test('check mode: commands do not run, except read-only queries (check_mode: false) whose output later tasks use', () => {
  const p = project(1);
  const pb = p.write('q.yml', `name: q
plays:
  - name: q
    hosts: web
    tasks:
      - command: { cmd: "touch {{work}}/mutated" }
      - command: { cmd: "echo 42", changed_when: false }
        check_mode: false
        register: answer
      - copy: { content: "{{answer.stdout}}", dest: "{{work}}/answer" }
`);
  const r = cli(['check', pb, '-i', p.inventory, '--json', '--diff']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const e = events(r.stdout).tasks;
  assert.equal(e.map((t) => t.status), ['changed', 'ok', 'changed']);
  assert.ok(JSON.stringify(e[2]!.diff).includes('42'), 'the would-be file content uses the query output');
  assert.equal(readdirSync(p.work), []);
});

test.run();
