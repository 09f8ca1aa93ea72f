// --slice K/N and `recap merge`: N slices run concurrently cover every host exactly once, the same
// host lands in the same slice whatever the playbook, and the merged recap and exit code are
// those of one unsliced run (2 beats 4 beats 0; a slice that did not finish is exit 5).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { cli, cliAsync, events, project, type CliResult, type JsonRecap } from './cli-helpers.js';

function cliBg(args: string[]): Promise<CliResult> {
  const child = cliAsync(args);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

async function closedPort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const hostsOf = (r: JsonRecap): string[] => Object.keys(r.hosts).sort();

/** Seven local hosts, two plays (a group, then all), a handler notified on some hosts, a task
 * skipped on some: a recap with different counts per host. */
function fleet() {
  const p = project(7);
  const pb = p.write('pb.yml', `name: fleet
plays:
  - name: web
    hosts: web
    tasks:
      - name: mark
        command: { cmd: "touch {{work}}/mark-{{host.name}}", creates: "{{work}}/mark-{{host.name}}" }
        notify: [again]
      - name: odd only
        command: { cmd: "true" }
        when: "host.name == 'h1' or host.name == 'h3' or host.name == 'h5' or host.name == 'h7'"
    handlers:
      - name: again
        command: { cmd: "touch {{work}}/handled-{{host.name}}" }
  - name: everyone
    hosts: all
    tasks:
      - name: read
        command: { cmd: "echo hi" }
        changed_when: false
`);
  return { p, pb };
}

test('4 concurrent slices: every host in exactly one, merged recap = the unsliced run\'s, exit 0', async () => {
  const a = fleet();
  const whole = cli(['run', a.pb, '-i', a.p.inventory, '--json']);
  assert.is(whole.code, 0, whole.stderr);
  const wholeRecap = events(whole.stdout).recap;

  const b = fleet(); // a fresh project: same inventory shape, nothing done yet
  const runs = await Promise.all([1, 2, 3, 4].map((k) => cliBg(['run', b.pb, '-i', b.p.inventory, '--json', '--slice', `${k}/4`])));
  const files: string[] = [];
  const seen: string[] = [];
  runs.forEach((r, i) => {
    assert.is(r.code, 0, r.stderr);
    const rec = events(r.stdout).recap;
    seen.push(...hostsOf(rec).filter((h) => h !== 'localhost'));
    files.push(b.p.write(`slice-${i + 1}.ndjson`, r.stdout));
  });
  const all = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7'];
  assert.equal(seen.sort(), all, 'each host in exactly one slice');
  // Each slice did its own hosts' work only, and together all of it.
  assert.equal(readdirSync(b.p.work).filter((f) => f.startsWith('mark-')).sort(), all.map((h) => `mark-${h}`));
  assert.equal(readdirSync(b.p.work).filter((f) => f.startsWith('handled-')).length, 7);

  const merged = cli(['recap', 'merge', ...files, '--json']);
  assert.is(merged.code, 0, merged.stderr);
  const m = events(merged.stdout);
  assert.equal(m.recap.hosts, wholeRecap.hosts);
  assert.is(m.tasks.length, events(whole.stdout).tasks.length, 'every slice\'s task events are kept');

  const text = cli(['recap', 'merge', ...files]);
  assert.is(text.code, 0);
  assert.match(text.stdout, /PLAY RECAP \(4 files merged\)/);
  // h7: mark, odd only, the handler (changed) and read (ok); h2 skips odd only.
  assert.match(text.stdout, /h7\s+: ok=4\s+changed=3\s+failed=0\s+skipped=0\s+unreachable=0/);
  assert.match(text.stdout, /h2\s+: ok=3\s+changed=2\s+failed=0\s+skipped=1\s+unreachable=0/);
});

test('a host keeps its slice whatever the playbook; --limit defines the hosts dealt out', () => {
  const { p, pb } = fleet();
  const other = p.write('other.yml', 'name: o\nplays:\n  - { name: only-h2-h5, hosts: "h2,h5", tasks: [ { command: { cmd: "true" } } ] }\n');
  const members = (book: string, k: number, extra: string[] = []): string[] => {
    const r = cli(['run', book, '-i', p.inventory, '--list-hosts', '--slice', `${k}/3`, ...extra]);
    assert.is(r.code, 0, r.stderr);
    return [...r.stdout.matchAll(/^ {6}(\S+)$/gm)].map((x) => x[1]!);
  };
  for (const k of [1, 2, 3]) {
    const inFleet = new Set(members(pb, k));
    for (const h of members(other, k)) assert.ok(inFleet.has(h), `${h} moved slice with another playbook`);
  }
  // Under --limit web only the seven hosts are dealt out (3/3/... by name), localhost not.
  const sizes = [1, 2, 3].map((k) => new Set(members(pb, k, ['--limit', 'web'])).size);
  assert.equal(sizes, [3, 2, 2]);
  assert.is(cli(['run', pb, '-i', p.inventory, '--slice', '1/3', '--limit', 'web', '--list-hosts']).stdout.includes('localhost'), false);
});

test('merged exit code follows the single run: a failure in one slice beats an unreachable host in another', async () => {
  const port = await closedPort();
  const p = project(0);
  const inv = p.write('inv.yml', `hosts:
  a1: { connection: local }
  b2: { address: 127.0.0.1, port: ${port}, user: nobody }
  c3: { connection: local }
groups: { web: { hosts: [a1, b2, c3] } }
vars: { work: ${p.work} }
`);
  const pb = p.write('pb.yml', `name: x
plays:
  - name: p
    hosts: web
    tasks:
      - command: { cmd: "test {{host.name}} != c3" }
`);
  // Sorted a1, b2, c3 dealt over 3 slices: one host each.
  const r = [1, 2, 3].map((k) => cli(['run', pb, '-i', inv, '--json', '--slice', `${k}/3`]));
  assert.equal(r.map((x) => x.code), [0, 4, 2], r.map((x) => x.stderr).join('\n'));
  const f = r.map((x, i) => p.write(`s${i + 1}.ndjson`, x.stdout));
  assert.is(cli(['recap', 'merge', f[0]!, f[1]!]).code, 4, 'unreachable, none failed');
  assert.is(cli(['recap', 'merge', f[0]!, f[1]!, f[2]!]).code, 2, 'a failure beats an unreachable host');
  assert.is(cli(['recap', 'merge', f[0]!]).code, 0);
});

test('bad --slice and bad merge input: exit 5 with a clear message, nothing run', () => {
  const { p, pb } = fleet();
  for (const bad of ['0/4', '5/4', '1/0', 'x', '1/']) {
    const r = cli(['run', pb, '-i', p.inventory, '--slice', bad]);
    assert.is(r.code, 5, `--slice ${bad}: ${r.stderr}`);
    assert.match(r.stderr, /--slice/);
  }
  assert.equal(readdirSync(p.work), [], 'nothing ran');
  const ok = cli(['run', pb, '-i', p.inventory, '--json', '--slice', '1/2']);
  const good = p.write('good.ndjson', ok.stdout);
  const garbage = p.write('garbage.ndjson', `${ok.stdout.split('\n')[0]}\nnot json\n`);
  const r = cli(['recap', 'merge', good, garbage]);
  assert.is(r.code, 5);
  assert.match(r.stderr, new RegExp(`${garbage.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2:1 is not a JSON event`));
  const empty = join(p.dir, 'empty.ndjson');
  writeFileSync(empty, '');
  const e = cli(['recap', 'merge', good, empty]);
  assert.is(e.code, 5);
  assert.match(e.stderr, /empty\.ndjson:1:1 has no recap event/);
  assert.is(cli(['recap', 'merge', join(p.dir, 'missing.ndjson')]).code, 5);
});

test.run();
