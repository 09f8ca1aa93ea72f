// Each task's params are rendered once per host before the run, and the prechecks, the secret
// scan and the run all see that one rendering; a param that reads what the run sets (a registered
// result, a fact, a var defined by one, a file an earlier task wrote) is rendered when its task runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { runPlaybook } from '../../runner/engine/run.js';
import type { RunOptions, Vars } from '../../runner/types.js';
import { project, type Project } from './cli-helpers.js';

type Seen = [phase: string, host: string, token: string];
const g = globalThis as { __planParamsSeen?: Seen[] };

// Records what its precheck and its probe get, reports the token in its message (a secret param)
// and sets the fact `greeting`.
const STAMP_TASK = `import { defineTask } from 'rancher-play';
const seen = (globalThis.__planParamsSeen ??= []);
export default defineTask({
  id: 'stamp',
  summary: 'records its token',
  schema: { type: 'object', properties: { token: { type: 'string' } }, required: ['token'], additionalProperties: false },
  secretParams: ['token'],
  precheck(p, ctx) { seen.push(['precheck', ctx.host, p.token]); return []; },
  async probe(ctx, p) { seen.push(['run', ctx.host.name, p.token]); return { changed: false, msg: 'token ' + p.token, facts: { greeting: 'fact' } }; },
});
`;

async function run(p: Project, playbook: string, extraVars: Vars = {}): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({ write(c, _e, cb) { out += String(c); cb(); } });
  const pb = p.write('pb.yml', playbook);
  const opts: RunOptions & { json: boolean } = {
    check: false, diff: false, forks: 5, extraVars, acceptNewHostKeys: false, verbose: false, json: true,
  };
  const code = await runPlaybook(pb, p.inventory, opts, { stdout: sink, stderr: sink, env: {} });
  return { code, out };
}

test('a secret param is rendered once per host: its precheck and its run get that value, and the output masks it', async () => {
  const p = project(3);
  p.write('tasks/stamp.ts', STAMP_TASK);
  g.__planParamsSeen = [];
  // A value that reads differently each time it is rendered (like a file that changes).
  let renders = 0;
  const stamp = { [Symbol.toPrimitive]: () => `s${++renders}` };
  const { code, out } = await run(p, `name: once
plays:
  - name: p
    hosts: web
    tasks:
      - stamp: { token: "tok-{{ stamp }}" }
`, { stamp });
  assert.is(code, 0, out);
  assert.is(renders, 3, 'one rendering per host');
  for (const h of ['h1', 'h2', 'h3']) {
    const mine = g.__planParamsSeen.filter(([, host]) => host === h).map(([phase, , token]) => `${phase} ${token}`);
    assert.is(mine.length, 2, mine.join(', '));
    assert.is(mine[0]!.split(' ')[1], mine[1]!.split(' ')[1], `precheck and run of ${h} see the same token`);
  }
  assert.not.match(out, /tok-s/, 'every token the task reported is masked');
  assert.match(out, /token \*{8}/);
});

test('a param reading a registered result, a fact, a var defined by one or a file written by an earlier task renders when its task runs', async () => {
  const p = project(2, '  greeting: inventory');
  p.write('tasks/stamp.ts', STAMP_TASK);
  const { code, out } = await run(p, `name: late
vars: { said: "rc{{ earlier.rc }}" }
plays:
  - name: p
    hosts: web
    tasks:
      - name: before anything ran
        command: { cmd: "echo '{{ greeting }} {{#if earlier}}registered{{else}}none{{/if}}' > {{ work }}/{{ host.name }}.before" }
      - name: earlier
        command: { cmd: "printf 'run-time file' > {{ work }}/{{ host.name }}.pem" }
        register: earlier
      - stamp: { token: "t" }
      - name: after
        command: { cmd: "echo '{{ greeting }} {{#if earlier}}registered{{else}}none{{/if}} {{ earlier.stdout }}{{b64file pem}}' > {{ work }}/{{ host.name }}.after" }
      - name: a var defined by a registered result
        command: { cmd: "echo '{{ said }}' > {{ work }}/{{ host.name }}.said" }
`, { pem: `${p.work}/h1.pem` });
  assert.is(code, 0, out);
  const read = (f: string): string => readFileSync(`${p.work}/${f}`, 'utf8').trim();
  assert.is(read('h1.before'), 'inventory none');
  assert.is(read('h1.after'), `fact registered ${Buffer.from('run-time file').toString('base64')}`);
  assert.is(read('h2.said'), 'rc0');
  assert.is(read('h2.after'), `fact registered ${Buffer.from('run-time file').toString('base64')}`);
});

test('a secret param known only at run time (a registered result) is masked in what its task prints', async () => {
  const p = project(2);
  p.write('tasks/stamp.ts', STAMP_TASK);
  g.__planParamsSeen = [];
  const { code, out } = await run(p, `name: late secret
plays:
  - name: p
    hosts: web
    tasks:
      - name: make a token
        command: { cmd: "printf 'run-time-tok-%s' {{ host.name }}" }
        register: made
      - stamp: { token: "{{ made.stdout }}" }
`);
  assert.is(code, 0, out);
  assert.equal(g.__planParamsSeen.filter(([phase]) => phase === 'run').map(([, h, t]) => `${h} ${t}`).sort(), ['h1 run-time-tok-h1', 'h2 run-time-tok-h2']);
  const stampLines = out.split('\n').filter((l) => l.includes('"stamp"') && l.includes('"event":"task"'));
  assert.is(stampLines.length, 2, out);
  for (const l of stampLines) assert.match(l, /token \*{8}/);
  // The stamp task's own results no longer show the token (the command's stdout, printed before
  // the token was a secret, may).
  for (const l of stampLines) assert.not.match(l, /run-time-tok/);
});

test.run();
