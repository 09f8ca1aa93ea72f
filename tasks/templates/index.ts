// The templates shipped with the Rancher tasks: where they live (beside this module when run from
// source, in the package's tasks/templates/ when run from dist/) and how tasks render the ones
// they use internally (nginx, Docker drop-in). Playbooks reach the RKE ones through
// `render-template` with `src: ../tasks/templates/...`.
import Handlebars from 'handlebars';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedTemplate } from '../../runner/embedded.js';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [here, join(here, '..', '..', '..', 'tasks', 'templates')];

/** Absolute path of a shipped template, e.g. `nginx-l7.conf.hbs`. */
export function templatePath(name: string): string {
  for (const dir of candidates) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`shipped template ${name} not found (looked in ${candidates.join(', ')})`);
}

// A private environment: these templates get task-computed data only, and must fail loudly on a
// missing field rather than write an incomplete config.
const hb = Handlebars.create();
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** Render template text with strict lookups and no HTML escaping. */
export function renderText(source: string, data: Record<string, unknown>): string {
  let fn = compiled.get(source);
  if (!fn) {
    fn = hb.compile(source, { strict: true, noEscape: true });
    compiled.set(source, fn);
  }
  return fn(data);
}

/** Read a shipped template through `read` (the task's controller reader) and render it. */
export async function renderShipped(
  name: string,
  data: Record<string, unknown>,
  read: (path: string) => Promise<Buffer | null>,
): Promise<string> {
  // The one-file bundle carries the shipped templates inside itself.
  const embedded = embeddedTemplate(name);
  if (embedded !== undefined) return renderText(embedded, data);
  const path = templatePath(name);
  const src = await read(path);
  if (src === null) throw new Error(`cannot read shipped template ${path}`);
  return renderText(src.toString('utf8'), data);
}
