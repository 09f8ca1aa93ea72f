// rancher-play's own version (`--version`), from its package.json rather than a copy that drifts.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Set by scripts/bundle.mjs (esbuild `define`): the one-file bundle has no package.json beside it.
declare const RANCHER_PLAY_VERSION: string | undefined;

/** The version in the package.json of this copy (two levels above runner/engine/ from source,
 * three above dist/runner/engine/ when built), or the one baked into the bundle. */
export function packageVersion(): string {
  if (typeof RANCHER_PLAY_VERSION === 'string') return RANCHER_PLAY_VERSION;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up += 1, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'rancher-play' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one level up
    }
  }
  return 'unknown';
}
