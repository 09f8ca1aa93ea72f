#!/usr/bin/env node
// Thin launcher (CommonJS, see bin/package.json). The compiled CLI lives in dist/ (built by
// `npm ci` through `prepare`); the build also makes it one file with a V8 code cache
// (dist/cli.cjs, scripts/cli-bundle.mjs), which starts about twice as fast. That file is used
// when present and not older than dist/ (a `tsc` run alone leaves it stale), else dist/ is
// imported as before.
'use strict';
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');
const { runBundle } = require('./run-bundle.js');

const dist = join(__dirname, '..', 'dist');
const bundle = join(dist, 'cli.cjs');
const read = (path, encoding) => {
  try {
    return readFileSync(path, encoding);
  } catch {
    return undefined;
  }
};
const fresh = () => {
  try {
    return statSync(bundle).mtimeMs >= statSync(join(dist, 'runner', 'cli', 'index.js')).mtimeMs;
  } catch {
    return false;
  }
};
const source = fresh() ? read(bundle, 'latin1') : undefined;
if (source !== undefined) runBundle(bundle, source, read(`${bundle}.cache`));
else import('../dist/runner/cli/index.js').then((m) => m.runFromProcess());
