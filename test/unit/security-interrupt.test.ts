// Ctrl-C: the first SIGINT stops new tasks from starting, lets the running ones
// finish, closes the connections, prints the recap and exits 130; a second SIGINT exits at once.
// Against a real sshd on loopback (two hosts), watching the files the tasks leave behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliAsync, project } from './cli-helpers.js';
import { keygen, knownHostsFor, scratch, startSshd, type Sshd } from './ssh-helpers.js';

const dir = scratch();
const work = join(dir, 'work');
let sshd: Sshd;
let inv = '';

function started(args: string[]) {
  const child = cliAsync(args);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig === 'SIGINT' ? -2 : sig === 'SIGTERM' ? -15 : -1))));
  return { child, out: () => out, err: () => err, done };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Established TCP connections to the test sshd (sessions the CLI holds). */
function sessions(): number {
  const out = execFileSync('ss', ['-Htn', 'state', 'established', `( dport = :${sshd.port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).length;
}

const playbook = (slow: string) => `name: interrupt
plays:
  - name: p
    hosts: all
    tasks:
      - name: slow
        command: { cmd: "touch {{work}}/{{host.name}}.started; ${slow} && touch {{work}}/{{host.name}}.slow-done" }
      - name: next file
        copy: { content: "next\\n", dest: "{{work}}/{{host.name}}.next" }
      - name: last
        command: { cmd: "touch {{work}}/{{host.name}}.last" }
`;

test.before(async () => {
  const key = join(dir, 'id');
  const pub = keygen(key);
  sshd = await startSshd([{ path: key, pub }]);
  writeFileSync(join(dir, 'known_hosts'), knownHostsFor(sshd));
  inv = join(dir, 'inventory.yml');
  writeFileSync(inv, `defaults: { user: root, ssh_key_path: ${key}, known_hosts: ${join(dir, 'known_hosts')}, port: ${sshd.port} }
hosts:
  a: { address: 127.0.0.1 }
  b: { address: 127.0.0.1 }
vars: { work: ${work} }
`);
});

test.after(async () => { await sshd?.stop(); });

function fresh(): void {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
}

test('first SIGINT: running tasks finish, no new task starts, connections close, recap printed, exit 130', async () => {
  fresh();
  const pb = join(dir, 'pb-slow.yml');
  writeFileSync(pb, playbook('sleep 2'));
  const run = started(['run', pb, '-i', inv]);
  await until(() => existsSync(join(work, 'a.started')) && existsSync(join(work, 'b.started')), 'the slow task on both hosts');
  assert.ok(sessions() >= 1, 'the run holds SSH sessions while it works');
  run.child.kill('SIGINT');
  const code = await run.done;
  assert.is(code, 130, run.err() + run.out());
  assert.match(run.err(), /interrupted: no new tasks will start/);
  for (const h of ['a', 'b']) {
    assert.ok(existsSync(join(work, `${h}.slow-done`)), `${h}: the running task was allowed to finish`);
    assert.is(existsSync(join(work, `${h}.next`)), false, `${h}: no task started after the interrupt`);
    assert.is(existsSync(join(work, `${h}.last`)), false);
  }
  assert.match(run.out(), /PLAY RECAP/);
  assert.match(run.out(), /^a\s+: ok=1 /m);
  assert.equal(readdirSync(work).filter((f) => f.includes('.rp-')), [], 'no temp files left');
  assert.is(sessions(), 0, 'every connection closed');
});

test('--json: the recap is still the last line after an interrupt', async () => {
  fresh();
  const pb = join(dir, 'pb-slow.yml');
  const run = started(['run', pb, '-i', inv, '--json']);
  await until(() => existsSync(join(work, 'a.started')), 'the slow task');
  run.child.kill('SIGINT');
  assert.is(await run.done, 130, run.err());
  const lines = run.out().trim().split('\n').map((l) => JSON.parse(l) as { event: string; hosts?: Record<string, { ok: number }> });
  const last = lines[lines.length - 1]!;
  assert.is(last.event, 'recap');
  assert.is(lines.filter((l) => l.event === 'task').length, 2, 'one event per host for the slow task, nothing after');
});

test('a second SIGINT exits at once, without waiting for the running task', async () => {
  fresh();
  const pb = join(dir, 'pb-long.yml');
  writeFileSync(pb, playbook('sleep 30'));
  const run = started(['run', pb, '-i', inv]);
  await until(() => existsSync(join(work, 'a.started')) && existsSync(join(work, 'b.started')), 'the long task');
  run.child.kill('SIGINT');
  await until(() => run.err().includes('interrupted'), 'the first interrupt to be acknowledged');
  run.child.kill('SIGINT');
  assert.is(await run.done, 130);
  // It did not wait: the 30-second command is still short of its end.
  assert.is(existsSync(join(work, 'a.slow-done')), false);
  assert.is(existsSync(join(work, 'a.next')), false);
});

// ---- on the controller itself (connection: local): a big copy, and commands a task started

const BIG = 768 << 20;

function localCopy() {
  const p = project(1);
  const src = join(p.dir, 'big.bin');
  execFileSync('truncate', ['-s', String(BIG), src]); // sparse: quick to make, real bytes to copy
  const pb = p.write('pb.yml', `name: big
plays:
  - name: p
    hosts: web
    tasks:
      - copy: { src: big.bin, dest: "{{work}}/big.bin" }
      - command: { cmd: "touch {{work}}/after" }
`);
  const temps = (): string[] => readdirSync(p.work).filter((f) => f.includes('.rp-'));
  return { p, pb, temps };
}

test('SIGTERM mid-copy: the copy finishes, nothing after it starts, the recap is printed, exit 143, no temp file', async () => {
  const { p, pb, temps } = localCopy();
  const run = started(['run', pb, '-i', p.inventory]);
  await until(() => temps().length > 0, 'the copy to be under way');
  run.child.kill('SIGTERM');
  assert.is(await run.done, 143, run.err() + run.out());
  assert.match(run.err(), /interrupted \(SIGTERM\)/);
  assert.match(run.out(), /PLAY RECAP/);
  assert.equal(temps(), [], 'no temp file beside the destination');
  assert.is(statSync(join(p.work, 'big.bin')).size, BIG, 'the running copy was allowed to finish');
  assert.is(existsSync(join(p.work, 'after')), false, 'no task started after SIGTERM');
});

test('two Ctrl-C during a big local copy: exit 130 at once, no temp file left, no partial destination', async () => {
  const { p, pb, temps } = localCopy();
  const run = started(['run', pb, '-i', p.inventory]);
  await until(() => temps().length > 0, 'the copy to be under way');
  run.child.kill('SIGINT');
  await until(() => run.err().includes('interrupted'), 'the first interrupt to be acknowledged');
  run.child.kill('SIGINT');
  assert.is(await run.done, 130, run.err());
  assert.equal(temps(), [], 'no temp file beside the destination');
  const dest = join(p.work, 'big.bin');
  assert.ok(!existsSync(dest) || statSync(dest).size === BIG, 'the destination is absent or complete');
});

/** A process that is gone (or a zombie waiting to be reaped). */
function dead(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

test('commands a task started on the controller are ended when the CLI exits on a second Ctrl-C', async () => {
  const p = project(1);
  const pb = p.write('pb.yml', `name: child
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "sleep 300 & echo $! > {{work}}/bg.pid; echo $$ > {{work}}/sh.pid; wait" }
`);
  const run = started(['run', pb, '-i', p.inventory]);
  const pidFile = join(p.work, 'bg.pid');
  await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n') && existsSync(join(p.work, 'sh.pid')), 'the command to start');
  const pids = ['bg.pid', 'sh.pid'].map((f) => Number(readFileSync(join(p.work, f), 'utf8')));
  assert.ok(pids.every((pid) => !dead(pid)), 'running while the task runs');
  run.child.kill('SIGINT');
  await until(() => run.err().includes('interrupted'), 'the first interrupt to be acknowledged');
  run.child.kill('SIGINT');
  assert.is(await run.done, 130);
  await until(() => pids.every(dead), 'the started commands to end');
});

test.run();
