// Playbook features: when, register, tags, --limit, notify/handlers, ignore_errors, retries, timeout —
// each observed by its effect on files and on the recap/exit code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, events, project } from './cli-helpers.js';

const play = (tasks: string, extra = ''): string => `name: features
plays:
  - name: p
    hosts: web
${extra}    tasks:
${tasks}`;

test('when: false skips the task (status skipped) and it has no effect', () => {
  const p = project(2);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "touch {{work}}/{{host.name}}" }
        when: "host.name == 'h2'"
`));
  const r = events(cli(['run', pb, '-i', p.inventory, '--json']).stdout);
  assert.is(existsSync(join(p.work, 'h1')), false);
  assert.is(existsSync(join(p.work, 'h2')), true);
  assert.is(r.tasks.find((e) => e.host === 'h1')!.status, 'skipped');
  assert.is(r.recap.hosts.h1!.skipped, 1);
});

test('register: a later task uses the registered stdout and rc', () => {
  const p = project(1);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "echo out-of-{{host.name}}", changed_when: false }
        register: said
      - copy: { content: "{{said.stdout}} rc={{said.rc}}", dest: "{{work}}/said" }
      - command: { cmd: "touch {{work}}/never" }
        when: "said.rc != 0"
`));
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 0, r.stderr + r.stdout);
  assert.is(readFileSync(join(p.work, 'said'), 'utf8'), 'out-of-h1 rc=0');
  assert.is(existsSync(join(p.work, 'never')), false);
});

test('--tags runs only tagged tasks (and `always`); --skip-tags skips', () => {
  const p = project(1);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "touch {{work}}/a" }
        tags: [alpha]
      - command: { cmd: "touch {{work}}/b" }
        tags: [beta]
      - command: { cmd: "touch {{work}}/always" }
        tags: [always]
      - command: { cmd: "touch {{work}}/untagged" }
`));
  assert.is(cli(['run', pb, '-i', p.inventory, '--tags', 'alpha']).code, 0);
  assert.equal(['a', 'b', 'always', 'untagged'].map((f) => existsSync(join(p.work, f))), [true, false, true, false]);
  const q = project(1);
  const pb2 = q.write('pb.yml', readFileSync(pb, 'utf8'));
  assert.is(cli(['run', pb2, '-i', q.inventory, '--skip-tags', 'alpha,always']).code, 0);
  assert.equal(['a', 'b', 'always', 'untagged'].map((f) => existsSync(join(q.work, f))), [false, true, false, true]);
});

test('--limit restricts the hosts (by host and by group)', () => {
  const p = project(3);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "touch {{work}}/{{host.name}}" }
`));
  const r = events(cli(['run', pb, '-i', p.inventory, '--json', '--limit', 'h2,h3']).stdout);
  assert.equal(Object.keys(r.recap.hosts).sort(), ['h2', 'h3']);
  assert.equal(['h1', 'h2', 'h3'].map((h) => existsSync(join(p.work, h))), [false, true, true]);
  cli(['run', pb, '-i', p.inventory, '--limit', 'web']);
  assert.is(existsSync(join(p.work, 'h1')), true);
});

test('notify: handlers run once at the end, only on hosts whose notifying task changed', () => {
  const p = project(2);
  const pb = p.write('pb.yml', play(`      - copy: { content: "v1", dest: "{{work}}/conf-{{host.name}}" }
        notify: [restart]
      - copy: { content: "v1", dest: "{{work}}/other-{{host.name}}" }
        notify: [restart]
      - command: { cmd: "sleep 0.05", changed_when: false }
    handlers:
      - name: restart
        command: { cmd: "echo x >> {{work}}/restarted-{{host.name}}" }
`));
  const first = events(cli(['run', pb, '-i', p.inventory, '--json']).stdout);
  assert.is(readFileSync(join(p.work, 'restarted-h1'), 'utf8'), 'x\n', 'once although notified twice, after the tasks');
  const handlerEvents = first.tasks.filter((e) => e.task === 'restart');
  assert.is(handlerEvents.length, 2);
  const lastTask = Math.max(...first.tasks.filter((e) => e.task !== 'restart').map((e) => e.end_ms));
  assert.ok(handlerEvents.every((e) => e.start_ms >= lastTask), 'handlers run after all tasks');
  // Second run: nothing changed → no handler; change h2 only → handler on h2 only.
  cli(['run', pb, '-i', p.inventory]);
  assert.is(readFileSync(join(p.work, 'restarted-h1'), 'utf8'), 'x\n');
  p.write('work/conf-h2', 'tampered');
  const third = events(cli(['run', pb, '-i', p.inventory, '--json']).stdout);
  assert.equal(third.tasks.filter((e) => e.task === 'restart').map((e) => e.host), ['h2']);
  assert.is(readFileSync(join(p.work, 'restarted-h1'), 'utf8'), 'x\n');
  assert.is(readFileSync(join(p.work, 'restarted-h2'), 'utf8'), 'x\nx\n');
});

test('a failed task stops its host (exit 2); other hosts go on; ignore_errors continues', () => {
  const p = project(2);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "test {{host.name}} != h1" }
      - command: { cmd: "touch {{work}}/after-{{host.name}}" }
`));
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 2);
  const e = events(r.stdout);
  assert.is(e.recap.hosts.h1!.failed, 1);
  assert.is(existsSync(join(p.work, 'after-h1')), false, 'failed host stopped');
  assert.is(existsSync(join(p.work, 'after-h2')), true, 'other host went on');

  const q = project(2);
  const pb2 = q.write('pb.yml', play(`      - command: { cmd: "test {{host.name}} != h1" }
        ignore_errors: true
      - command: { cmd: "touch {{work}}/after-{{host.name}}" }
`));
  const r2 = cli(['run', pb2, '-i', q.inventory, '--json']);
  assert.is(r2.code, 0, r2.stdout);
  const e2 = events(r2.stdout);
  assert.is(e2.tasks.find((t) => t.host === 'h1' && t.status === 'failed')?.msg.includes('ignored'), true);
  assert.is(e2.recap.hosts.h1!.failed, 0);
  assert.is(existsSync(join(q.work, 'after-h1')), true);
});

test('retries: a task failing twice then passing succeeds with retries 3, fails with retries 1', () => {
  const flaky = `n=$(cat {{work}}/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > {{work}}/n; [ $n -ge 3 ]`;
  const p = project(1);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "${flaky}" }
        retries: 3
        delay: 0
`));
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 0, r.stdout);
  assert.is(readFileSync(join(p.work, 'n'), 'utf8'), '3\n');

  const q = project(1);
  const pb2 = q.write('pb.yml', play(`      - command: { cmd: "${flaky}" }
        retries: 1
        delay: 0
`));
  assert.is(cli(['run', pb2, '-i', q.inventory]).code, 2);
  assert.is(readFileSync(join(q.work, 'n'), 'utf8'), '2\n', 'one try plus one retry');
});

test('timeout: a task running too long fails with a clear message and its command is killed', () => {
  const p = project(1);
  const pb = p.write('pb.yml', play(`      - command: { cmd: "sleep 30; touch {{work}}/late" }
        timeout: 1
`));
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 2);
  assert.match(events(r.stdout).tasks[0]!.msg, /timed out after 1s/);
  assert.is(existsSync(join(p.work, 'late')), false);
});

test('secret vars never appear in output', () => {
  const p = project(1, '  db_password: !secret s3cr3t-value\n');
  const pb = p.write('pb.yml', play(`      - command: { cmd: "echo pw={{db_password}}" }
`));
  const r = cli(['run', pb, '-i', p.inventory, '-v']);
  assert.is(r.code, 0, r.stderr);
  assert.is((r.stdout + r.stderr).includes('s3cr3t-value'), false, r.stdout);
  assert.match(r.stdout, /pw=\*{8}/);
  const j = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(j.stdout.includes('s3cr3t-value'), false);
  const inv = cli(['inventory', '-i', p.inventory]);
  assert.is(inv.code, 0, inv.stderr);
  assert.is(inv.stdout.includes('s3cr3t-value'), false);
});

test.run();
