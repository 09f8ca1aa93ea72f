// The templates shipped with the Rancher tasks: where they live (beside this module when run from
// source, in the package's tasks/templates/ when run from dist/) and how tasks render the ones
// they use internally (nginx, Docker drop-in). Playbooks reach the RKE ones through
// `render-template` with `src: ../tasks/templates/...`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedTemplate, renderTemplate } from '../../runner/sdk/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [here, join(here, '..', '..', '..', 'tasks', 'templates')];

/** Absolute path of a shipped template, e.g. `nginx-l7.conf.hbs`, or undefined. */
function findShipped(name: string): string | undefined {
  return candidates.map((dir) => join(dir, name)).find((p) => existsSync(p));
}

/** Absolute path of a shipped template, e.g. `nginx-l7.conf.hbs`. */
export function templatePath(name: string): string {
  const p = findShipped(name);
  if (p === undefined) throw new Error(`shipped template ${name} not found (looked in ${candidates.join(', ')})`);
  return p;
}

/** The text of a shipped template (a name, or a path ending in `templates/NAME`), read through
 * `read` (the task's controller reader); null when rancher-play ships no such template. */
export async function shippedTemplate(name: string, read: (path: string) => Promise<Buffer | null>): Promise<string | null> {
  // The one-file bundle carries the shipped templates inside itself.
  const embedded = embeddedTemplate(name);
  if (embedded !== undefined) return embedded;
  const path = findShipped(name);
  const text = path === undefined ? null : await read(path);
  return text === null ? null : text.toString('utf8');
}

/** Read a shipped template through `read` and render it (strict: a missing field fails). */
export async function renderShipped(
  name: string,
  data: Record<string, unknown>,
  read: (path: string) => Promise<Buffer | null>,
): Promise<string> {
  const text = await shippedTemplate(name, read);
  if (text === null) throw new Error(`cannot read shipped template ${name} (looked in ${candidates.join(', ')})`);
  return renderTemplate(text, data, name);
}
