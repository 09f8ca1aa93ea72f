// Paths as users write them in inventories, playbooks and ssh configs.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** `~` and `~/x` → the home directory (the user's unless given); other paths unchanged. */
export function expandHome(p: string, home: string = homedir()): string {
  if (p === '~') return home;
  return p.startsWith('~/') ? join(home, p.slice(2)) : p;
}

/** A user-written path: `~` expanded, a relative one resolved against `dir`. */
export function resolveFrom(dir: string, p: string, home: string = homedir()): string {
  return resolve(dir, expandHome(p, home));
}
