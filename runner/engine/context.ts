// Builds the TaskContext a task sees, over one Transport. The probe gets a context whose
// writeFile refuses, so a probe (and therefore check mode) cannot change a machine.
import { readFile } from 'node:fs';
import type { Applied, ExecOptions, ExecResult, Fact, KubeApi, PrecheckContext, TaskContext, TaskDefinition, WriteOptions } from '../task.js';
import type { Transport } from '../transport/transport.js';
import type { Status, TaskResult, Vars } from '../types.js';
import { shQuote } from '../quote.js';
import { resolveFrom } from '../paths.js';
import { openKubeApi, type ApiRouter } from './kube-api.js';

export interface ContextInput {
  transport: Transport;
  host: { name: string; address: string; groups: string[]; vars: Vars };
  vars: Vars;
  check: boolean;
  diff: boolean;
  playbookDir: string;
  signal: AbortSignal;
  /** Task/host `become` default for run/read/write. */
  become: boolean;
  /** Remaining time of the task's `timeout`, applied to every command. */
  deadline?: number;
  log(line: string): void;
  /** Byte progress of a transfer (drawn by renderers that can). */
  progress?(done: number, total: number, elapsedMs: number): void;
  /** The host's facts read so far (cleared when a task applies a change there). */
  facts?: FactCache;
  /** Routes to Kubernetes API servers over the run's SSH connections (`ctx.kubeApi`). */
  apiRouter?: ApiRouter;
}

/** Facts of one host by fact id, become and command line. */
export type FactCache = Map<string, Promise<unknown>>;

/** A controller file, `~` and relative paths resolved against `dir`; `null` when it does not exist. */
async function readLocalFrom(dir: string, path: string): Promise<Buffer | null> {
  try {
    // node:fs's callback form: validate reads certificates this way, and loading
    // node:fs/promises for it was a millisecond or two of its start-up.
    return await new Promise<Buffer>((resolve, reject) => readFile(resolveFrom(dir, path), (e, b) => (e ? reject(e) : resolve(b))));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** What a task's `precheck` sees for one host: its vars and the controller's files, no connection. */
export function precheckContext(host: string, vars: Vars, playbookDir: string): PrecheckContext {
  return {
    host, vars, playbookDir,
    resolve: (p) => resolveFrom(playbookDir, p),
    readLocal: (p) => readLocalFrom(playbookDir, p),
  };
}

/** Transfers smaller than this finish too fast for a progress bar to mean anything. */
const PROGRESS_MIN_BYTES = 4 << 20;


export function buildContext(input: ContextInput, phase: 'probe' | 'apply', apis: Set<KubeApi> = new Set()): TaskContext {
  const { transport, signal } = input;
  const timeoutFor = (own?: number): number | undefined => {
    if (input.deadline === undefined) return own;
    const left = Math.max(1, input.deadline - Date.now());
    return own === undefined ? left : Math.min(own, left);
  };
  const aborted = (): void => {
    if (signal.aborted) throw new Error(signal.reason instanceof Error ? signal.reason.message : 'aborted');
  };
  // Only probes share what was read: apply reads after its own changes, so it reads afresh.
  const facts = phase === 'probe' ? input.facts : undefined;
  return {
    host: input.host,
    vars: input.vars,
    check: input.check,
    diff: input.diff,
    playbookDir: input.playbookDir,
    signal,
    resolve: (p) => resolveFrom(input.playbookDir, p),
    quote: shQuote,
    async run(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
      aborted();
      return transport.exec(command, { ...opts, become: opts.become ?? input.become, timeoutMs: timeoutFor(opts.timeoutMs) });
    },
    fact<P, T>(fact: Fact<P, T>, params?: P): Promise<T> {
      aborted();
      const command = fact.command(params as P, shQuote);
      const key = `${fact.id}\0${input.become}\0${command}`;
      let hit = facts?.get(key) as Promise<T> | undefined;
      if (!hit) {
        hit = transport.exec(command, { become: input.become, timeoutMs: timeoutFor() }).then((r) => fact.parse(r, params as P));
        facts?.set(key, hit);
        hit.catch(() => facts?.delete(key)); // a failed read is tried again next time
      }
      return hit;
    },
    async readFile(path: string): Promise<string | null> {
      aborted();
      const b = await transport.readFile(path, { become: input.become });
      return b === null ? null : b.toString('utf8');
    },
    async writeFile(path: string, content: string | Buffer, opts: WriteOptions = {}): Promise<void> {
      if (phase === 'probe' || input.check) {
        throw new Error(`writeFile(${path}) refused: tasks may only read while probing${input.check ? ' (check mode)' : ''}`);
      }
      aborted();
      await transport.writeFile(path, content, { ...opts, become: opts.become ?? input.become });
    },
    async upload(localPath: string, dest: string, opts: WriteOptions = {}): Promise<{ bytes: number; ms: number }> {
      if (phase === 'probe' || input.check) {
        throw new Error(`upload(${dest}) refused: tasks may only read while probing${input.check ? ' (check mode)' : ''}`);
      }
      aborted();
      const started = Date.now();
      let last = 0;
      const onProgress = (done: number, total: number): void => {
        if (!input.progress || total < PROGRESS_MIN_BYTES) return;
        const now = Date.now();
        // A few redraws a second are enough; the last one always goes out.
        if (done < total && now - last < 200) return;
        last = now;
        input.progress(done, total, now - started);
      };
      return transport.upload(resolveFrom(input.playbookDir, localPath), dest, { ...opts, become: opts.become ?? input.become, onProgress });
    },
    readLocal: (path) => readLocalFrom(input.playbookDir, path),
    log: (line) => input.log(line),
    async kubeApi(kubeconfig, opts = {}): Promise<KubeApi> {
      aborted();
      const api = await openKubeApi(resolveFrom(input.playbookDir, kubeconfig), input.apiRouter, { ...opts, vars: input.vars, log: input.log });
      apis.add(api);
      return { ...api, problem: () => api.problem(), close: async () => { apis.delete(api); await api.close(); } };
    },
  };
}

/** Tunnels a task left open are closed when its probe or apply returns (or throws). */
async function closeAll(apis: Set<KubeApi>): Promise<void> {
  const open = [...apis];
  apis.clear();
  await Promise.all(open.map((a) => a.close().catch(() => undefined)));
}

/**
 * The task lifecycle both the executor and `runTask` use: the read-only probe, then — only when
 * it found a difference, outside check mode, and when the task can change things — apply, whose
 * result overrides or extends the probe's. Errors propagate to the caller, which reports them.
 */
export async function probeThenApply<P, S>(task: TaskDefinition<P, S>, params: P, input: ContextInput): Promise<TaskResult> {
  const apis = new Set<KubeApi>();
  let probe;
  try {
    probe = await task.probe(buildContext(input, 'probe', apis), params);
  } finally {
    await closeAll(apis);
  }
  const status: Status = probe.status === 'failed' ? 'failed' : probe.status === 'skipped' ? 'skipped' : probe.changed ? 'changed' : 'ok';
  const fromProbe: TaskResult = {
    status, changed: status === 'changed', msg: probe.msg, diff: probe.diff, facts: probe.facts,
    data: probe.data, warnings: probe.warnings,
  };
  if (status !== 'changed' || input.check || !task.apply) return fromProbe;
  let a: Applied;
  try {
    a = (await task.apply(buildContext(input, 'apply', apis), params, probe)) ?? {};
  } finally {
    await closeAll(apis);
    input.facts?.clear(); // what was read before a change may no longer hold
  }
  const final: Status = a.status === 'failed' ? 'failed' : (a.changed ?? true) ? 'changed' : 'ok';
  return {
    status: final, changed: final === 'changed', msg: a.msg ?? probe.msg, diff: a.diff ?? probe.diff,
    facts: { ...(probe.facts ?? {}), ...(a.facts ?? {}) }, data: { ...(probe.data ?? {}), ...(a.data ?? {}) },
    warnings: [...(probe.warnings ?? []), ...(a.warnings ?? [])],
  };
}
