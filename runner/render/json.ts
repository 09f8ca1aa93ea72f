// --json: NDJSON, only `task` and `recap` events. Scripts parse these field names: add fields,
// never rename or drop one.
import type { RunEvent } from '../types.js';
import { maskEvent, type RenderOptions, type Renderer } from './types.js';

export function jsonRenderer(opts: RenderOptions): Renderer {
  return {
    event(e: RunEvent) {
      if (e.event !== 'task' && e.event !== 'recap') return;
      opts.out.write(`${JSON.stringify(maskEvent(e, opts.mask))}\n`);
    },
    async end() {},
  };
}
