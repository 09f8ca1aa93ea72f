// Differential test: the same plays run by ansible-playbook (live, at test time) and by
// rancher-play, on inventory hosts that all run locally (ansible_connection=local /
// connection: local; nothing connects anywhere). Ansible's `shell` ↔ our `command`. Compared:
// the batches each tool shows (a PLAY header per batch), in each batch the items in order and
// which host ran each with which status (and `-> delegate`), the order the commands really ran
// in (each appends "<item> <host>" to a log), the recap per host, and the exit code. Each play
// has hosts of its own (group g<play index>), so plays that do not stop the run share a playbook. Covers
// serial (count, percentage, list, templates of them), max_fail_percentage, any_errors_fatal, a batch whose every
// host failed, run_once (+ register), delegate_to localhost and throttle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../../unit/cli-helpers.js';

interface Item {
  name: string;
  /** Shell line: `@H` is the current host's name, `@LOG` the log file. */
  sh: string;
  run_once?: boolean;
  register?: string;
  delegate_to?: string;
  throttle?: number;
  notify?: string;
  any_errors_fatal?: boolean;
}
interface PlaySpec {
  name: string;
  /** A number: this many hosts of the play's own group; a string: an earlier play's group (`g0`, `g1`…). */
  hosts: number | string;
  serial?: number | string | (number | string)[];
  vars?: Record<string, unknown>;
  max_fail_percentage?: number;
  any_errors_fatal?: boolean;
  tasks: Item[];
  handlers?: Item[];
}
interface Case {
  name: string;
  plays: PlaySpec[];
  /** Instead of the order of the log: per stamped item, the most hosts that may be inside it at once.
   * (How many actually overlap depends on timing: Ansible forks a worker per host.) */
  throttled?: Record<string, number>;
}

const log = (item: string, rest = ''): string => `echo "${item} @H" >> @LOG${rest ? `; ${rest}` : ''}`;
const failOn = (...hosts: string[]): string => `case " ${hosts.join(' ')} " in *" @H "*) exit 1;; esac`;
/** Two items (the first notifies a handler) on `hosts`; the first fails on `fail` (host numbers of the play's group). */
const two = (name: string, hosts: number, extra: Partial<PlaySpec> = {}, fail: number[] = []): PlaySpec => ({
  name, hosts, ...extra,
  tasks: [
    { name: `${name}-a`, sh: log(`${name}-a`, fail.length ? failOn(...fail.map((n) => `${name}h${n}`)) : ''), notify: `${name}-h` },
    { name: `${name}-b`, sh: log(`${name}-b`) },
  ],
  handlers: [{ name: `${name}-h`, sh: log(`${name}-h`) }],
});
const stamp = (what: string): string => `echo "start-${what} @H" >> @LOG; sleep 0.3; echo "end-${what} @H" >> @LOG`;
const later = (group: string): PlaySpec => ({ name: 'later', hosts: group, tasks: [{ name: 'later-q', sh: log('later-q') }] });

// Plays that do not stop the run share one playbook (one ansible-playbook run); each way of
// stopping it is a playbook of its own.
const cases: Case[] = [
  {
    name: 'serial (2, "40%", [1, 2, "50%"]), a failed host of a batch, max_fail_percentage not exceeded, run_once + register, delegate_to localhost',
    plays: [
      two('s2', 5, { serial: 2 }),
      two('pct', 5, { serial: '40%' }),
      two('list', 6, { serial: [1, 2, '50%'] }),
      two('tpl', 5, { serial: ['{{ first }}', '{{ rest }}'], vars: { first: 1, rest: '50%' } }),
      two('onefail', 4, { serial: 2 }, [3]),
      two('under', 6, { serial: 3, max_fail_percentage: 50 }, [2]),
      {
        name: 'once', hosts: 5, serial: 2,
        tasks: [
          { name: 'once-run', sh: `${log('once-run')}; echo from-@H`, run_once: true, register: 'r' },
          { name: 'once-use', sh: 'echo "once-use {{ r.stdout }} @H" >> @LOG' },
        ],
      },
      {
        name: 'deleg', hosts: 3,
        tasks: [
          { name: 'deleg-here', sh: 'echo "v-@H"', delegate_to: 'localhost', register: 'out' },
          { name: 'deleg-use', sh: 'echo "deleg-use {{ out.stdout }} @H" >> @LOG' },
        ],
      },
    ],
  },
  { name: 'a batch whose every host failed stops the later batches and plays', plays: [two('all', 4, { serial: 2 }, [1, 2]), later('g0')] },
  { name: 'max_fail_percentage exceeded (1 of 3 > 30%)', plays: [two('over', 6, { serial: 3, max_fail_percentage: 30 }, [2]), later('g0')] },
  { name: 'any_errors_fatal on the play', plays: [two('fatal', 3, { any_errors_fatal: true }, [2]), later('g0')] },
  {
    name: 'any_errors_fatal on an item, with serial',
    plays: [{
      name: 'item', hosts: 4, serial: 2,
      tasks: [{ name: 'item-a', sh: log('item-a', failOn('itemh3')), any_errors_fatal: true }, { name: 'item-b', sh: log('item-b') }],
    }],
  },
  {
    name: 'run_once that fails ends the play',
    plays: [{ name: 'oncefail', hosts: 3, tasks: [{ name: 'oncefail-a', sh: log('oncefail-a', 'false'), run_once: true }, { name: 'oncefail-b', sh: log('oncefail-b') }] }],
  },
  {
    name: 'throttle: 1 on a task and a handler, throttle: 2 on another', throttled: { one: 1, h: 1, pair: 2 },
    plays: [{
      name: 'thr', hosts: 4,
      tasks: [{ name: 'one', sh: stamp('one'), throttle: 1, notify: 'h' }, { name: 'pair', sh: stamp('pair'), throttle: 2 }],
      handlers: [{ name: 'h', sh: stamp('h'), throttle: 1 }],
    }],
  },
];

/** Each play's group (`g<index>`) and its hosts (`<play name>h<n>`), for both inventories. */
function groupsOf(c: Case): { group: string; hosts: string[] }[] {
  return c.plays.flatMap((p, i) => (typeof p.hosts === 'number'
    ? [{ group: `g${i}`, hosts: Array.from({ length: p.hosts }, (_, k) => `${p.name}h${k + 1}`) }]
    : []));
}
const hostsOf = (p: PlaySpec, i: number): string => (typeof p.hosts === 'number' ? `g${i}` : p.hosts);

// ------------------------------------------------------------------ the two playbooks

function ansiblePlaybook(c: Case): string {
  const item = (i: Item) => ({
    name: i.name,
    shell: i.sh.replace(/@H/g, '{{ inventory_hostname }}').replace(/@LOG/g, '{{ logfile }}'),
    ...(i.run_once ? { run_once: true } : {}),
    ...(i.register ? { register: i.register } : {}),
    ...(i.delegate_to ? { delegate_to: i.delegate_to } : {}),
    ...(i.throttle ? { throttle: i.throttle } : {}),
    ...(i.notify ? { notify: i.notify } : {}),
    ...(i.any_errors_fatal !== undefined ? { any_errors_fatal: i.any_errors_fatal } : {}),
  });
  return JSON.stringify(c.plays.map((p, i) => ({
    name: p.name, hosts: hostsOf(p, i), gather_facts: false,
    ...(p.serial !== undefined ? { serial: p.serial } : {}),
    ...(p.vars ? { vars: p.vars } : {}),
    ...(p.max_fail_percentage !== undefined ? { max_fail_percentage: p.max_fail_percentage } : {}),
    ...(p.any_errors_fatal !== undefined ? { any_errors_fatal: p.any_errors_fatal } : {}),
    tasks: p.tasks.map(item),
    ...(p.handlers ? { handlers: p.handlers.map(item) } : {}),
  })), null, 1);
}

function ourPlaybook(c: Case): string {
  const item = (i: Item) => ({
    name: i.name,
    command: { cmd: i.sh.replace(/@H/g, '{{ host.name }}').replace(/@LOG/g, '{{ logfile }}') },
    ...(i.run_once ? { run_once: true } : {}),
    ...(i.register ? { register: i.register } : {}),
    ...(i.delegate_to ? { delegate_to: i.delegate_to } : {}),
    ...(i.throttle ? { throttle: i.throttle } : {}),
    ...(i.notify ? { notify: i.notify } : {}),
    ...(i.any_errors_fatal !== undefined ? { any_errors_fatal: i.any_errors_fatal } : {}),
  });
  return JSON.stringify({
    name: 'compat',
    plays: c.plays.map((p, i) => ({
      name: p.name, hosts: hostsOf(p, i),
      ...(p.serial !== undefined ? { serial: p.serial } : {}),
      ...(p.vars ? { vars: p.vars } : {}),
      ...(p.max_fail_percentage !== undefined ? { max_fail_percentage: p.max_fail_percentage } : {}),
      ...(p.any_errors_fatal !== undefined ? { any_errors_fatal: p.any_errors_fatal } : {}),
      tasks: p.tasks.map(item),
      ...(p.handlers ? { handlers: p.handlers.map(item) } : {}),
    })),
  }, null, 1);
}


// ------------------------------------------------------------------ reading both outputs

interface Outcome {
  /** Per batch (PLAY header), per item in order: `item[ (handler)]: host[->delegate]=status, ...` (hosts sorted). */
  batches: string[][];
  recap: Record<string, Record<string, number>>;
  code: number;
  log: string[];
}

function blocks(results: { batch: number; task: string; entry: string }[], batchCount: number): string[][] {
  const out: string[][] = Array.from({ length: batchCount }, () => []);
  let last: { batch: number; task: string; entries: string[] } | undefined;
  const flush = () => { if (last) out[last.batch]!.push(`${last.task}: ${last.entries.sort().join(', ')}`); };
  for (const r of results) {
    if (!last || last.batch !== r.batch || last.task !== r.task) {
      flush();
      last = { batch: r.batch, task: r.task, entries: [] };
    }
    last.entries.push(r.entry);
  }
  flush();
  return out;
}

const RECAP_KEYS = ['ok', 'changed', 'failed', 'skipped', 'unreachable'];
function recapOf(lines: string[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  const at = lines.findIndex((l) => l.startsWith('PLAY RECAP'));
  for (const l of lines.slice(at + 1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(l);
    if (!m) continue;
    const counts: Record<string, number> = {};
    for (const [, k, v] of m[2]!.matchAll(/(\w+)=(\d+)/g)) if (RECAP_KEYS.includes(k!)) counts[k!] = Number(v);
    out[m[1]!] = counts;
  }
  return out;
}

function readAnsible(stdout: string): Omit<Outcome, 'code' | 'log'> {
  const lines = stdout.split('\n');
  const results: { batch: number; task: string; entry: string }[] = [];
  let batch = -1;
  let task = '';
  const status: Record<string, string> = { ok: 'ok', changed: 'changed', fatal: 'failed', skipping: 'skipped', unreachable: 'unreachable' };
  for (const l of lines) {
    let m: RegExpExecArray | null;
    if (l.startsWith('PLAY RECAP')) break;
    if ((m = /^PLAY \[(.*)\] \*+$/.exec(l))) { batch += 1; continue; }
    if ((m = /^TASK \[(.*)\] \*+$/.exec(l))) { task = m[1]!; continue; }
    if ((m = /^RUNNING HANDLER \[(.*)\] \*+$/.exec(l))) { task = `${m[1]!} (handler)`; continue; }
    if ((m = /^(ok|changed|fatal|skipping|unreachable): \[([^\]\s]+)(?: -> ([^\]\s]+))?\]/.exec(l))) {
      results.push({ batch, task, entry: `${m[2]}${m[3] ? `->${m[3]}` : ''}=${status[m[1]!]}` });
    }
  }
  return { batches: blocks(results, batch + 1), recap: recapOf(lines) };
}

function readOurs(stdout: string): Omit<Outcome, 'code' | 'log'> {
  const lines = stdout.split('\n');
  const results: { batch: number; task: string; entry: string }[] = [];
  let batch = -1;
  for (const l of lines) {
    let m: RegExpExecArray | null;
    if (l.startsWith('PLAY RECAP')) break;
    if (/^PLAY \[.*\] hosts: /.test(l)) { batch += 1; continue; }
    if ((m = /^\[[^\]]*\] (.+?)( \(handler\))? \| (\S+)(?: -> (\S+))?: (ok|changed|failed|skipped|unreachable)\b/.exec(l))) {
      results.push({ batch, task: `${m[1]}${m[2] ? ' (handler)' : ''}`, entry: `${m[3]}${m[4] ? `->${m[4]}` : ''}=${m[5]}` });
    }
  }
  return { batches: blocks(results, batch + 1), recap: recapOf(lines) };
}

/** Consecutive log lines of one item, hosts sorted. */
function segments(lines: string[]): string[] {
  const out: { item: string; hosts: string[] }[] = [];
  for (const line of lines) {
    const [item = '', ...rest] = line.split(' ');
    const host = rest.join(' ');
    const last = out[out.length - 1];
    if (last && last.item === item) last.hosts.push(host);
    else out.push({ item, hosts: [host] });
  }
  return out.map((s) => `${s.item}:${s.hosts.sort().join(',')}`);
}

/** The most hosts inside each stamped item at once. */
function concurrency(lines: string[]): Record<string, number> {
  const inside: Record<string, number> = {};
  const most: Record<string, number> = {};
  for (const line of lines) {
    const m = /^(start|end)-(\S+) /.exec(line);
    if (!m) continue;
    const what = m[2]!;
    inside[what] = (inside[what] ?? 0) + (m[1] === 'start' ? 1 : -1);
    most[what] = Math.max(most[what] ?? 0, inside[what]!);
  }
  return most;
}

// ------------------------------------------------------------------ running them

const hasAnsible = spawnSync('sh', ['-c', 'command -v ansible-playbook']).status === 0;
const scratch = mkdtempSync(join(tmpdir(), 'compat-strategy-'));
const ansible = new Map<string, Promise<Outcome>>();

function runAnsible(c: Case, dir: string): Promise<Outcome> {
  mkdirSync(dir, { recursive: true });
  const groups = groupsOf(c).map((g) => `[${g.group}]\n${g.hosts.join('\n')}\n`).join('\n');
  writeFileSync(join(dir, 'hosts.ini'), `${groups}\n[all:vars]\nansible_connection=local\nansible_python_interpreter=${pythonOf()}\n`);
  writeFileSync(join(dir, 'site.yml'), ansiblePlaybook(c));
  const logfile = join(dir, 'log');
  return new Promise((done) => {
    const p = spawn('ansible-playbook', ['-i', 'hosts.ini', 'site.yml', '-f', '5', '-e', `logfile=${logfile}`], {
      cwd: dir,
      env: {
        ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FORCE_COLOR: '0', ANSIBLE_HOME: join(scratch, 'home'), ANSIBLE_LOCAL_TEMP: join(scratch, 'tmp'),
        ANSIBLE_REMOTE_TEMP: join(scratch, 'rtmp'), ANSIBLE_CONFIG: join(scratch, 'none.cfg'), ANSIBLE_DEPRECATION_WARNINGS: '0',
        ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_STDOUT_CALLBACK: 'default',
      },
    });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', () => undefined);
    p.on('close', (code) => done({ ...readAnsible(out), code: code ?? -1, log: readLog(logfile), raw: out } as Outcome));
  });
}

let python: string | undefined;
function pythonOf(): string {
  python ??= spawnSync('sh', ['-c', 'head -1 "$(command -v ansible-playbook)" | sed "s/^#! *//; s/ .*//"'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/python3';
  return python;
}

function readLog(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

function runOurs(c: Case, dir: string): Outcome & { raw: string } {
  mkdirSync(dir, { recursive: true });
  const inv = join(dir, 'inventory.yml');
  const groups = groupsOf(c);
  writeFileSync(inv, [
    'hosts:', ...groups.flatMap((g) => g.hosts.map((h) => `  ${h}: { connection: local }`)),
    'groups:', ...groups.map((g) => `  ${g.group}: { hosts: [${g.hosts.join(', ')}] }`), '',
  ].join('\n'));
  const pb = join(dir, 'site.yml');
  writeFileSync(pb, ourPlaybook(c));
  const logfile = join(dir, 'log');
  const r = cli(['run', pb, '-i', inv, '-f', '5', '-e', `logfile=${logfile}`], { env: { RANCHER_PLAY_RENDERER: 'plain' } });
  return { ...readOurs(r.stdout), code: r.code, log: readLog(logfile), raw: r.stdout + r.stderr };
}

test.before(() => {
  if (!hasAnsible) return;
  // ~3 s each: two at a time, started before the first comparison.
  const queue = [...cases.entries()];
  const slots = [Promise.resolve(), Promise.resolve()];
  for (const [i, c] of queue) {
    const slot = i % slots.length;
    const run = slots[slot]!.then(() => runAnsible(c, join(scratch, `ansible-${i}`)));
    slots[slot] = run.then(() => undefined);
    ansible.set(c.name, run);
  }
});
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('ansible-playbook is installed (apt-get install ansible-core)', () => {
  assert.ok(hasAnsible, 'ansible-playbook not found');
});

for (const [i, c] of cases.entries()) {
  test(c.name, async () => {
    if (!hasAnsible) return;
    const theirs = await ansible.get(c.name)! as Outcome & { raw: string };
    const ours = runOurs(c, join(scratch, `ours-${i}`));
    const ctx = `\n--- ansible-playbook:\n${theirs.raw}\n--- rancher-play:\n${ours.raw}`;
    assert.ok(theirs.batches.length > 0, `ansible-playbook showed no play${ctx}`);
    assert.equal(ours.batches, theirs.batches, `batches, items, hosts and statuses${ctx}`);
    // Ansible's recap leaves out hosts that got no result at all (a run_once batch that failed
    // on its first host); ours lists every host the run reached, with zeros.
    const reached = (r: Outcome['recap']) => Object.fromEntries(Object.entries(r).filter(([, c]) => Object.values(c).some((n) => n > 0)));
    assert.equal(reached(ours.recap), reached(theirs.recap), `recap${ctx}`);
    assert.is(ours.code, theirs.code, `exit code${ctx}`);
    if (c.throttled) {
      for (const [tool, lines] of [['ansible-playbook', theirs.log], ['rancher-play', ours.log]] as const) {
        const most = concurrency(lines);
        for (const [item, n] of Object.entries(c.throttled)) {
          assert.ok(most[item]! >= 1 && most[item]! <= n, `${tool}: ${most[item]} hosts inside "${item}" at once, throttle ${n}${ctx}`);
        }
      }
    } else {
      assert.equal(segments(ours.log), segments(theirs.log), `order the commands ran in${ctx}`);
    }
  });
}

test.run();
