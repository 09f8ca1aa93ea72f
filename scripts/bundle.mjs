#!/usr/bin/env node
// `npm run bundle`: one self-contained ESM file, bundle/rancher-play.mjs, for jump hosts that
// have only `node` (>= 20): every command, built-in task and shipped template (embedded), jiti
// (with babel, loaded only when a custom task is not in the compile cache) for custom TypeScript
// tasks, uvu for `rancher-play test`, and the prebuilt ajv validators of the built-in schemas (as
// `npm run build` makes for dist/, so the bundle starts without loading ajv). The lab
// (root-only rehearsal tooling) is left out.
// Usage: node scripts/bundle.mjs [--outfile PATH]
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { schemaDir, validatorsCode } from './validators.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const oi = args.indexOf('--outfile');
const outfile = resolve(oi >= 0 && args[oi + 1] ? args[oi + 1] : join(root, 'bundle', 'rancher-play.mjs'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const jitiPkg = JSON.parse(readFileSync(join(root, 'node_modules', 'jiti', 'package.json'), 'utf8'));

const templatesDir = join(root, 'tasks', 'templates');
const templates = Object.fromEntries(
  readdirSync(templatesDir).filter((f) => f.endsWith('.hbs')).sort().map((f) => [f, readFileSync(join(templatesDir, f), 'utf8')]),
);

// The entry embeds the templates before the CLI runs; the CLI module itself is unchanged.
const entry = `
import { embedShipped } from './runner/engine/embedded.ts';
import { runFromProcess } from './runner/cli/index.ts';
embedShipped(${JSON.stringify(templates)});
runFromProcess();
`;

// runner/engine/version.ts: the bundle has no package.json to read the version from; the compile
// cache keys on jiti's version, which the bundle cannot read either.
const define = { RANCHER_PLAY_VERSION: JSON.stringify(pkg.version), __RANCHER_PLAY_JITI_VERSION__: JSON.stringify(jitiPkg.version) };

/**
 * The prebuilt validators, generated from the same sources the bundle is built from (not from
 * dist/, which may be stale): the schema module and the built-in tasks are bundled to a
 * temporary module (dependencies left in node_modules) and imported.
 */
async function prebuiltValidators(dir) {
  const mod = join(dir, `validators-src-${process.pid}.mjs`);
  try {
    await build({
      stdin: {
        contents: `export * as schema from './${schemaDir}/schema.ts';\nexport { builtinTasks } from './tasks/index.ts';\n`,
        resolveDir: root, sourcefile: 'validators-entry.ts', loader: 'ts',
      },
      bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external',
      outfile: mod, define, plugins: [noLab], logLevel: 'warning',
    });
    const { schema, builtinTasks } = await import(pathToFileURL(mod).href);
    return validatorsCode(schema, builtinTasks);
  } finally {
    rmSync(mod, { force: true });
  }
}

/**
 * The schema module loads validators.cjs (beside it in dist/) with a require made from its own URL,
 * which a bundler cannot follow; in the bundle, that one call becomes a plain require() of
 * the generated module, so it is bundled in. Fails the build if the call is not found.
 */
function embedValidators(file) {
  const call = "requireHere('./validators.cjs')";
  return {
    name: 'embed-validators',
    setup(b) {
      b.onLoad({ filter: new RegExp(`[\\\\/]${schemaDir.split('/').join('[\\\\/]')}[\\\\/]schema\\.ts$`) }, (a) => {
        const src = readFileSync(a.path, 'utf8');
        if (src.split(call).length !== 2) throw new Error(`${relative(root, a.path)} no longer loads its validators with ${call}; update scripts/bundle.mjs`);
        return { contents: src.replace(call, `require(${JSON.stringify(file)})`), loader: 'ts' };
      });
    },
  };
}

/**
 * The template module requires handlebars' one-file build with a require made from its own URL
 * (cheaper for Node than an import); in the bundle that call becomes a plain require(), which
 * esbuild bundles. Fails the build if the call is not found.
 */
const embedHandlebars = {
  name: 'embed-handlebars',
  setup(b) {
    const call = "hbRequire('handlebars/dist/handlebars.js')";
    b.onLoad({ filter: /[\\/]runner[\\/]model[\\/]template\.ts$/ }, (a) => {
      const src = readFileSync(a.path, 'utf8');
      if (src.split(call).length !== 2) throw new Error(`${relative(root, a.path)} no longer loads handlebars with ${call}; update scripts/bundle.mjs`);
      return { contents: src.replace(call, "require('handlebars/dist/handlebars.js')"), loader: 'ts' };
    });
  },
};

/** Leaves the lab out: `rancher-play lab` then says it is not in this build. */
const noLab = {
  name: 'no-lab',
  setup(b) {
    b.onResolve({ filter: /(^|\/)lab\/lab(\.js|\.ts)?$/ }, (a) => ({ path: a.path, namespace: 'no-lab' }));
    b.onLoad({ filter: /.*/, namespace: 'no-lab' }, () => ({
      contents: "throw new Error('the lab is not part of the one-file bundle; run it from a checkout of rancher-play');",
      loader: 'js',
    }));
  },
};

// Write beside the target, then rename: a failed build never leaves a half-written bundle.
mkdirSync(dirname(outfile), { recursive: true });
const tmp = `${outfile}.tmp-${process.pid}`;
// Scratch files stay inside the checkout, where their imports of node_modules resolve.
const scratch = join(root, 'node_modules', '.cache', 'rancher-play-bundle');
mkdirSync(scratch, { recursive: true });
const validatorsFile = join(scratch, `validators-${process.pid}.cjs`);
try {
  const validators = await prebuiltValidators(scratch);
  writeFileSync(validatorsFile, validators.code);
  const result = await build({
    stdin: { contents: entry, resolveDir: root, sourcefile: 'bundle-entry.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: tmp,
    // Smaller to read and parse at every start (stack traces keep names: keepNames).
    minify: true,
    keepNames: true,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    // ssh2's optional native speed-ups: it falls back to pure JS when they cannot be loaded.
    external: ['cpu-features', '*.node'],
    define,
    plugins: [noLab, embedValidators(validatorsFile), embedHandlebars],
    banner: {
      js: [
        '#!/usr/bin/env node',
        `// rancher-play ${pkg.version}: one-file build (node >= 20, no node_modules needed). Built by scripts/bundle.mjs.`,
        // CommonJS dependencies call require()/__dirname; give the ESM bundle real ones.
        "import { createRequire as __rpCreateRequire } from 'node:module';",
        "import { fileURLToPath as __rpFileURLToPath } from 'node:url';",
        "import { dirname as __rpDirname } from 'node:path';",
        'const require = __rpCreateRequire(import.meta.url);',
        'const __filename = __rpFileURLToPath(import.meta.url);',
        'const __dirname = __rpDirname(__filename);',
      ].join('\n'),
    },
  });
  const inputs = Object.keys(result.metafile.inputs);
  const labInputs = inputs.filter((p) => /^lab\//.test(p));
  if (labInputs.length) throw new Error(`lab code leaked into the bundle: ${labInputs.join(', ')}`);
  // `rancher-play test` imports these; a bundle without them would fail only at test time.
  for (const need of ['node_modules/uvu/dist/index.mjs', 'node_modules/uvu/assert/index.mjs', 'node_modules/jiti/dist/babel.cjs']) {
    if (!inputs.includes(need)) throw new Error(`${need} is missing from the bundle`);
  }
  if (!inputs.includes(relative(root, validatorsFile))) throw new Error('the prebuilt validators are missing from the bundle');
  renameSync(tmp, outfile);
  const bytes = result.metafile.outputs[relative(root, tmp)]?.bytes ?? 0;
  console.log(`bundle: ${relative(process.cwd(), outfile) || outfile} (${(bytes / 1024 / 1024).toFixed(1)} MiB, ${inputs.length} modules, ${Object.keys(templates).length} templates and ${validators.count} prebuilt validators embedded)`);
} catch (e) {
  rmSync(tmp, { force: true });
  console.error(`bundle failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  rmSync(validatorsFile, { force: true });
}
