// The TypeScript compiler behind custom tasks (jiti's babel transform) with a content-keyed cache,
// so an unchanged task loads without babel: loading babel alone costs ~0.3 s, the compile more.
// jiti's own fsCache is keyed by file path (content only checked), written in place and placed
// in node_modules/.cache or /tmp; ours is keyed by everything the output depends on, written
// temp + rename, and lives in the user's cache directory. The cache is not user state: a dry
// run may fill it, and deleting it only costs one compile per file.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type { TransformOptions, TransformResult } from 'jiti';
import { packageVersion } from './version.js';

// Set by the one-file bundle (esbuild `define`), which has no jiti package.json to read.
declare const __RANCHER_PLAY_JITI_VERSION__: string | undefined;

/** `$XDG_CACHE_HOME/rancher-play/tasks`, else `~/.cache/rancher-play/tasks`. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  // A relative XDG_CACHE_HOME is invalid by the XDG spec and ignored.
  return join(xdg && isAbsolute(xdg) ? xdg : join(env.HOME || homedir(), '.cache'), 'rancher-play', 'tasks');
}

/** The nearest directory from `start` up whose package.json is named `name`. */
export function findPackageDir(start: string, name: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === name) return dir;
    } catch { /* not here: look further up */ }
    if (dirname(dir) === dir) return undefined;
  }
}

let versions: string | undefined;
/** rancher-play and jiti versions: a new release of either recompiles everything. */
function toolVersions(): string {
  if (versions) return versions;
  const rp = packageVersion();
  let jiti = typeof __RANCHER_PLAY_JITI_VERSION__ === 'string' ? __RANCHER_PLAY_JITI_VERSION__ : undefined;
  if (!jiti) {
    try {
      jiti = (createRequire(import.meta.url)('jiti/package.json') as { version: string }).version;
    } catch { /* a bundle built without the define */ }
  }
  versions = `rancher-play@${rp} jiti@${jiti ?? '?'}`;
  return versions;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
  }
  return value;
}

/**
 * The cache key of one compile: sha256 of the tool versions, the transform options (file name
 * included: the output embeds it, e.g. for `import.meta.url`) and the source text.
 */
export function compileKey(opts: TransformOptions): string {
  const { source, ...rest } = opts;
  return createHash('sha256').update(toolVersions()).update('\0').update(JSON.stringify(canonical(rest))).update('\0').update(source).digest('hex');
}

let compiler: ((opts: TransformOptions) => string) | undefined;
let compiled = 0;

/** Loads babel (through jiti's static entry, so the one-file bundle carries it). */
export async function loadCompiler(): Promise<void> {
  if (compiler) return;
  const { createJiti } = await import('jiti/static');
  const babel = createJiti(import.meta.url, { fsCache: false, moduleCache: false });
  compiler = (opts) => babel.transform(opts);
}

/** True once babel has been loaded in this process. */
export function compilerLoaded(): boolean {
  return compiler !== undefined;
}

/** How many sources this process compiled (cache misses). */
export function compileCount(): number {
  return compiled;
}

/** Thrown on a cache miss before `loadCompiler`: the caller loads babel and imports again. */
export class CompilerNeeded extends Error {
  constructor(file: string | undefined) {
    super(`compiler needed for ${file ?? 'a module'}`);
    this.name = 'CompilerNeeded';
  }
}

let missed = false;
/** True (once) when a CompilerNeeded was thrown since the last call; jiti may wrap the error. */
export function takeCompilerMiss(): boolean {
  const m = missed;
  missed = false;
  return m;
}

function store(file: string, code: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // Private: cached code is executed by later loads.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(tmp, code, { flag: 'wx', mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // A read-only or full cache directory only costs the next load a compile.
    rmSync(tmp, { force: true });
  }
}

/** jiti's `transform` option: the cached output when there is one, else babel's (then stored). */
export function cachedTransform(opts: TransformOptions): TransformResult {
  const file = join(compileCacheDir(), `${compileKey(opts)}.js`);
  try {
    return { code: readFileSync(file, 'utf8') };
  } catch { /* miss */ }
  if (!compiler) {
    missed = true;
    throw new CompilerNeeded(opts.filename);
  }
  const code = compiler(opts);
  compiled += 1;
  // jiti turns a syntax error into code that throws it; that is reported, not cached.
  if (!code.includes('__JITI_ERROR__')) store(file, code);
  return { code };
}
