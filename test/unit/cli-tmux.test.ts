// The live tree in a real terminal (tmux): plays and tasks are told apart by their position, not
// their display name, so unnamed plays on the same host (all called after that host) and unnamed
// tasks (all called after their task id) each show their own results.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { cli, cliShell, events, project } from './cli-helpers.js';

const PLAYBOOK = `name: twins
plays:
  - hosts: h1
    tasks:
      - command: { cmd: "echo alpha-one" }
      - command: { cmd: "echo alpha-two" }
  - hosts: h1
    tasks:
      - command: { cmd: "echo beta-one" }
      - command: { cmd: "echo beta-two" }
  - hosts: h1
    strategy: free
    tasks:
      - command: { cmd: "echo gamma-one" }
`;

/** Runs the CLI in a detached tmux session (its own server socket) and returns the screen once
 * the command has exited: the shell signals a tmux channel that we wait on. */
function onTerminal(args: string[]): string {
  const sock = `rp-tmux-test-${process.pid}`;
  const tmux = (...a: string[]) => spawnSync('tmux', ['-L', sock, '-f', '/dev/null', ...a], { encoding: 'utf8' });
  const env = 'env -u CI -u RANCHER_PLAY_RENDERER -u FORCE_COLOR NO_COLOR=1 TERM=xterm';
  const shell = `${env} ${cliShell(args)}; tmux -L ${sock} wait-for -S done; sleep 3600`;
  try {
    const started = tmux('new-session', '-d', '-s', 'rp', '-x', '160', '-y', '50', shell);
    assert.is(started.status, 0, started.stderr);
    tmux('wait-for', 'done');
    return tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'rp').stdout;
  } finally {
    tmux('kill-server');
  }
}

/** The screen cut at each `PLAY [...]` line. */
function sections(screen: string): string[] {
  return screen.split(/^(?=\S+ PLAY \[)/m).filter((s) => s.includes('PLAY ['));
}

test('two unnamed plays on one host: each play shows its own task output', () => {
  const p = project(1);
  const pb = p.write('pb.yml', PLAYBOOK);
  const screen = onTerminal(['run', pb, '-i', p.inventory]);
  const plays = sections(screen);
  assert.is(plays.length, 3, screen);
  for (const s of plays) assert.match(s, /PLAY \[h1\]/);
  const [a, b, c] = plays as [string, string, string];
  assert.match(a, /h1: changed — rc=0: alpha-one[\s\S]*h1: changed — rc=0: alpha-two/);
  assert.match(b, /h1: changed — rc=0: beta-one[\s\S]*h1: changed — rc=0: beta-two/);
  assert.match(c, /command: changed — rc=0: gamma-one/);
  assert.not.match(a, /beta|gamma/);
  assert.not.match(b, /alpha|gamma/);
  assert.not.match(c, /alpha|beta/);
  assert.match(screen, /PLAY RECAP\nh1\s+: ok=5\s+changed=5\s+failed=0/);
});

test('--json events carry play_index and task_index beside the names', () => {
  const p = project(1);
  const pb = p.write('pb.yml', PLAYBOOK);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr);
  const ids = events(r.stdout).tasks.map((t) => {
    const e = t as unknown as { play: string; task: string; play_index: number; task_index: number; msg: string };
    return `${e.play}/${e.play_index}/${e.task}/${e.task_index}/${e.msg.replace(/^rc=0: /, '')}`;
  });
  assert.equal(ids, [
    'h1/0/command/0/alpha-one', 'h1/0/command/1/alpha-two',
    'h1/1/command/0/beta-one', 'h1/1/command/1/beta-two',
    'h1/2/command/0/gamma-one',
  ]);
});

test('--tags: task_index stays the position in the play, and the tree still finds its leaves', () => {
  const p = project(1);
  const pb = p.write('pb.yml', `name: tagged
plays:
  - hosts: h1
    tasks:
      - command: { cmd: "echo untagged" }
      - command: { cmd: "echo tagged-one" }
        tags: [t]
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json', '--tags', 't']);
  const t = events(r.stdout).tasks as unknown as { task_index: number; msg: string }[];
  assert.equal(t.map((e) => `${e.task_index} ${e.msg}`), ['1 rc=0: tagged-one']);
  const screen = onTerminal(['run', pb, '-i', p.inventory, '--tags', 't']);
  assert.match(screen, /h1: changed — rc=0: tagged-one/);
  assert.not.match(screen, /untagged|not run/);
});

test.run();
