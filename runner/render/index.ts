// Chooses the renderer: --json → NDJSON; a TTY without CI → Listr tree; otherwise plain lines.
import type { Renderer, RenderOptions } from './types.js';
import { jsonRenderer } from './json.js';
import { plainRenderer } from './plain.js';

export type { Renderer, RenderOptions } from './types.js';
export type RendererKind = 'tree' | 'plain' | 'json';

export function pickRenderer(json: boolean, out: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): RendererKind {
  if (json) return 'json';
  // Escape hatch for demos/recordings: force a renderer whatever stdout is.
  const forced = env.RANCHER_PLAY_RENDERER;
  if (forced === 'tree' || forced === 'plain' || forced === 'json') return forced;
  if (!out.isTTY || (env.CI !== undefined && env.CI !== '' && env.CI !== 'false')) return 'plain';
  return 'tree';
}

export function useColor(out: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return out.isTTY === true;
}

export async function createRenderer(kind: RendererKind, opts: RenderOptions): Promise<Renderer> {
  if (kind === 'json') return jsonRenderer(opts);
  // listr2 is loaded only when the tree is drawn: --json and plain output skip its start-up cost.
  if (kind === 'tree') return (await import('./tree.js')).treeRenderer(opts);
  return plainRenderer(opts);
}
