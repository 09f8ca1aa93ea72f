// Facts: the built-in read-only probes as a command plus a parser, read from recorded output;
// and in a run, read once per host until a task changes the host — a file changed by a command
// between two copies is seen again, not taken from what was read before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileState, dockerDaemonProxy } from '../../tasks/_facts.js';
import { shQuote } from '../../runner/quote.js';
import { cli, events, project } from './cli-helpers.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { defineTask } from '../../runner/sdk/index.js';
import { runTask } from '../../runner/sdk/testing.js';

const ok = (stdout: string) => ({ stdout, stderr: '', code: 0 });

test('file-state from recorded output: absent, present (GNU stat + sha256sum), unreadable', () => {
  assert.equal(fileState.parse(ok('absent\n'), { path: '/x' }), { exists: false });
  const sum = 'b5bb9d8014a0f9b1d61e21e796d78dccdf1352f23cd32812f4850b878ae4944c';
  assert.equal(fileState.parse(ok(`640 root docker\n${sum}  -\n`), { path: '/x' }), {
    exists: true, mode: 0o640, modeText: '640', user: 'root', group: 'docker', sha256: sum,
  });
  assert.throws(() => fileState.parse({ stdout: '', stderr: "stat: cannot statx '/x': Permission denied\n", code: 1 }, { path: '/x' }),
    /cannot inspect \/x: stat: cannot statx '\/x': Permission denied/);
  assert.match(fileState.command({ path: "/tmp/it's" }, shQuote), /'\/tmp\/it'\\''s'/, 'the path is quoted');
});

test('docker-daemon-proxy from recorded docker info: the daemon\'s proxy, or the CLI\'s own error', () => {
  assert.equal(dockerDaemonProxy.parse(ok('http://10.213.1.3:3128|http://10.213.1.3:3128|localhost,127.0.0.1\n'), undefined),
    { proxy: { http: 'http://10.213.1.3:3128', https: 'http://10.213.1.3:3128', noProxy: 'localhost,127.0.0.1' } });
  assert.equal(dockerDaemonProxy.parse(ok('||\n'), undefined), { proxy: { http: '', https: '', noProxy: '' } });
  const down = 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n';
  assert.equal(dockerDaemonProxy.parse({ stdout: down, stderr: '', code: 1 }, undefined), { error: down.trim() });
});

test('in a run: a file read by one copy and changed by a command is read again by the next copy', () => {
  const p = project(1);
  const pb = p.write('site.yml', `name: facts
plays:
  - hosts: web
    tasks:
      - name: first
        copy: { content: "a\\n", dest: "{{work}}/f.txt" }
      - name: same again
        copy: { content: "a\\n", dest: "{{work}}/f.txt" }
      - name: changed behind our back
        command: { cmd: "echo b > {{work}}/f.txt" }
      - name: put back
        copy: { content: "a\\n", dest: "{{work}}/f.txt" }
      - name: unchanged
        copy: { content: "a\\n", dest: "{{work}}/f.txt" }
`);
  const r = cli(['run', pb, '-i', p.inventory, '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.equal(events(r.stdout).tasks.map((t) => `${t.task}: ${t.status}`),
    ['first: changed', 'same again: ok', 'changed behind our back: changed', 'put back: changed', 'unchanged: ok']);
  assert.is(readFileSync(join(p.work, 'f.txt'), 'utf8'), 'a\n');
});

test('apply reads a fact afresh: what it wrote is seen, not what the probe read before', async () => {
  const dest = join(mkdtempSync(join(tmpdir(), 'rp-facts-')), 'f.txt');
  const seen: boolean[] = [];
  const t = defineTask({
    id: 'write-then-look', summary: 'writes, then reads the file state', runsOn: 'controller',
    schema: { type: 'object', additionalProperties: false, properties: {} } as const,
    async probe(ctx) {
      seen.push((await ctx.fact(fileState, { path: dest })).exists);
      return { changed: true, msg: 'would write' };
    },
    async apply(ctx) {
      await ctx.writeFile(dest, 'x\n');
      seen.push((await ctx.fact(fileState, { path: dest })).exists);
      return { msg: 'written' };
    },
  });
  const r = await runTask(t, {});
  assert.is(r.status, 'changed', r.msg);
  assert.equal(seen, [false, true]);
});

test.run();
