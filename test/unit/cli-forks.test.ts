// Hosts run in parallel up to --forks. Asserted on event ordering (start/end
// timestamps of the same task across hosts), never on how long the run took.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cli, events, project, type JsonTaskEvent } from './cli-helpers.js';

function overlaps(ev: JsonTaskEvent[]): boolean {
  return ev.some((a) => ev.some((b) => a !== b && a.start_ms < b.end_ms && b.start_ms < a.end_ms));
}

for (const strategy of ['linear', 'free']) {
  test(`${strategy}: --forks 8 overlaps the 8 hosts' sleeps, --forks 1 runs them one at a time`, () => {
    const p = project(8);
    const pb = p.write('pb.yml', `name: forks
plays:
  - name: sleepy
    hosts: web
    strategy: ${strategy}
    tasks:
      - command: { cmd: "sleep 0.3", changed_when: false }
`);
    const wide = cli(['run', pb, '-i', p.inventory, '--json', '--forks', '8']);
    assert.is(wide.code, 0, wide.stderr);
    const w = events(wide.stdout).tasks;
    assert.is(w.length, 8);
    assert.ok(overlaps(w), 'with 8 forks some host starts before another finishes');
    // With 8 forks every host starts before the first one ends.
    const firstEnd = Math.min(...w.map((e) => e.end_ms));
    assert.ok(w.every((e) => e.start_ms <= firstEnd), JSON.stringify(w.map((e) => [e.start_ms, e.end_ms])));

    const narrow = cli(['run', pb, '-i', p.inventory, '--json', '--forks', '1']);
    assert.is(narrow.code, 0, narrow.stderr);
    const n = events(narrow.stdout).tasks;
    assert.is(n.length, 8);
    assert.is(overlaps(n), false, 'with 1 fork no two hosts run at the same time');
  });
}

test('linear: every host finishes task 1 before any host starts task 2; free: hosts do not wait', () => {
  const p = project(3);
  const tasks = `      - command: { cmd: "sleep {{delay}}", changed_when: false }
      - command: { cmd: "true", changed_when: false }
`;
  const inv = p.write('inv2.yml', `hosts:
  h1: { connection: local, vars: { delay: 0.6 } }
  h2: { connection: local, vars: { delay: 0.01 } }
  h3: { connection: local, vars: { delay: 0.01 } }
groups: { web: { hosts: [h1, h2, h3] } }
`);
  const linear = p.write('linear.yml', `name: l\nplays:\n  - name: l\n    hosts: web\n    tasks:\n${tasks}`);
  const free = p.write('free.yml', `name: f\nplays:\n  - name: f\n    hosts: web\n    strategy: free\n    tasks:\n${tasks}`);
  const l = events(cli(['run', linear, '-i', inv, '--json']).stdout).tasks;
  const slowEnd = l.find((e) => e.host === 'h1' && e.task === 'command' && l.indexOf(e) < 3)!.end_ms;
  const second = l.slice(3);
  assert.is(second.length, 3);
  assert.ok(second.every((e) => e.start_ms >= slowEnd), 'linear waits for the slow host');
  const f = events(cli(['run', free, '-i', inv, '--json']).stdout).tasks;
  const fSlowEnd = f.find((e) => e.host === 'h1')!.end_ms;
  const h2second = f.filter((e) => e.host === 'h2')[1]!;
  assert.ok(h2second.end_ms <= fSlowEnd, 'free: h2 finished its list while h1 still slept');
});

test.run();
