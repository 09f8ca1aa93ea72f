#!/usr/bin/env node
// Build step after tsc (npm run build / prepare): the compiled CLI (dist/runner/cli/index.js and
// everything it imports, yaml/handlebars/commander included) as ONE CommonJS file, dist/cli.cjs,
// plus a V8 code cache for it, dist/cli.cjs.cache, made here by running the CLI once (validate of
// a shipped playbook). bin/rancher-play.js runs the file with that cache: one file to read and
// no module resolution, and most functions need no compiling — start-up was mostly loading and
// compiling ~150 modules (72 of yaml's CJS build alone). Nothing writes the cache at run time.
// Packages that are never on `validate`'s path and load files of their own stay in node_modules
// (ssh2, jiti, uvu, ajv: loaded only by the commands that need them).
// Usage: node scripts/cli-bundle.mjs            (build dist/cli.cjs and its cache)
//        node scripts/cli-bundle.mjs --warm ARGS (internal: run the CLI with ARGS, write the cache)
import { build } from 'esbuild';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import runBundleModule from '../bin/run-bundle.js';

const { BUNDLE_ID_AT, BUNDLE_ID_LENGTH, runBundle } = runBundleModule;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outfile = join(dist, 'cli.cjs');
const cacheFile = `${outfile}.cache`;

/**
 * Rewrites of the compiled modules, each failing the build when its text is not found (a change
 * to the source must update this script, not silently change the bundle):
 * - import.meta.url → the URL the module has in dist/ (files found relative to it — package.json,
 *   tasks/templates, validators.cjs, jiti — resolve as from dist/, wherever the package lives);
 * - template.js requires handlebars' one-file build with a require made from its own URL: a plain
 *   require() instead, so the file is bundled; its fallback import is top-level await, which
 *   CommonJS cannot have (the one-file build is always there when bundled);
 * - the lab stays out (root-only tooling): imported from dist/lab/ when `rancher-play lab` runs.
 * V8 loses a vm script's import() callback when its code comes from a cache made by another
 * process (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so the bundle has no import() of its own:
 * what it imports at run time goes through __rpImport, the launcher's plain import().
 */
const fixed = {
  'runner/model/template.js': [
    ["hbRequire('handlebars/dist/handlebars.js')", "require('handlebars/dist/handlebars.js')"],
    ["(loadHandlebars() ?? (await import('handlebars')).default)", 'loadHandlebars()'],
  ],
  // The prebuilt validators (scripts/validators.mjs, run before this) bundled too, so they are in
  // the code cache; without the file, schemas compile at run time as from dist/.
  ...(existsSync(join(dist, 'runner', 'model', 'validators.cjs'))
    ? { 'runner/model/schema.js': [["requireHere('./validators.cjs')", "require('./validators.cjs')"]] } : {}),
  'runner/cli/index.js': [["import('../../lab/lab.js')", "__rpImport(__rpUrl('lab/lab.js'))"]],
};
const rewrite = {
  name: 'dist-urls',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (a) => {
      if (!a.path.startsWith(dist + sep)) return undefined;
      const rel = relative(dist, a.path).split(sep).join('/');
      let src = readFileSync(a.path, 'utf8');
      for (const [from, to] of fixed[rel] ?? []) {
        if (src.split(from).length !== 2) throw new Error(`dist/${rel} no longer has ${from}; update scripts/cli-bundle.mjs`);
        src = src.replace(from, to);
      }
      // import() of a package or builtin (what is not bundled): through the launcher's import
      // (__rpImport), as a vm script's own import() cannot use a code cache made in another process.
      src = src.replace(/(?<![\w$.])import\((?=['"](?:node:|(?:ssh2|jiti|uvu|ajv|ajv-formats)['"/]))/g, '__rpImport(');
      return { contents: src.split('import.meta.url').join(`__rpUrl(${JSON.stringify(rel)})`), loader: 'js' };
    });
  },
};

/**
 * A plugin that gives our modules, for the import `specifier`, a module of stand-ins: each
 * function `specifier` exports, loading `load` (JS code) on its first call or `new`. Names are the
 * real module's (read here), so a new import still resolves; one that is not a function fails the
 * build (no matching export) unless `extra` (lines of JS) exports it.
 */
function lazyModule(specifier, load, extra = []) {
  const namespace = `lazy-${specifier.replace(/\W/g, '-')}`;
  const filter = new RegExp(`^${specifier.replace(/[/.]/g, (c) => `\\${c}`)}$`);
  return {
    name: namespace,
    setup(b) {
      b.onResolve({ filter }, (a) => (a.importer.startsWith(dist + sep) ? { path: specifier, namespace } : undefined));
      b.onLoad({ filter: /.*/, namespace }, async () => {
        const real = await import(specifier);
        const names = Object.keys(real).filter((n) => n !== 'default' && typeof real[n] === 'function');
        return {
          loader: 'js',
          resolveDir: root,
          contents: [
            `let m; const p = () => (m ??= ${load});`,
            ...names.map((n) => `export function ${n}(...a) { return new.target ? new (p().${n})(...a) : p().${n}.apply(this, a); }`),
            ...extra,
          ].join('\n'),
        };
      });
    },
  };
}

// node:fs/promises costs ~1-1.5 ms to load (it brings readline with it) and validate never uses it.
const lazyFsPromises = lazyModule('node:fs/promises', "require('node:fs').promises", ["export const constants = require('node:fs').constants;"]);
// yaml is read only when js-yaml leaves a file to it (runner/model/yamlfast.ts) and by tasks as
// they run, yet importing it initialises its 72 modules at every start.
const lazyYaml = lazyModule('yaml', "require('yaml')");

async function bundle() {
  const id = randomBytes(BUNDLE_ID_LENGTH / 2).toString('hex');
  const header = '// rancher-play ';
  if (header.length !== BUNDLE_ID_AT) throw new Error('bin/run-bundle.js BUNDLE_ID_AT does not match the header');
  // A failed build leaves no bundle: bin/rancher-play.js then runs dist/ as it is.
  rmSync(outfile, { force: true });
  rmSync(cacheFile, { force: true });
  const tmp = `${outfile}.tmp-${process.pid}`;
  const result = await build({
    entryPoints: [join(dist, 'runner', 'cli', 'index.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: tmp,
    // Less to read; names kept for stack traces and error names (keepNames).
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // (__rpImport above names the same packages.)
    external: ['ssh2', 'cpu-features', '*.node', 'jiti', 'uvu', 'ajv', 'ajv-formats'],
    plugins: [rewrite, lazyFsPromises, lazyYaml],
    banner: {
      js: [
        // The build id: the cache is used only with the bundle it was made from (V8 itself checks
        // little more than the source's length).
        `${header}${id} CLI bundle, built by scripts/cli-bundle.mjs from dist/ (run by bin/rancher-play.js)`,
        // The CommonJS wrapper is part of the file: V8 compiles the text as read, with no copy of
        // its megabyte made by joining strings at every start.
        // Strict, as the ES modules it is made from (esbuild's own directive comes after this).
        "(function (exports, require, module, __filename, __dirname, __rpImport) {'use strict';",
        "const __rpUrl = (rel) => require('node:url').pathToFileURL(require('node:path').join(__dirname, rel)).href;",
      ].join('\n'),
    },
    footer: { js: '})' },
  });
  const stray = readFileSync(tmp, 'latin1').match(/(?<![\w$.])import\(.{0,40}/);
  if (stray) throw new Error(`dist/cli.cjs would call import() itself (${stray[0]}…); route it through __rpImport`);
  const inputs = Object.keys(result.metafile.inputs);
  const leaked = inputs.filter((p) => /^dist\/lab\//.test(p) || /node_modules\/(ssh2|jiti|ajv|uvu)\//.test(p));
  if (leaked.length) throw new Error(`these should stay out of dist/cli.cjs: ${leaked.join(', ')}`);
  renameSync(tmp, outfile);
  return { id, modules: inputs.length, bytes: result.metafile.outputs[relative(root, tmp)]?.bytes ?? 0 };
}

/** Runs the CLI from the new bundle in a child (as bin/rancher-play.js loads it), which writes
 * the code cache once its commands are done: the cache then holds the functions they ran
 * compiled, not only the top level. */
function warm() {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--warm'], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.status !== 0 || !existsSync(cacheFile)) throw new Error(`no code cache was written:\n${(r.stdout + r.stderr).slice(-2000)}`);
}

// What the cache is made from: validate of the shipped playbooks (prod.yml names files this
// machine lacks, so these find problems: their code ran all the same), and --version.
const WARM = [
  ['--version'],
  ['validate', 'playbooks/local-demo.yml', '-i', 'inventory/local.yml'],
  ...['ha-l7', 'ha-l4', 'ha-helm', 'ha-rke2', 'preflight'].map((p) => ['validate', `playbooks/${p}.yml`, '-i', 'inventory/prod.yml']),
];

if (process.argv[2] === '--warm') {
  const source = readFileSync(outfile, 'latin1');
  const id = source.slice(BUNDLE_ID_AT, BUNDLE_ID_AT + BUNDLE_ID_LENGTH);
  const { script, exports } = runBundle(outfile, source, undefined, false);
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  for (const argv of WARM) await exports.main(argv, { stdout: sink, stderr: sink, env: { ...process.env, NO_COLOR: '1' } });
  const tmp = `${cacheFile}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([Buffer.from(id, 'latin1'), script.createCachedData()]));
  renameSync(tmp, cacheFile);
  process.exitCode = 0;
} else {
  try {
    const { modules, bytes } = await bundle();
    warm();
    const cache = readFileSync(cacheFile).length;
    console.log(`cli bundle: dist/cli.cjs (${(bytes / 1024).toFixed(0)} KiB, ${modules} modules), code cache ${(cache / 1024).toFixed(0)} KiB`);
  } catch (e) {
    rmSync(outfile, { force: true });
    rmSync(cacheFile, { force: true });
    console.error(`cli bundle failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
