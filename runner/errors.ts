// Errors the CLI maps to exit codes. InputError carries every problem found in the input files,
// each as `file:line:column key message`, so a user fixes them all in one pass (exit 5).
import type { SourcePos } from './types.js';

export interface InputProblem {
  pos?: SourcePos;
  /** Dotted key path, e.g. `check-docker.min_version` or `hosts.node1.port`. */
  key?: string;
  message: string;
}

export function formatProblem(p: InputProblem): string {
  const where = p.pos ? `${p.pos.file}:${p.pos.line}:${p.pos.col} ` : '';
  const key = p.key ? `${p.key} ` : '';
  return `${where}${key}${p.message}`;
}

export class InputError extends Error {
  constructor(public readonly problems: InputProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'InputError';
  }
}

export const EXIT = {
  ok: 0,
  internal: 1,
  failed: 2,
  unreachable: 4,
  input: 5,
  interrupted: 130,
  /** Stopped by SIGTERM (CI, systemd, `timeout`): 128 + 15, as a shell reports it. */
  terminated: 143,
} as const;
