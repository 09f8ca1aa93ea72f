#!/usr/bin/env node
// `npm run bundle`: one self-contained ESM file, bundle/rancher-play.mjs, for jump hosts that
// have only `node` (>= 20): every command, built-in task and shipped template (embedded), jiti
// (with babel, loaded only when a custom task is not in the compile cache) for custom TypeScript
// tasks, and uvu for `rancher-play test`. The lab (root-only rehearsal tooling) is left out.
// Usage: node scripts/bundle.mjs [--outfile PATH]
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
try {
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
    // runner/engine/version.ts: the bundle has no package.json to read the version from.
    // The bundle has no package.json files to read versions from (the compile cache keys on jiti's).
    define: { RANCHER_PLAY_VERSION: JSON.stringify(pkg.version), __RANCHER_PLAY_JITI_VERSION__: JSON.stringify(jitiPkg.version) },
    plugins: [noLab],
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
  renameSync(tmp, outfile);
  const bytes = result.metafile.outputs[relative(root, tmp)]?.bytes ?? 0;
  console.log(`bundle: ${relative(process.cwd(), outfile) || outfile} (${(bytes / 1024 / 1024).toFixed(1)} MiB, ${inputs.length} modules, ${Object.keys(templates).length} templates embedded)`);
} catch (e) {
  rmSync(tmp, { force: true });
  console.error(`bundle failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
