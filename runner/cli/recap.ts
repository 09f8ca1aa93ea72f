// `rancher-play recap merge FILE...`: the `--json` outputs of the slices of one run (`--slice K/N`,
// each run by whatever fans the work out: an Indexed Job, a CI matrix) folded into the recap and
// the exit code one unsliced run would have given.
import { readFileSync } from 'node:fs';
import { InputError, type InputProblem } from '../errors.js';
import type { HostCounts, RecapEvent } from '../types.js';
import type { Io } from './views.js';

const COUNTS: (keyof HostCounts)[] = ['ok', 'changed', 'failed', 'skipped', 'unreachable'];

export interface Merged {
  /** Every file's task events, file by file, in their order. */
  tasks: Record<string, unknown>[];
  recap: RecapEvent;
  /** Hosts found in more than one file (their counts are added up). */
  duplicates: { host: string; files: string[] }[];
}

/** Reads and merges the files; every problem (unreadable, not NDJSON, no recap) is an InputError. */
export function mergeRecaps(files: string[]): Merged {
  const problems: InputProblem[] = [];
  const tasks: Record<string, unknown>[] = [];
  const hosts: Record<string, HostCounts> = {};
  const seenIn = new Map<string, string[]>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push({ pos: { file, line: 1, col: 1 }, message: code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? 'error'})` });
      continue;
    }
    let recap: RecapEvent | undefined;
    const fileTasks: Record<string, unknown>[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let ev: unknown;
      try {
        ev = JSON.parse(line);
      } catch {
        problems.push({ pos: { file, line: i + 1, col: 1 }, message: 'is not a JSON event (expected the NDJSON of `run --json`)' });
        return;
      }
      const o = ev as Record<string, unknown>;
      if (o === null || typeof o !== 'object' || Array.isArray(o) || typeof o.event !== 'string') {
        problems.push({ pos: { file, line: i + 1, col: 1 }, message: 'is not an event object (no "event" field)' });
        return;
      }
      if (o.event === 'task') fileTasks.push(o);
      else if (o.event === 'recap') {
        const bad = recapProblem(o);
        if (bad) problems.push({ pos: { file, line: i + 1, col: 1 }, key: 'hosts', message: bad });
        else recap = o as unknown as RecapEvent;
      }
    });
    if (!recap) {
      if (!problems.some((p) => p.pos?.file === file)) {
        problems.push({ pos: { file, line: 1, col: 1 }, message: 'has no recap event: that slice did not finish (see its exit code and stderr)' });
      }
      continue;
    }
    tasks.push(...fileTasks);
    for (const [host, c] of Object.entries(recap.hosts)) {
      seenIn.set(host, [...(seenIn.get(host) ?? []), file]);
      const sum = (hosts[host] ??= { ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0 });
      for (const k of COUNTS) sum[k] += c[k];
    }
  }
  if (problems.length) throw new InputError(problems);
  const duplicates = [...seenIn].filter(([, f]) => f.length > 1).map(([host, f]) => ({ host, files: f }));
  return { tasks, recap: { event: 'recap', hosts }, duplicates };
}

function recapProblem(o: Record<string, unknown>): string | undefined {
  const h = o.hosts;
  if (h === null || typeof h !== 'object' || Array.isArray(h)) return 'must be an object of hosts';
  for (const [host, c] of Object.entries(h as Record<string, unknown>)) {
    for (const k of COUNTS) {
      const v = (c as Record<string, unknown> | null)?.[k];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return `${host}.${k} must be a count (a whole number ≥ 0)`;
    }
  }
  return undefined;
}

/** The command: prints the merged recap (PLAY RECAP, or with --json the events and the recap as
 * one run's --json would) and returns the exit code the unsliced run would have had. */
export async function recapMerge(files: string[], opts: { json?: boolean }, io: Io): Promise<number> {
  const merged = mergeRecaps(files);
  const [{ exitCodeFor }, { recapLines }] = await Promise.all([import('../engine/executor.js'), import('../render/plain.js')]);
  for (const d of merged.duplicates) {
    io.stderr.write(`warning: host ${d.host} is in ${d.files.join(' and ')} (not one run's slices?); its counts are added up\n`);
  }
  if (opts.json) {
    for (const t of merged.tasks) io.stdout.write(`${JSON.stringify(t)}\n`);
    io.stdout.write(`${JSON.stringify(merged.recap)}\n`);
  } else {
    io.stdout.write(`PLAY RECAP (${files.length} file${files.length === 1 ? '' : 's'} merged)\n`);
    for (const l of recapLines(merged.recap.hosts, false)) io.stdout.write(`${l}\n`);
  }
  return exitCodeFor(merged.recap);
}

