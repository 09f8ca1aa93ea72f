// --slice over real SSH: 4 slices of one playbook run at the same time on the lab's plain hosts
// (one controller process each, as four pods of an Indexed Job would), and `recap merge` of
// their --json outputs equals one unsliced run of the same playbook, host by host, exit 0.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, type LabInfo } from '../lab/_lab.js';
import { cli, cliShell, events } from '../unit/cli-helpers.js';

const NAME = 'slice';
const HOSTS = 9;
let info: LabInfo;
const dir = mkdtempSync(join(tmpdir(), 'rp-slice-lab-'));

// The same work in two target directories (in /tmp, which each plain host has to itself): the unsliced run and the sliced ones both find their
// hosts untouched. Cold: mkdir, copy, marker (changed) and a handler; `uname` stays ok.
const pb = join(dir, 'pb.yml');
writeFileSync(pb, `name: slices
plays:
  - name: fleet
    hosts: all
    tasks:
      - name: kernel
        command: { cmd: uname -r }
        changed_when: false
      - name: dir
        command: { cmd: "mkdir -p {{ target }}", creates: "{{ target }}" }
      - name: file
        copy: { content: "host {{ host.name }}\\n", dest: "{{ target }}/who" }
        notify: [mark]
    handlers:
      - name: mark
        command: { cmd: "touch {{ target }}/handled", creates: "{{ target }}/handled" }
`);

function bg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // cliShell is the CLI's command line as one shell string (the built CLI or tsx).
  const child = spawn('sh', ['-c', cliShell(args)], { env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

test.before(async () => {
  info = await lab.labUp({ name: NAME, plainHosts: HOSTS });
  // The plain hosts share the controller's /root: give each the stock dotfiles so that a login
  // shell there does not run whatever the controller's ~/.bashrc runs (see bench/run.mjs).
  await Promise.all(info.nodes.map(async (h) => {
    const r = await lab.labExec(h.name, 'cp /etc/skel/.bashrc /etc/skel/.profile /root/ && rm -f /root/.bash_profile /root/.bash_login', NAME);
    if (r.code !== 0) throw new Error(`preparing ${h.name}: ${r.stderr}`);
  }));
});

test.after(async () => {
  await lab.labDown(NAME);
  rmSync(dir, { recursive: true, force: true });
});

test('4 concurrent slices on 9 SSH hosts: merged recap = one unsliced run\'s', async () => {
  const whole = cli(['run', pb, '-i', info.inventory, '--json', '-e', 'target=/tmp/rp-slice-whole']);
  assert.is(whole.code, 0, whole.stderr + whole.stdout.slice(-2000));
  const wholeRecap = events(whole.stdout).recap;
  assert.is(Object.keys(wholeRecap.hosts).length, HOSTS);

  const slices = await Promise.all([1, 2, 3, 4].map((k) =>
    bg(['run', pb, '-i', info.inventory, '--json', '--slice', `${k}/4`, '-e', 'target=/tmp/rp-slice-parts'])));
  const files = slices.map((r, i) => {
    assert.is(r.code, 0, `slice ${i + 1}: ${r.stderr}`);
    const f = join(dir, `slice-${i + 1}.ndjson`);
    writeFileSync(f, r.stdout);
    return f;
  });
  const sizes = slices.map((r) => Object.keys(events(r.stdout).recap.hosts).length);
  assert.equal(sizes, [3, 2, 2, 2], '9 hosts dealt over 4 slices');

  const merged = cli(['recap', 'merge', '--json', ...files]);
  assert.is(merged.code, 0, merged.stderr);
  assert.equal(events(merged.stdout).recap.hosts, wholeRecap.hosts);
  for (const c of Object.values(wholeRecap.hosts)) assert.equal(c, { ok: 4, changed: 3, failed: 0, skipped: 0, unreachable: 0 });

  // Every host got its file from exactly one slice.
  for (const h of info.nodes) {
    const r = await lab.labExec(h.name, 'cat /tmp/rp-slice-parts/who', NAME);
    assert.is(r.stdout, `host ${h.name}\n`);
  }
});

test.run();
