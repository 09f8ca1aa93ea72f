// Shipped files (tasks/templates/*.hbs) embedded in the one-file bundle. Empty when running
// from source or dist/, where the files themselves are read; scripts/bundle.mjs fills it so a
// jump host with only `node` and the bundle still has every built-in template.
const files = new Map<string, string>();

/** Called once by the bundle's entry with `{ 'nginx-l7.conf.hbs': '...' }`. */
export function embedShipped(map: Record<string, string>): void {
  for (const [name, text] of Object.entries(map)) files.set(name, text);
}

/** The embedded text of a shipped template, by file name or a path ending in `templates/NAME`. */
export function embeddedTemplate(nameOrPath: string): string | undefined {
  const direct = files.get(nameOrPath);
  if (direct !== undefined) return direct;
  const m = /(?:^|[\\/])templates[\\/]([^\\/]+)$/.exec(nameOrPath);
  return m ? files.get(m[1]!) : undefined;
}

/** True inside the one-file bundle (`rancher-play test` starts the bundle file itself again). */
export function isBundled(): boolean {
  return files.size > 0;
}
