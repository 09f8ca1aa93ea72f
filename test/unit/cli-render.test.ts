// Output: the Listr tree on a (pseudo-)TTY, plain lines otherwise or under CI,
// NDJSON with --json; --help texts; `tasks ID` prints the params.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cli, cliShell, events, project, type Project } from './cli-helpers.js';

const strip = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');

function fixture(strategy = 'linear'): { p: Project; pb: string } {
  const p = project(2);
  const pb = p.write('pb.yml', `name: render
plays:
  - name: Render play
    hosts: web
    strategy: ${strategy}
    tasks:
      - name: Write greeting
        copy: { content: "hi {{host.name}}\\n", dest: "{{work}}/{{host.name}}.txt" }
      - name: Only h2
        command: { cmd: "true" }
        when: "host.name == 'h2'"
`);
  return { p, pb };
}

/** Runs the CLI under `script` so stdout is a terminal, like a user's shell. */
function tty(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('script', ['-qec', `stty cols 150 rows 60; ${cliShell(args)}`, '/dev/null'], {
    encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', TERM: 'xterm', CI: '', ...env },
  });
  return strip(r.stdout);
}

test('on a TTY the tree shows play → task → host with results (linear)', () => {
  const { p, pb } = fixture();
  const out = tty(['run', pb, '-i', p.inventory]);
  assert.match(out, /✔ PLAY \[Render play\]/);
  assert.match(out, /✔ Write greeting\n\s+✔ h1: changed — .*h1\.txt: create/);
  assert.match(out, /h1: skipped — when "host\.name == 'h2'" is false/);
  assert.match(out, /PLAY RECAP\nh1\s+: ok=1\s+changed=1\s+failed=0\s+skipped=1/);
  const taskLine = out.lastIndexOf('✔ Write greeting');
  const hostLine = out.indexOf('h1: changed', taskLine);
  assert.ok(taskLine >= 0 && hostLine > taskLine, 'host leaf under its task');
});

test('free strategy: the tree is play → host → task', () => {
  const { p, pb } = fixture('free');
  const out = tty(['run', pb, '-i', p.inventory]);
  assert.match(out, /✔ h2\n\s+✔ Write greeting: changed/);
});

test('failed tasks show in the tree with their message; exit code still 2', () => {
  const p = project(1);
  const pb = p.write('pb.yml', 'name: f\nplays:\n  - name: F\n    hosts: web\n    tasks:\n      - name: Boom\n        command: { cmd: "echo kaputt >&2; exit 3" }\n');
  const out = tty(['run', pb, '-i', p.inventory]);
  assert.match(out, /✖ h1: failed — rc=3: kaputt/);
  assert.match(out, /failed=1/);
});

test('not a TTY, or CI set: plain lines, one per task result, and a recap', () => {
  const { p, pb } = fixture();
  const r = cli(['run', pb, '-i', p.inventory]);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^\[Render play\] Write greeting \| h1: changed — /m);
  assert.match(r.stdout, /PLAY RECAP/);
  assert.is(r.stdout.includes('✔'), false);
  const ci = tty(['run', pb, '-i', p.inventory], { CI: 'true' });
  assert.match(ci, /\[Render play\] Write greeting \| h1: ok — /);
  assert.is(ci.includes('✔'), false);
});

test('NO_COLOR: no escape codes; colours otherwise on a TTY', () => {
  const { p, pb } = fixture();
  const raw = (env: NodeJS.ProcessEnv): string => spawnSync('script', ['-qec', `stty cols 150; ${cliShell(['run', pb, '-i', p.inventory])}`, '/dev/null'], {
    encoding: 'utf8', env: { ...process.env, TERM: 'xterm', CI: '', ...env },
  }).stdout;
  const colored = raw({ NO_COLOR: undefined, FORCE_COLOR: undefined });
  assert.ok(/\x1b\[3\dm/.test(colored), 'colours on a TTY');
  const plain = raw({ NO_COLOR: '1', FORCE_COLOR: undefined });
  assert.is(/\x1b\[3\dm/.test(plain), false, 'no colour with NO_COLOR');
});

test('--json: every line parses, only task and recap events with their documented fields, recap last', () => {
  const { p, pb } = fixture();
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  const lines = r.stdout.trim().split('\n');
  const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(parsed.every((e) => e.event === 'task' || e.event === 'recap'));
  const { tasks, recap } = events(r.stdout);
  assert.is(tasks.length, 4);
  for (const t of tasks) {
    for (const k of ['play', 'task', 'id', 'host', 'status', 'changed', 'msg', 'duration_ms']) assert.ok(k in t, `missing ${k}`);
    assert.type(t.duration_ms, 'number');
  }
  const copy = tasks.find((t) => t.id === 'copy')!;
  assert.ok(copy.diff, 'a changed file carries its diff');
  assert.equal(Object.keys(recap.hosts).sort(), ['h1', 'h2']);
  assert.equal(Object.keys(recap.hosts.h1!).sort(), ['changed', 'failed', 'ok', 'skipped', 'unreachable']);
});

test('--help and run --help are useful', () => {
  const top = cli(['--help']);
  assert.is(top.code, 0);
  for (const c of ['run', 'check', 'validate', 'ping', 'inventory', 'tasks', 'new-task', 'schema', 'lab']) assert.match(top.stdout, new RegExp(`\\n\\s+${c}\\b`));
  assert.match(top.stdout, /Exit codes/);
  const run = cli(['run', '--help']);
  assert.is(run.code, 0);
  for (const o of ['--check', '--diff', '--limit', '--tags', '--skip-tags', '--forks', '--extra-vars', '--json', '--accept-new-host-keys', '--verbose', '--tasks-dir', '--inventory']) {
    assert.ok(run.stdout.includes(o), `run --help lacks ${o}`);
  }
});

test('tasks lists built-ins; tasks ID prints params with type, required, default and description', () => {
  const all = cli(['tasks']);
  assert.is(all.code, 0);
  for (const id of ['command', 'copy', 'wait-for', 'render-template']) assert.match(all.stdout, new RegExp(`^${id}\\s+\\S`, 'm'));
  const one = cli(['tasks', 'command']);
  assert.is(one.code, 0);
  assert.match(one.stdout, /runs on: each target host/);
  assert.match(one.stdout, /^\s+cmd\s+string, required — /m);
  for (const k of ['creates', 'removes', 'chdir', 'env', 'changed_when']) assert.match(one.stdout, new RegExp(`^\\s+${k}\\s`, 'm'));
  const wf = cli(['tasks', 'wait-for']);
  assert.match(wf.stdout, /timeout\s+number, default 60/);
  const typo = cli(['tasks', 'comand']);
  assert.is(typo.code, 5);
  assert.match(typo.stderr, /did you mean "command"/);
});

test('inventory --graph and schema commands', () => {
  const p = project(2);
  const g = cli(['inventory', '-i', p.inventory, '--graph']);
  assert.is(g.code, 0, g.stderr);
  assert.match(g.stdout, /@all:\n\s+\|--@web:\n\s+\|\s+\|--h1\n\s+\|\s+\|--h2/);
  const s = cli(['schema', 'playbook']);
  assert.is(s.code, 0);
  const schema = JSON.parse(s.stdout) as Record<string, unknown>;
  assert.ok(JSON.stringify(schema).includes('render-template'));
  assert.is(cli(['schema', 'nonsense']).code, 5);
});

test.run();
