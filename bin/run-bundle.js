// Runs dist/cli.cjs (scripts/cli-bundle.mjs) as Node would run a CommonJS module, but compiled
// through vm.Script so that V8 can use the code cache made at build time (Node 20 has no compile
// cache of its own). Shared by bin/rancher-play.js and the build step that makes the cache.
'use strict';
const { createRequire } = require('node:module');
const { dirname } = require('node:path');
const { Script } = require('node:vm');

/** Where the build id sits in the bundle's first line, and its length; the cache starts with it. */
const BUNDLE_ID_AT = 16;
const BUNDLE_ID_LENGTH = 16;

/**
 * Compiles and runs the bundle `source` (read from `file`; a function expression taking
 * CommonJS's module arguments, pure ASCII: esbuild escapes the rest), with the code cache
 * `cached` (build id + V8 data) when it belongs to this very bundle; V8 rejects it by itself
 * when made by another Node or with other flags, and the code is then compiled as usual. Starts
 * the CLI on process.argv unless `start` is false; returns the script and the bundle's exports.
 */
function runBundle(file, source, cached, start = true) {
  const id = source.slice(BUNDLE_ID_AT, BUNDLE_ID_AT + BUNDLE_ID_LENGTH);
  const ours = cached !== undefined && cached.length > BUNDLE_ID_LENGTH && cached.latin1Slice(0, BUNDLE_ID_LENGTH) === id;
  const script = new Script(source, { filename: file, cachedData: ours ? cached.subarray(BUNDLE_ID_LENGTH) : undefined });
  const module = { exports: {}, filename: file, id: file, loaded: false };
  // Its import() of packages and builtins (jiti, uvu, the lab, node:readline) is this module's:
  // a vm script's own import() does not survive a code cache made by another process.
  const importer = (specifier) => import(specifier);
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importer);
  if (start) module.exports.runFromProcess();
  return { script, exports: module.exports };
}

module.exports = { BUNDLE_ID_AT, BUNDLE_ID_LENGTH, runBundle };
