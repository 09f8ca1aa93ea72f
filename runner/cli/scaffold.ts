// `rancher-play new-task NAME`: writes a small, working, idempotent custom task and its uvu test,
// so an author starts from something that passes and shows the probe/apply contract.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { invocation } from './test-command.js';

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The task module: ensure one line is present in a file (probe reads, apply writes once). */
export function taskSource(name: string): string {
  return `// ${name}: ensures a line is present in a file. Scaffolded by \`rancher-play new-task\`;
// edit freely. A task probes first (read-only) and changes only what differs; in check mode
// (\`rancher-play check\`) only the probe runs. See docs/custom-tasks.md.
import { defineTask } from 'rancher-play';

export default defineTask({
  id: '${name}',
  summary: 'Ensure a line is present in a file',
  // The params type below is derived from this schema; playbooks are validated against it.
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['path', 'line'],
    properties: {
      path: { type: 'string', description: 'File to edit (created when missing); relative to the playbook' },
      line: { type: 'string', description: 'Exact line that must be present' },
      mode: { type: 'string', pattern: '^[0-7]{3,4}$', default: '0644', description: 'Mode of a newly created file' },
    },
  },

  // Read-only: find out whether the line is there and what the file would become.
  async probe(ctx, params) {
    const path = ctx.resolve(params.path);
    const before = await ctx.readFile(path);
    if (before !== null && before.split('\\n').includes(params.line)) {
      return { changed: false, msg: \`\${path} has the line\` };
    }
    const base = before === null || before === '' || before.endsWith('\\n') ? (before ?? '') : \`\${before}\\n\`;
    const content = \`\${base}\${params.line}\\n\`;
    return {
      changed: true,
      msg: before === null ? \`create \${path}\` : \`add the line to \${path}\`,
      diff: [{ path, before, after: content }],
      state: { path, content },
    };
  },

  // Only called when the probe found a difference (and never in check mode).
  async apply(ctx, params, probe) {
    const want = probe.state;
    if (!want) return { changed: false };
    await ctx.writeFile(want.path, want.content, { mode: parseInt(params.mode, 8) });
  },
});
`;
}

/** The uvu test: check mode writes nothing; apply changes once, then reports ok. */
export function testSource(name: string): string {
  return `// Tests for the ${name} task. Run: rancher-play test tasks/${name}.test.ts (npx rancher-play …
// in a project that has it installed). 'rancher-play', 'rancher-play/testing' and 'uvu' are
// provided by rancher-play itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask } from 'rancher-play/testing';
import task from './${name}.js';

let dir = '';
test.before.each(async () => { dir = await mkdtemp(join(tmpdir(), '${name}-')); });
test.after.each(async () => { await rm(dir, { recursive: true, force: true }); });

test('check mode reports the change and writes nothing', async () => {
  const path = join(dir, 'motd');
  const r = await runTask(task, { path, line: 'hello' }, { check: true });
  assert.is(r.status, 'changed', 'check mode reports the would-be change');
  assert.is(existsSync(path), false, 'check mode must not create the file');
});

test('apply adds the line once, then reports ok', async () => {
  const path = join(dir, 'motd');
  await writeFile(path, 'first\\n');
  const first = await runTask(task, { path, line: 'hello' });
  assert.is(first.status, 'changed', first.msg);
  assert.is(await readFile(path, 'utf8'), 'first\\nhello\\n', 'the line is appended after the existing content');
  const second = await runTask(task, { path, line: 'hello' });
  assert.is(second.status, 'ok', 'a second run changes nothing (idempotent)');
  assert.is(await readFile(path, 'utf8'), 'first\\nhello\\n', 'the second run leaves the file as it was');
});

test.run();
`;
}

async function writeNew(path: string, content: string): Promise<void> {
  // Temp file + rename: an interrupted scaffold never leaves half a task behind.
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Built-in ids, so `new-task copy` is refused here rather than at the next load. */
async function builtinIds(): Promise<string[]> {
  try {
    const m = (await import('../../tasks/index.js')) as { builtinTasks?: { id: string }[] };
    return (m.builtinTasks ?? []).map((t) => t.id);
  } catch {
    return []; // a build without built-in tasks: nothing to collide with
  }
}

/** Writes `<dir>/NAME.ts` and `<dir>/NAME.test.ts`. Exit code: 0 written, 5 bad name or file exists. */
export async function newTask(name: string, dir: string): Promise<number> {
  const fail = (msg: string): number => {
    process.stderr.write(`rancher-play new-task: ${msg}\n`);
    return 5;
  };
  if (!KEBAB.test(name)) {
    return fail(`invalid task name "${name}": use kebab-case (lowercase letters, digits and single dashes, starting with a letter), e.g. ensure-motd`);
  }
  if ((await builtinIds()).includes(name)) return fail(`"${name}" is a built-in task id; choose another name`);
  const files = [join(dir, `${name}.ts`), join(dir, `${name}.test.ts`)];
  const existing = files.filter((f) => existsSync(f));
  if (existing.length) return fail(`refusing to overwrite ${existing.map((f) => relative(process.cwd(), f) || f).join(', ')}`);
  await mkdir(dir, { recursive: true });
  await writeNew(files[0]!, taskSource(name));
  await writeNew(files[1]!, testSource(name));
  for (const f of files) process.stdout.write(`created ${relative(process.cwd(), f) || f}\n`);
  process.stdout.write(`run its test: ${invocation()} test ${relative(process.cwd(), files[1]!) || files[1]}\n`);
  return 0;
}

/** Default place of `schema <kind> --write`: a per-project file editors can point at. */
export function defaultSchemaPath(kind: string, cwd = process.cwd()): string {
  return join(cwd, '.rancher-play', `${kind}.schema.json`);
}

/** Writes a JSON Schema for editors (`schema playbook --write`), atomically; returns its path. */
export async function writeSchemaFile(path: string, schema: object): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(schema, null, 2)}\n`, { flag: 'wx', mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return path;
}
