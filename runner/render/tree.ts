// Live Listr2 tree: play → task → host (linear) or play → host → task (free). Listr wants
// promise-returning tasks, so every leaf waits on a deferred that executor events resolve; the
// executor stays ignorant of the renderer. Log lines become the running leaf's output.
// Leaves are keyed by the events' play and task indexes (listr2 style ids), never by display
// names, which repeat: two unnamed plays on the same hosts share a name. A play with `serial:`
// starts once per batch; each start is its own run of leaves (batches of a play never overlap).
import { Listr, type ListrTask } from 'listr2';
import type { RecapEvent, RunEvent, TaskEvent } from '../types.js';
import { unifiedDiff } from './diff.js';
import { progressBar } from './bytes.js';
import { paint, recapLines, statusWord } from './plain.js';
import type { RenderOptions, Renderer } from './types.js';

type ListrRendererName = 'default' | 'verbose' | 'test' | 'simple';

interface Leaf {
  done: Promise<TaskEvent | null>;
  resolve(e: TaskEvent | null): void;
  settled: boolean;
  output?: (line: string) => void;
}

function deferred(): Leaf {
  let resolve!: (e: TaskEvent | null) => void;
  const done = new Promise<TaskEvent | null>((r) => { resolve = r; });
  const leaf: Leaf = { done, settled: false, resolve: (e) => { if (!leaf.settled) { leaf.settled = true; resolve(e); } } };
  return leaf;
}

export function treeRenderer(opts: RenderOptions, renderer: ListrRendererName = 'default'): Renderer {
  // A terminal that reports no size (a pty nobody sized: `script`, `docker -t` in CI) has 0
  // columns and 0 rows: listr2 would wrap every line one character per row, and each live frame
  // would be cut to no lines (no progress until the end). Draw 80x24 instead; a resize sets the
  // real size again.
  if (process.stdout.isTTY) {
    if (!process.stdout.columns) process.stdout.columns = 80;
    if (!process.stdout.rows) process.stdout.rows = 24;
  }
  /** run (one per play_start) → `task_index\0host` → leaf. */
  const leaves = new Map<number, Map<string, Leaf>>();
  const handlers = new Map<number, TaskEvent[]>();
  const playEnd = new Map<number, Leaf>();
  /** play_index → its current run; the hosts of each run; runs whose play_end came. */
  const current = new Map<number, number>();
  const runHosts = new Map<number, string[]>();
  const ended = new Set<number>();
  let runs = 0;
  let chain: Promise<void> = Promise.resolve();
  let recap: RecapEvent | undefined;
  /** Why the run stopped early (shown above the recap). */
  const stops: string[] = [];
  const leaf = (run: number, task: number, host: string): Leaf => {
    let ofRun = leaves.get(run);
    if (!ofRun) { ofRun = new Map(); leaves.set(run, ofRun); }
    const k = `${task}\0${host}`;
    let l = ofRun.get(k);
    if (!l) {
      l = deferred();
      // A leaf first drawn after its run ended never gets an event.
      if (ended.has(run)) l.resolve(null);
      ofRun.set(k, l);
    }
    return l;
  };
  const settleAll = (run: number, host?: string): void => {
    for (const [k, l] of leaves.get(run) ?? []) {
      if (host === undefined || k.slice(k.indexOf('\0') + 1) === host) l.resolve(null);
    }
  };

  /** A leaf node: waits for its event, then shows `host: status — msg` (or `task: …` in free plays). */
  const leafTask = (play: number, idx: number, host: string, title: string, label: string): ListrTask => ({
    title,
    task: async (_ctx, t) => {
      const l = leaf(play, idx, host);
      l.output = (line) => { t.output = opts.mask(line); };
      const e = await l.done;
      l.output = undefined;
      if (!e) return t.skip(`${label}: not run`);
      if (e.host !== host) return t.skip(opts.mask(`${label}: run once on ${e.host} (${e.status})`));
      finish(t, e, label);
    },
    rendererOptions: { persistentOutput: opts.diff },
  });

  const finish = (t: { title: string; output: string; skip(msg?: string): void }, e: TaskEvent, label: string): void => {
    if (e.delegated_to !== undefined && label === e.host) label = `${label} -> ${e.delegated_to}`;
    const text = opts.mask(`${label}: ${statusWord(e, opts.color)}${e.msg ? ` — ${e.msg}` : ''}`);
    if (opts.diff && e.diff?.length) t.output = opts.mask(e.diff.map((d) => unifiedDiff(d, opts.color)).join('\n'));
    if (e.status === 'skipped') return t.skip(text);
    if (e.status === 'failed' || e.status === 'unreachable') {
      t.title = text;
      throw new Error(text);
    }
    t.title = text;
  };

  const handlersNode = (play: number): ListrTask => ({
    title: 'handlers',
    task: async (_ctx, t) => {
      await playEnd.get(play)?.done;
      const list = handlers.get(play) ?? [];
      if (!list.length) return t.skip('handlers: none notified');
      return t.newListr(list.map((e) => ({
        title: e.task,
        task: (_c, t2) => finish(t2, e, `${e.task} | ${e.host}`),
      })), { concurrent: true, exitOnError: false });
    },
  });

  const buildPlay = (e: Extract<RunEvent, { event: 'play_start' }>, play: number) => {
    const sub = { concurrent: true, exitOnError: false } as const;
    const tasks = e.tasks.map((name, i) => ({ name, index: e.task_indexes[i]! }));
    const children: ListrTask[] = e.strategy === 'free'
      ? e.hosts.map((host) => ({
        title: host,
        task: (_c, t) => t.newListr(tasks.map((k) => leafTask(play, k.index, host, k.name, k.name)), { concurrent: false, exitOnError: false }),
      }))
      : tasks.map((k) => ({
        title: k.name,
        task: (_c, t) => t.newListr(e.hosts.map((host) => leafTask(play, k.index, host, host, host)), sub),
      }));
    return new Listr([{
      title: `PLAY [${e.play}]${e.batch_count !== undefined ? ` batch ${e.batch_index! + 1}/${e.batch_count}` : ''}`,
      task: (_c, t) => t.newListr([...children, handlersNode(play)], { concurrent: e.strategy === 'free', exitOnError: false }),
    }], {
      renderer,
      exitOnError: false,
      registerSignalListeners: false,
      rendererOptions: { collapseSubtasks: false, collapseErrors: true, collapseSkips: true, showSkipMessage: true, suffixSkips: false },
    });
  };

  return {
    event(e: RunEvent) {
      const run = 'play_index' in e && e.play_index !== undefined ? current.get(e.play_index) : undefined;
      switch (e.event) {
        case 'play_start': {
          const id = ++runs;
          current.set(e.play_index, id);
          runHosts.set(id, e.hosts);
          playEnd.set(id, deferred());
          const listr = buildPlay(e, id);
          chain = chain.then(() => listr.run().then(() => undefined, () => undefined));
          break;
        }
        case 'task':
          if (run === undefined) break;
          if (e.handler) {
            const list = handlers.get(run) ?? [];
            list.push(e);
            handlers.set(run, list);
          } else {
            leaf(run, e.task_index, e.host).resolve(e);
            // One run_once result stands for the batch: the other hosts' leaves say so.
            if (e.run_once) {
              for (const h of runHosts.get(run) ?? []) {
                if (h !== e.host) leaf(run, e.task_index, h).resolve(e);
              }
            }
          }
          break;
        case 'log':
          // Handlers have no leaf of their own; engine lines (ssh -v) belong to no task.
          if (run !== undefined && e.task_index !== undefined && !e.handler) {
            leaves.get(run)?.get(`${e.task_index}\0${e.host}`)?.output?.(e.line);
          }
          break;
        case 'transfer':
          if (run !== undefined && !e.handler) leaves.get(run)?.get(`${e.task_index}\0${e.host}`)?.output?.(progressBar(e.done, e.total, e.elapsed_ms));
          break;
        case 'host_done':
          if (run !== undefined && e.reason !== 'complete') settleAll(run, e.host);
          break;
        case 'play_stopped':
          stops.push(`[${e.play}] NO MORE HOSTS LEFT — ${e.msg}`);
          break;
        case 'play_end':
          if (run === undefined) break;
          ended.add(run);
          settleAll(run);
          playEnd.get(run)?.resolve(null);
          break;
        case 'recap':
          recap = e;
          break;
      }
    },
    async end() {
      await chain;
      if (!recap) return;
      const lines = [...stops, '', paint('PLAY RECAP', 1, opts.color), ...recapLines(recap.hosts, opts.color)];
      opts.out.write(`${opts.mask(lines.join('\n'))}\n`);
    },
  };
}
