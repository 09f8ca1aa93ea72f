// `serial:` → the play's batches, as ansible-playbook cuts them (playbook_executor.py
// `_get_serialized_batches`, utils/helpers.py `pct_to_int`): each size is a host count or a
// percentage of all the play's hosts (rounded down, at least 1); the last size repeats until
// every host has a batch; a size of 0 takes every host left.
import type { BatchSize } from '../types.js';

export function batchCount(size: BatchSize, total: number): number {
  if (typeof size === 'string' && size.endsWith('%')) {
    return Math.floor((Number.parseInt(size, 10) / 100) * total) || 1;
  }
  return typeof size === 'number' ? size : Number.parseInt(size, 10);
}

export function serialBatches<T>(hosts: readonly T[], serial: readonly BatchSize[] | undefined): T[][] {
  const left = [...hosts];
  const sizes = serial?.length ? serial : [0];
  const out: T[][] = [];
  let i = 0;
  while (left.length) {
    const n = batchCount(sizes[i]!, hosts.length);
    if (n <= 0) {
      out.push(left.splice(0));
      break;
    }
    out.push(left.splice(0, n));
    i = Math.min(i + 1, sizes.length - 1);
  }
  return out;
}
