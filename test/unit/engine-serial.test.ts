// Batches (`serial:`), the failure rules (max_fail_percentage, any_errors_fatal, a batch whose
// every host failed), run_once, delegate_to and throttle, on `connection: local` hosts. Each
// command appends "<item> <host>" to a log file: the log is the order things really ran in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, cliShell, events, project, type Project } from './cli-helpers.js';
import { serialBatches } from '../../runner/plan/batches.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** The log lines, in order. */
  log: string[];
}

/** `item host` appended to the log, then the rest of the command line. */
const cmd = (item: string, rest = ''): string => `echo "${item} {{ host.name }}" >> {{ logfile }}${rest ? `; ${rest}` : ''}`;
const failOn = (...hosts: string[]): string => `case " ${hosts.join(' ')} " in *" {{ host.name }} "*) exit 1;; esac`;

function runIn(p: Project, playbook: string, args: string[] = []): Run {
  const file = p.write('site.yml', playbook);
  const logfile = join(p.work, 'log');
  const r = cli(['run', file, '-i', p.inventory, '-e', `logfile=${logfile}`, ...args]);
  const log = existsSync(logfile) ? readFileSync(logfile, 'utf8').split('\n').filter(Boolean) : [];
  return { ...r, log };
}

/** Consecutive log lines of the same item, hosts sorted: the order of items, whatever the order of hosts inside one. */
function segments(log: string[]): string[] {
  const out: { item: string; hosts: string[] }[] = [];
  for (const line of log) {
    const [item, host] = line.split(' ') as [string, string];
    const last = out[out.length - 1];
    if (last && last.item === item) last.hosts.push(host);
    else out.push({ item, hosts: [host] });
  }
  return out.map((s) => `${s.item}:${s.hosts.sort().join(',')}`);
}

const play = (head: string, body: string): string => `name: t\nplays:\n  - name: P\n    hosts: web\n${head}${body}`;

test('serial: 2 runs every task and the notified handlers of a batch before the next batch starts', () => {
  const p = project(5);
  const r = runIn(p, play('    serial: 2\n', `    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
        notify: h
      - name: b
        command: { cmd: '${cmd('b')}' }
    handlers:
      - name: h
        command: { cmd: '${cmd('h')}' }
`), ['--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(segments(r.log), ['a:h1,h2', 'b:h1,h2', 'h:h1,h2', 'a:h3,h4', 'b:h3,h4', 'h:h3,h4', 'a:h5', 'b:h5', 'h:h5']);
  const { tasks, recap } = events(r.stdout);
  const batchOf = (host: string) => new Set(tasks.filter((t) => t.host === host).map((t) => `${(t as any).batch_index}/${(t as any).batch_count}`));
  assert.equal([...batchOf('h1')], ['0/3']);
  assert.equal([...batchOf('h4')], ['1/3']);
  assert.equal([...batchOf('h5')], ['2/3']);
  assert.equal(recap.hosts.h5, { ok: 3, changed: 3, failed: 0, skipped: 0, unreachable: 0 });
});

test('serial as a percentage and as a list (the last size repeats); the plain log repeats the PLAY header per batch', () => {
  const p = project(6);
  const tasks = `    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
`;
  // 50% of 6 hosts is 3; "34%" of 6 is 2.04 → 2 (rounded down, as Ansible's pct_to_int).
  const pct = runIn(p, play('    serial: "34%"\n', tasks));
  assert.is(pct.code, 0, pct.stderr);
  assert.equal(segments(pct.log), ['a:h1,h2', 'b:h1,h2', 'a:h3,h4', 'b:h3,h4', 'a:h5,h6', 'b:h5,h6']);
  assert.match(pct.stdout, /PLAY \[P\] hosts: h1, h2 \(batch 1\/3\)\n[^]*PLAY \[P\] hosts: h3, h4 \(batch 2\/3\)\n[^]*PLAY \[P\] hosts: h5, h6 \(batch 3\/3\)/);
  const list = project(6);
  const r = runIn(list, play('    serial: [1, "50%"]\n', tasks));
  assert.is(r.code, 0, r.stderr);
  assert.equal(segments(r.log), ['a:h1', 'b:h1', 'a:h2,h3,h4', 'b:h2,h3,h4', 'a:h5,h6', 'b:h5,h6']);
  const lastRepeats = runIn(project(5), play('    serial: [1, 2]\n', tasks));
  assert.equal(segments(lastRepeats.log), ['a:h1', 'b:h1', 'a:h2,h3', 'b:h2,h3', 'a:h4,h5', 'b:h4,h5']);
});

test('a batch whose every host failed stops the run: no later batch, no later play; exit 2', () => {
  const p = project(4);
  const r = runIn(p, `name: t
plays:
  - name: P
    hosts: web
    serial: 2
    tasks:
      - name: a
        command: { cmd: '${cmd('a', failOn('h1', 'h2'))}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
  - name: Q
    hosts: web
    tasks:
      - name: q
        command: { cmd: '${cmd('q')}' }
`, ['--json']);
  assert.is(r.code, 2);
  assert.equal(segments(r.log), ['a:h1,h2']);
  const { recap } = events(r.stdout);
  assert.equal(Object.keys(recap.hosts).sort(), ['h1', 'h2'], 'hosts of batches that never started are not in the recap (as in Ansible)');
  // One host of a batch failing leaves the rest of the run going.
  const some = runIn(project(4), play('    serial: 2\n', `    tasks:
      - name: a
        command: { cmd: '${cmd('a', failOn('h1'))}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
`));
  assert.is(some.code, 2);
  assert.equal(segments(some.log), ['a:h1,h2', 'b:h2', 'a:h3,h4', 'b:h3,h4']);
});

test('without serial too, a play whose every host failed ends the run (later plays do not start)', () => {
  const p = project(3, '  db: { hosts: [h3] }');
  const r = runIn(p, `name: t
plays:
  - name: P
    hosts: [h1, h2]
    tasks:
      - name: a
        command: { cmd: '${cmd('a', 'false')}' }
  - name: Q
    hosts: h3
    tasks:
      - name: q
        command: { cmd: '${cmd('q')}' }
`);
  assert.is(r.code, 2);
  assert.equal(segments(r.log), ['a:h1,h2']);
  assert.match(r.stdout, /NO MORE HOSTS LEFT — every host of the play failed/);
});

test('max_fail_percentage: more than that share of a batch failing stops the run; up to it, the rest go on', () => {
  const tasks = `    tasks:
      - name: a
        command: { cmd: '${cmd('a', failOn('h1'))}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
`;
  // 1 of 3 failed = 33%: above 30, so h2 and h3 stop too and the second batch never starts.
  const over = runIn(project(6), play('    serial: 3\n    max_fail_percentage: 30\n', tasks), ['--json']);
  assert.is(over.code, 2);
  assert.equal(segments(over.log), ['a:h1,h2,h3']);
  const rc = events(over.stdout).recap.hosts;
  assert.equal(rc.h2, { ok: 1, changed: 1, failed: 0, skipped: 0, unreachable: 0 }, 'stopped hosts are not counted as failed');
  assert.is(rc.h1!.failed, 1);
  // 33% is not above 50: h1 is out, everyone else carries on.
  const under = runIn(project(6), play('    serial: 3\n    max_fail_percentage: 50\n', tasks));
  assert.is(under.code, 2);
  assert.equal(segments(under.log), ['a:h1,h2,h3', 'b:h2,h3', 'a:h4,h5,h6', 'b:h4,h5,h6']);
});

test('any_errors_fatal: one host failing ends the play for every host; on an item it applies to that item', () => {
  const tasks = (fatalItem: boolean) => `    tasks:
      - name: a
        command: { cmd: '${cmd('a', failOn('h2'))}' }
${fatalItem ? '        any_errors_fatal: true\n' : ''}      - name: b
        command: { cmd: '${cmd('b')}' }
`;
  const r = runIn(project(3), play('    any_errors_fatal: true\n', tasks(false)), ['--json']);
  assert.is(r.code, 2);
  assert.equal(segments(r.log), ['a:h1,h2,h3']);
  assert.match(r.stdout, /"host":"h2"/);
  const rc = events(r.stdout).recap.hosts;
  assert.equal([rc.h1!.failed, rc.h2!.failed, rc.h3!.failed], [0, 1, 0]);
  const item = runIn(project(3), play('', tasks(true)));
  assert.equal(segments(item.log), ['a:h1,h2,h3']);
  const none = runIn(project(3), play('', tasks(false)));
  assert.equal(segments(none.log), ['a:h1,h2,h3', 'b:h1,h3']);
});

test('run_once: runs on the first host of each batch; its registered result is every host\'s; one result shown', () => {
  const p = project(3);
  const r = runIn(p, play('    serial: 2\n', `    tasks:
      - name: once
        command: { cmd: 'echo "once {{ host.name }}" >> {{ logfile }}; echo "from-{{ host.name }}"' }
        run_once: true
        register: r
      - name: use
        command: { cmd: 'echo "{{ r.stdout }} {{ host.name }}" >> {{ logfile }}' }
`), ['--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal([r.log[0], ...r.log.slice(1, 3).sort(), ...r.log.slice(3)], ['once h1', 'from-h1 h1', 'from-h1 h2', 'once h3', 'from-h3 h3']);
  const { tasks, recap } = events(r.stdout);
  const once = tasks.filter((t) => t.task === 'once');
  assert.equal(once.map((t) => t.host), ['h1', 'h3'], 'one result per batch');
  assert.ok(once.every((t) => (t as any).run_once === true));
  // As in Ansible's recap: only the host that ran it counts it.
  assert.equal([recap.hosts.h1!.changed, recap.hosts.h2!.changed, recap.hosts.h3!.changed], [2, 1, 2]);
});

test('run_once that fails stops the batch for every host (Ansible treats it as fatal); ignore_errors lets it go on', () => {
  const body = (ignore: boolean) => `    tasks:
      - name: once
        command: { cmd: '${cmd('once', 'false')}' }
        run_once: true
${ignore ? '        ignore_errors: true\n' : ''}      - name: b
        command: { cmd: '${cmd('b')}' }
`;
  const r = runIn(project(3), play('', body(false)));
  assert.is(r.code, 2);
  assert.equal(segments(r.log), ['once:h1']);
  const ok = runIn(project(3), play('', body(true)));
  assert.is(ok.code, 0, ok.stdout);
  assert.equal(segments(ok.log), ['once:h1', 'b:h1,h2,h3']);
});

test('delegate_to: localhost runs with the current host\'s vars and registers for it; another host\'s connection is used', () => {
  const p = project(2);
  // An inventory host reached over SSH on a closed port: delegating to it must try its connection.
  const inv = p.write('inventory.yml', `hosts:
  h1: { connection: local, vars: { colour: red } }
  h2: { connection: local, vars: { colour: blue } }
  far: { address: 127.0.0.1, port: 1 }
groups:
  web: { hosts: [h1, h2] }
defaults: { connect_timeout: 5 }
`);
  const pb = p.write('site.yml', play('', `    tasks:
      - name: here
        command: { cmd: 'echo "{{ colour }}"' }
        delegate_to: localhost
        register: out
      - name: use
        command: { cmd: 'echo "{{ out.stdout }} {{ host.name }}" >> {{ logfile }}' }
      - name: there
        command: { cmd: "true" }
        delegate_to: far
`));
  const logfile = join(p.work, 'log');
  const r = cli(['run', pb, '-i', inv, '-e', `logfile=${logfile}`]);
  assert.is(r.code, 4, r.stdout + r.stderr);
  assert.equal(readFileSync(logfile, 'utf8').split('\n').filter(Boolean).sort(), ['blue h2', 'red h1']);
  assert.match(r.stdout, /\[P\] here \| h1 -> localhost: changed/);
  assert.match(r.stdout, /\[P\] there \| h1 -> far: unreachable/);
  assert.match(r.stdout, /h1 +: ok=2 +changed=2 +failed=0 +skipped=0 +unreachable=1/);
  assert.not.match(r.stdout, /^far /m, 'the delegate is not a host of the recap');
});

test('throttle: 1 runs one host at a time, on a task and on a handler; other items stay parallel up to --forks', () => {
  const p = project(3);
  const stamp = (what: string) => `echo "start-${what} {{ host.name }}" >> {{ logfile }}; sleep 0.3; echo "end-${what} {{ host.name }}" >> {{ logfile }}`;
  const r = runIn(p, play('', `    tasks:
      - name: t
        command: { cmd: '${stamp('t')}' }
        throttle: 1
        notify: h
    handlers:
      - name: h
        command: { cmd: '${stamp('h')}' }
        throttle: 1
`));
  assert.is(r.code, 0, r.stderr);
  for (const what of ['t', 'h']) {
    const mine = r.log.filter((l) => l.includes(`-${what} `));
    assert.is(mine.length, 6);
    // Strictly start, end, start, end...: no two hosts inside at once.
    for (let i = 0; i < mine.length; i += 2) {
      const host = mine[i]!.split(' ')[1];
      assert.is(mine[i], `start-${what} ${host}`);
      assert.is(mine[i + 1], `end-${what} ${host}`);
    }
  }
});

test('bad serial, throttle or delegate_to, and run_once under strategy free, are exit 5 with positions; nothing runs', () => {
  const p = project(2);
  const r = runIn(p, `name: t
plays:
  - name: P
    hosts: web
    serial: "half"
    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
        delegate_to: h9
      - name: b
        command: { cmd: '${cmd('b')}' }
        throttle: -1
      - name: c
        verify-dns: {}
        delegate_to: h1
  - name: F
    hosts: web
    strategy: free
    max_fail_percentage: 10
    tasks:
      - name: d
        command: { cmd: '${cmd('d')}' }
        run_once: true
`);
  assert.is(r.code, 5, r.stdout);
  assert.equal(r.log, []);
  assert.match(r.stderr, /site\.yml:5:5 plays\.0\.serial must be a host count, a percentage like "30%", a template of one, or a list of them/);
  assert.match(r.stderr, /site\.yml:9:22 command\.delegate_to no host "h9" in the inventory \(did you mean "h1"\?\)/);
  assert.match(r.stderr, /site\.yml:12:9 plays\.0\.tasks\.1\.throttle must be >= 0/);
  assert.match(r.stderr, /site\.yml:15:22 verify-dns\.delegate_to verify-dns runs on the controller, so it can only be delegated to localhost/);
  assert.match(r.stderr, /site\.yml:19:5 max_fail_percentage needs strategy: linear/);
  assert.match(r.stderr, /site\.yml:23:9 command\.run_once needs strategy: linear/);
  // A templated delegate_to is checked per host where it renders before the run.
  const t = runIn(p, play('', `    vars: { target: nowhere }
    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
        delegate_to: "{{ target }}"
      - name: b
        command: { cmd: '${cmd('b')}' }
        delegate_to: "{{ missing_var }}"
`));
  assert.is(t.code, 5);
  assert.match(t.stderr, /site\.yml:9:22 command\.delegate_to "\{\{ target \}\}" is "nowhere" for host h1: no such host in the inventory/);
  assert.match(t.stderr, /site\.yml:12:22 command\.delegate_to missing variable "missing_var"/);
});

test('a templated serial renders with the play\'s vars and -e (a count, a percentage, items of a list) before the batches are cut', () => {
  const tasks = `    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
`;
  const fromPlay = runIn(project(5), play('    serial: "{{ batch }}"\n    vars: { batch: 2 }\n', tasks));
  assert.is(fromPlay.code, 0, fromPlay.stderr);
  assert.equal(segments(fromPlay.log), ['a:h1,h2', 'b:h1,h2', 'a:h3,h4', 'b:h3,h4', 'a:h5', 'b:h5']);
  // -e outranks the play's vars; a string from -e is a count too, as in Ansible.
  const fromExtra = runIn(project(5), play('    serial: "{{ batch }}"\n    vars: { batch: 2 }\n', tasks), ['-e', 'batch=3']);
  assert.is(fromExtra.code, 0, fromExtra.stderr);
  assert.equal(segments(fromExtra.log), ['a:h1,h2,h3', 'b:h1,h2,h3', 'a:h4,h5', 'b:h4,h5']);
  const list = runIn(project(5), play('    serial: ["{{ first }}", "{{ rest }}"]\n    vars: { first: 1, rest: "50%", }\n', tasks));
  assert.is(list.code, 0, list.stderr);
  assert.equal(segments(list.log), ['a:h1', 'b:h1', 'a:h2,h3', 'b:h2,h3', 'a:h4,h5', 'b:h4,h5']);
  // A var defined by another var renders first, as vars of vars do everywhere.
  const nested = runIn(project(5), play('    serial: "{{ batch }}"\n    vars: { batch: "{{ half }}", half: "40%" }\n', tasks));
  assert.is(nested.code, 0, nested.stderr);
  assert.equal(segments(nested.log), ['a:h1,h2', 'b:h1,h2', 'a:h3,h4', 'b:h3,h4', 'a:h5', 'b:h5']);
});

test('a templated serial that renders to no size, or names a missing var, is exit 5 at serial; nothing runs', () => {
  const tasks = `    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
`;
  const bad = runIn(project(2), play('    serial: "{{ batch }}"\n    vars: { batch: half }\n', tasks));
  assert.is(bad.code, 5, bad.stdout);
  assert.equal(bad.log, []);
  assert.match(bad.stderr, /site\.yml:5:5 serial "\{\{ batch \}\}" renders to "half": must be a host count or a percentage like "30%"/);
  // Host vars are not in serial's scope (a batch is cut before any host is picked).
  const missing = runIn(project(2), play('    serial: "{{ nowhere }}"\n', tasks));
  assert.is(missing.code, 5, missing.stdout);
  assert.equal(missing.log, []);
  assert.match(missing.stderr, /site\.yml:5:5 serial missing variable "nowhere"/);
});

test('serial with strategy free: hosts of a batch run freely, batches still one after another', () => {
  const r = runIn(project(4), play('    strategy: free\n    serial: 2\n', `    tasks:
      - name: a
        command: { cmd: '${cmd('a')}' }
      - name: b
        command: { cmd: '${cmd('b')}' }
`));
  assert.is(r.code, 0, r.stderr);
  const first = r.log.slice(0, 4).map((l) => l.split(' ')[1]).sort();
  assert.equal(first, ['h1', 'h1', 'h2', 'h2']);
  assert.equal(r.log.slice(4).map((l) => l.split(' ')[1]).sort(), ['h3', 'h3', 'h4', 'h4']);
});

test('batch sizes as Ansible cuts them: percentages of all hosts rounded down (at least 1), 0 takes the rest, the last size repeats', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  assert.equal(serialBatches(hosts, undefined), [hosts]);
  assert.equal(serialBatches(hosts, [3]), [['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
  assert.equal(serialBatches(hosts, ['10%']), hosts.map((h) => [h]), '10% of 7 is 0.7: one host');
  assert.equal(serialBatches(hosts, ['50%']), [['a', 'b', 'c'], ['d', 'e', 'f'], ['g']]);
  assert.equal(serialBatches(hosts, [1, '50%', 0]), [['a'], ['b', 'c', 'd'], ['e', 'f', 'g']]);
  assert.equal(serialBatches(hosts, [0]), [hosts]);
  assert.equal(serialBatches(hosts, [20]), [hosts]);
  assert.equal(serialBatches([], [1]), []);
});

test('the tree shows a PLAY node per batch, a delegated host as host -> delegate, run_once once, and why the run stopped', () => {
  const p = project(3);
  const pb = p.write('site.yml', play('    serial: 2\n', `    tasks:
      - name: once
        command: { cmd: "true" }
        run_once: true
      - name: del
        command: { cmd: "true" }
        delegate_to: localhost
      - name: boom
        command: { cmd: 'exit 1' }
`));
  const r = spawnSync('script', ['-qec', `stty cols 150 rows 60; ${cliShell(['run', pb, '-i', p.inventory])}`, '/dev/null'], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', CI: '' },
  });
  // eslint-disable-next-line no-control-regex
  const out = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n');
  assert.match(out, /PLAY \[P\] batch 1\/2/);
  assert.match(out, /✔ h1: changed/);
  assert.match(out, /h2: run once on h1 \(changed\)/);
  assert.match(out, /✔ h2 -> localhost: changed/);
  assert.match(out, /\[P\] NO MORE HOSTS LEFT — every host of the batch failed: the run stops/);
  assert.not.match(out, /batch 2\/2/, 'the second batch never started');
});

test.run();
