#!/usr/bin/env node
// Thin launcher. The compiled CLI lives in dist/ (built by `npm ci` through `prepare`); the build
// also makes it one file with a V8 code cache (dist/cli.cjs, scripts/cli-bundle.mjs), which starts
// about twice as fast. That file is used when present and not older than dist/ (a `tsc` run
// alone leaves it stale), else dist/ is imported as before.
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runBundle } from './run-bundle.js';

const bundle = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
const read = (path, encoding) => {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined;
  }
};
const fresh = () => {
  try {
    return statSync(bundle).mtimeMs >= statSync(new URL('../dist/runner/cli/index.js', import.meta.url)).mtimeMs;
  } catch {
    return false;
  }
};
const source = fresh() ? read(bundle, 'latin1') : undefined;
if (source !== undefined) runBundle(bundle, source, read(`${bundle}.cache`));
else (await import('../dist/runner/cli/index.js')).runFromProcess();
