// What every renderer implements: it consumes executor events and finishes when asked.
import type { RunEvent } from '../types.js';

export interface Renderer {
  event(e: RunEvent): void;
  /** Flush and wait for any asynchronous drawing (the Listr tree) to finish. */
  end(): Promise<void>;
}

export interface RenderOptions {
  out: NodeJS.WritableStream;
  diff: boolean;
  verbose: boolean;
  color: boolean;
  /** Replaces secret values in any text shown to the user. */
  mask(text: string): string;
}

/** Deep copy of an event with every string passed through `mask`. */
export function maskEvent<T>(e: T, mask: (s: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return mask(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(e) as T;
}
