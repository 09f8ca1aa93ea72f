// Command line (commander). Every command returns an exit code instead of calling process.exit,
// so tests can call `main` in-process; usage errors are exit 5 like any other bad input.
// Each command imports what it needs in its action: `--version` or `inventory` do not pay for
// loading the engine, ajv, the tasks or SSH.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT, InputError } from '../errors.js';
import { packageVersion } from '../engine/version.js';
import type { RunOptions } from '../types.js';
import { graph, inventoryJson, inventoryView, listOnly, taskInfo, type Io } from './views.js';

interface RunFlags {
  inventory: string;
  check?: boolean;
  diff?: boolean;
  limit?: string[];
  tags?: string[];
  skipTags?: string[];
  forks: number;
  extraVars: string[];
  json?: boolean;
  acceptNewHostKeys?: boolean;
  verbose?: boolean;
  tasksDir?: string;
  user?: string;
  privateKey?: string;
  become?: boolean;
  listHosts?: boolean;
  listTasks?: boolean;
  startAtTask?: string;
  syntaxCheck?: boolean;
  slice?: { index: number; count: number };
}

const list = (v: string, prev: string[] = []): string[] => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
/** --slice K/N: slice K (1-based) of N. */
const sliceOption = (v: string): { index: number; count: number } => {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected K/N (slice K of N, e.g. 1/4)');
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) throw new InvalidArgumentError(`K must be between 1 and N (N ≥ 1), got ${v}`);
  return { index, count };
};
const positiveInt = (v: string): number => {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a positive integer');
  return Number(v);
};

/** Runs `fn`, turning InputError into printed problems + exit 5. */
async function guarded(io: Io, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InputError) {
      const { printProblems } = await import('../engine/run.js');
      printProblems(e, io.stderr);
      return EXIT.input;
    }
    throw e;
  }
}

async function runOptions(f: RunFlags, check: boolean): Promise<RunOptions & { json: boolean }> {
  const { parseExtraVars } = await import('../model/vars.js');
  return {
    check: check || f.check === true,
    diff: f.diff === true,
    limit: f.limit,
    tags: f.tags,
    skipTags: f.skipTags,
    forks: f.forks,
    extraVars: parseExtraVars(f.extraVars, process.cwd()),
    acceptNewHostKeys: f.acceptNewHostKeys === true,
    verbose: f.verbose === true,
    tasksDir: f.tasksDir,
    json: f.json === true,
    ...(f.user !== undefined ? { user: f.user } : {}),
    ...(f.privateKey !== undefined ? { privateKey: f.privateKey } : {}),
    ...(f.become ? { become: true } : {}),
    ...(f.startAtTask !== undefined ? { startAtTask: f.startAtTask } : {}),
    ...(f.slice !== undefined ? { slice: f.slice } : {}),
  };
}

function addRunOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-i, --inventory <file>', 'inventory YAML file')
    .option('-C, --check', 'dry run: only probe, report what would change; nothing is changed')
    .option('-D, --diff', 'show unified diffs of file changes')
    .option('-l, --limit <pattern>', 'only the hosts this Ansible host pattern selects (the last --limit wins)', collect)
    .option('-t, --tags <tags>', 'only tasks with these tags (comma-separated; `always` always runs)', list)
    .option('--skip-tags <tags>', 'skip tasks with these tags (comma-separated)', list)
    .option('-f, --forks <n>', 'hosts worked on in parallel', positiveInt, 10)
    .option('-u, --user <user>', 'remote user for hosts whose inventory sets none (before ~/.ssh/config, like ssh -o User)')
    .option('--private-key <file>', 'SSH key for hosts whose inventory sets none')
    .option('-b, --become', 'run every task through sudo -n (a task or host saying become: false still wins)')
    .option('--list-hosts', 'print the hosts each play would run on, like ansible-playbook; run nothing')
    .option('--list-tasks', 'print the tasks each play would run (with tags), like ansible-playbook; run nothing')
    .option('--start-at-task <name>', 'skip the tasks before the first task with this name (a glob)')
    .option('--slice <K/N>', 'only slice K of N disjoint parts of the hosts (fixed by inventory and --limit); merge the slices\' --json with `recap merge`', sliceOption)
    .option('--syntax-check', 'only validate the playbook (same as `validate`); run nothing')
    .option('-e, --extra-vars <key=value|@file.yml>', 'extra vars, highest precedence (repeatable)', collect, [])
    .option('--json', 'print events as NDJSON on stdout (no tree)')
    .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts')
    .option('-v, --verbose', 'show task output lines and connection details')
    .option('--tasks-dir <dir>', 'directory of custom tasks (default: tasks/ beside the playbook)');
}

/** Interrupt handling: the first Ctrl-C (SIGINT) or SIGTERM stops starting tasks, the second
 * exits at once (temp files and commands started here are cleaned up on exit either way). */
function interruptible(io: Io): { signal: AbortSignal; code(c: number): number; dispose(): void } {
  const ac = new AbortController();
  let by: NodeJS.Signals | undefined;
  const exitFor = (s: NodeJS.Signals | undefined): number => (s === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted);
  const on = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) process.exit(exitFor(sig));
    by = sig;
    io.stderr.write(`\ninterrupted${sig === 'SIGTERM' ? ' (SIGTERM)' : ''}: no new tasks will start; waiting for running ones (Ctrl-C again to quit now)\n`);
    ac.abort(new Error('interrupted'));
  };
  const onInt = (): void => on('SIGINT');
  const onTerm = (): void => on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: ac.signal,
    code: (c) => (c === EXIT.interrupted ? exitFor(by) : c),
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

export function buildProgram(io: Io, setCode: (n: number) => void): Command {
  const program = new Command('rancher-play');
  program
    .description('Declarative, idempotent task runner for Rancher HA installs over SSH (Ansible-like playbooks in YAML)')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .exitOverride()
    .addHelpText('after', `
Examples:
  rancher-play validate playbooks/ha-l7.yml -i inventory/lab.yml
  rancher-play check playbooks/ha-l7.yml -i inventory/lab.yml --diff
  rancher-play run playbooks/ha-l7.yml -i inventory/lab.yml --limit lb --tags nginx
  rancher-play run playbooks/ha-l7.yml -i hosts.ini -C -D -l lb -u ops -b   (Ansible spellings)
  rancher-play inventory -i inventory/lab.yml --json
  rancher-play tasks render-template
  rancher-play test tasks/ensure-motd.test.ts

Exit codes: 0 ok, 1 internal error, 2 a task failed, 4 a host was unreachable, 5 invalid input, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).`);

  const runLike = (name: string, desc: string, check: boolean): void => {
    addRunOptions(program.command(`${name} <playbook>`).description(desc))
      .action(async (playbook: string, f: RunFlags) => {
        if (f.listHosts || f.listTasks || f.syntaxCheck) {
          setCode(await guarded(io, async () => listOnly(playbook, f, await runOptions(f, check), io)));
          return;
        }
        const intr = interruptible(io);
        try {
          setCode(await guarded(io, async () => {
            const { runPlaybook } = await import('../engine/run.js');
            const opts = { ...(await runOptions(f, check)), passphrase: terminalPassphrase(io.env) };
            return intr.code(await runPlaybook(playbook, f.inventory, opts, { ...io, signal: intr.signal }));
          }));
        } finally {
          intr.dispose();
        }
      });
  };
  runLike('run', 'apply a playbook to the inventory hosts', false);
  runLike('check', 'dry run (same as run --check): report what would change, change nothing', true);

  program.command('validate <playbook>')
    .description('check schemas, templates and references; connects to nothing')
    .requiredOption('-i, --inventory <file>', 'inventory YAML file')
    .option('-e, --extra-vars <key=value|@file.yml>', 'extra vars (repeatable)', collect, [])
    .option('--limit <pattern>', 'only these hosts (an Ansible host pattern; the last --limit wins)', collect)
    .option('--tasks-dir <dir>', 'directory of custom tasks')
    .action(async (playbook: string, f: { inventory: string; extraVars: string[]; limit?: string[]; tasksDir?: string }) => {
      setCode(await guarded(io, async () => {
        const [{ loadAll, printWarnings }, { parseExtraVars }] = await Promise.all([import('../engine/run.js'), import('../model/vars.js')]);
        const { playbook: pb, inventory, plan } = await loadAll(playbook, f.inventory, {
          extraVars: parseExtraVars(f.extraVars, process.cwd()), limit: f.limit, tasksDir: f.tasksDir,
        });
        printWarnings(plan, io.stderr);
        const tasks = pb.plays.reduce((n, p) => n + p.tasks.length, 0);
        io.stdout.write(`${playbook}: valid (${pb.plays.length} plays, ${tasks} tasks, ${inventory.hosts.size} hosts)\n`);
        return EXIT.ok;
      }));
    });

  program.command('recap')
    .description('work with the recaps of --json runs')
    .command('merge <files...>')
    .description('merge the --json outputs of a run\'s slices (--slice K/N) into one recap and exit code')
    .option('--json', 'print every file\'s task events and the merged recap as NDJSON')
    .action(async (files: string[], f: { json?: boolean }) => {
      setCode(await guarded(io, async () => (await import('./recap.js')).recapMerge(files, { json: f.json === true }, io)));
    });

  program.command('ping')
    .description('connect to every host (through its jump hosts) and report reachability')
    .requiredOption('-i, --inventory <file>', 'inventory YAML file')
    .option('--limit <pattern>', 'only these hosts (an Ansible host pattern; the last --limit wins)', collect)
    .option('--accept-new-host-keys', 'trust and record host keys not yet in known_hosts')
    .option('--json', 'NDJSON output')
    .option('--forks <n>', 'hosts connected to in parallel', positiveInt, 10)
    .action(async (f: { inventory: string; limit?: string[]; acceptNewHostKeys?: boolean; json?: boolean; forks: number }) => {
      setCode(await guarded(io, async () => {
        const { loadInventory, resolveInventory, limitSelection } = await import('../model/inventory.js');
        const inv = loadInventory(f.inventory);
        await resolveInventory(inv, limitSelection(inv, f.limit));
        // Loaded on demand: ssh2 is only needed by commands that connect.
        const { ping } = await import('../engine/ping.js');
        return ping(inv, { limit: f.limit, acceptNewHostKeys: f.acceptNewHostKeys === true, json: f.json === true, forks: f.forks, passphrase: terminalPassphrase(io.env) });
      }));
    });

  program.command('inventory')
    .description('show hosts, groups and resolved vars (secrets masked)')
    .requiredOption('-i, --inventory <file>', 'inventory YAML file')
    .option('--graph', 'show the group tree, like ansible-inventory --graph')
    .option('--json', 'hosts with their connection as it will be made (after ~/.ssh/config), groups, vars, as JSON')
    .action(async (f: { inventory: string; graph?: boolean; json?: boolean }) => {
      setCode(await guarded(io, async () => {
        const [{ loadInventory, resolveInventory }, { stringify }, { redactUrlCredentials }] = await Promise.all([import('../model/inventory.js'), import('yaml'), import('../engine/redact.js')]);
        const inv = loadInventory(f.inventory);
        if (f.json) {
          await resolveInventory(inv);
          io.stdout.write(`${redactUrlCredentials(JSON.stringify(await inventoryJson(inv), null, 2))}\n`);
          return EXIT.ok;
        }
        if (f.graph) {
          const [{ inventorySource }, { ansibleGroupTree }] = await Promise.all([import('../model/inventory.js'), import('../model/ansible/index.js')]);
          io.stdout.write(`${graph(inv, ansibleGroupTree(inventorySource(inv)))}\n`);
          return EXIT.ok;
        }
        io.stdout.write(redactUrlCredentials(stringify(await inventoryView(inv))));
        return EXIT.ok;
      }));
    });

  program.command('tasks [id]')
    .description('list built-in and custom tasks, or show one task\'s params')
    .option('--tasks-dir <dir>', 'directory of custom tasks')
    .action(async (id: string | undefined, f: { tasksDir?: string }) => {
      setCode(await guarded(io, async () => {
        const { buildRegistry } = await import('../engine/run.js');
        const registry = await buildRegistry({ tasksDir: f.tasksDir });
        if (id) return taskInfo(registry, id, io);
        const all = registry.list();
        const w = Math.max(...all.map((t) => t.id.length));
        for (const t of all) {
          const src = registry.source(t.id) ?? '';
          io.stdout.write(`${t.id.padEnd(w)}  ${t.summary}${src.startsWith('builtin') ? '' : `  [${src}]`}\n`);
        }
        return EXIT.ok;
      }));
    });

  program.command('new-task <name>')
    .description('scaffold tasks/NAME.ts with a test')
    .option('--tasks-dir <dir>', 'where to write it', 'tasks')
    .action(async (name: string, f: { tasksDir: string }) => {
      setCode(await guarded(io, async () => (await import('./scaffold.js')).newTask(name, f.tasksDir)));
    });

  program.command('test [paths...]')
    .description('run custom-task tests (uvu; default: the *.test.ts files of the tasks directory); nothing else to install')
    .option('--tasks-dir <dir>', 'directory of custom tasks whose tests run (default: tasks/ as for run)')
    .addOption(new Option('--worker <file>', 'internal: run one test file in this process').hideHelp())
    .action(async (paths: string[], f: { tasksDir?: string; worker?: string }) => {
      // Loaded on demand: only this command needs uvu.
      const { testCommand, testWorker } = await import('./test-command.js');
      setCode(f.worker ? await testWorker(f.worker, io) : await testCommand(paths, { tasksDir: f.tasksDir }, io));
    });

  program.command('schema')
    .description('print the JSON Schema of inventories or playbooks (for editors)')
    .addArgument(new Command().createArgument('<kind>', 'inventory or playbook').choices(['inventory', 'playbook']))
    .option('--tasks-dir <dir>', 'include custom tasks in the playbook schema')
    .option('--write [file]', 'write it to a file instead (default .rancher-play/KIND.schema.json) for `# yaml-language-server: $schema=`')
    .action(async (kind: string, f: { tasksDir?: string; write?: string | boolean }) => {
      setCode(await guarded(io, async () => {
        const [{ inventorySchema, playbookSchema }, { buildRegistry }, { defaultSchemaPath, writeSchemaFile }] =
          await Promise.all([import('../model/schema.js'), import('../engine/run.js'), import('./scaffold.js')]);
        const schema = kind === 'inventory' ? inventorySchema() : playbookSchema((await buildRegistry({ tasksDir: f.tasksDir })).list());
        if (f.write === undefined) {
          io.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
          return EXIT.ok;
        }
        const file = typeof f.write === 'string' ? f.write : defaultSchemaPath(kind);
        io.stdout.write(`wrote ${await writeSchemaFile(file, schema)}\n`);
        return EXIT.ok;
      }));
    });

  program.command('lab')
    .description('the local rehearsal lab (network namespaces, real sshd/nginx/DNS/proxy; Linux, root)')
    .addArgument(new Command().createArgument('<action>', 'up, down or status').choices(['up', 'down', 'status']))
    .addOption(new Option('--name <name>', 'lab name (several labs can coexist)'))
    .addOption(new Option('--plain-hosts <n>', 'up: N plain SSH hosts reachable directly (benchmarks) instead of the Rancher topology'))
    .action(async (action: 'up' | 'down' | 'status', f: Record<string, string | boolean>) => {
      let mod: { labCommand(a: 'up' | 'down' | 'status', o: Record<string, string | boolean>): Promise<number> };
      try {
        mod = await import('../../lab/lab.js' as string);
      } catch (e) {
        io.stderr.write(`the lab is not available in this build: ${e instanceof Error ? e.message : String(e)}\n`);
        return setCode(EXIT.internal);
      }
      setCode(await guarded(io, () => mod.labCommand(action, f)));
    });
  return program;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (n) => { code = n; });
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT.input;
    }
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.input;
    }
    if (e instanceof InputError) {
      (await import('../engine/run.js')).printProblems(e, io.stderr);
      return EXIT.input;
    }
    io.stderr.write(`internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    return EXIT.internal;
  }
}

/**
 * An encrypted SSH key's passphrase: RANCHER_PLAY_SSH_PASSPHRASE, else asked on the terminal
 * (what is typed is not echoed), else none. The SSH pool asks once per key; questions for
 * different keys wait for each other so they never share the terminal.
 */
function terminalPassphrase(env: NodeJS.ProcessEnv): (keyPath: string) => Promise<string | undefined> {
  let asking: Promise<unknown> = Promise.resolve();
  return (keyPath) => {
    const given = env.RANCHER_PLAY_SSH_PASSPHRASE;
    if (given !== undefined) return Promise.resolve(given);
    if (!process.stdin.isTTY) return Promise.resolve(undefined);
    const answer = asking.then(() => promptHidden(`Passphrase for ${keyPath}: `));
    asking = answer.catch(() => undefined);
    return answer;
  };
}

async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  return new Promise((resolve) => {
    let muted = false;
    const output = new Writable({
      write(chunk, _enc, cb) {
        if (!muted) process.stderr.write(chunk);
        cb();
      },
    });
    const rl = createInterface({ input: process.stdin, output, terminal: true });
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true; // everything after the question (the typed passphrase) stays off screen
  });
}

/** The process entry shared by bin/rancher-play.js and the one-file bundle. */
export function runFromProcess(): void {
  // `rancher-play schema playbook | head`: a reader that goes away is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
