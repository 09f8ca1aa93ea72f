// node:https and node:dns load when a task first uses them, not when validate loads the task
// list (loading them was a few ms of every start).
import type * as Dns from 'node:dns/promises';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

const builtin = createRequire(import.meta.url);
export const https = (): typeof Https => builtin('node:https') as typeof Https;
export const dns = (): typeof Dns => builtin('node:dns/promises') as typeof Dns;
