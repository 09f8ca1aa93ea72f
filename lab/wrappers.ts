// The lab's stand-ins for rke/helm/kubectl on the controller: shell wrappers that run a Node
// fixture under lab/fixtures/. One writer, used by the lab (lab.ts writeWrappers) and by
// bench/startup.mjs, so both stand in for the same tools the same way.
import { join } from 'node:path';
import { q } from './sys.js';

/** Which fixture each wrapper runs, and the rke release it plays (lab/fixtures/rke-fixture). */
export const WRAPPER_PLAYS: Record<string, { fixture: string; rkeVersion?: string }> = {
  rke: { fixture: 'rke', rkeVersion: 'v0.1.9' },
  rkeV1: { fixture: 'rke', rkeVersion: 'v1.4.11' },
};

export interface WrapperOptions {
  fixturesDir: string;
  /** The node that runs the fixture. */
  node: string;
  /** The lab this wrapper belongs to (a comment) and its dir (RANCHER_PLAY_LAB_DIR). */
  labName?: string;
  labDir?: string;
}

/**
 * The wrapper script for `tool` (a key of the lab's `bin`: rke, rkeV1, helm, kubectl).
 * rke's wrappers answer `--version` / `-v` themselves: validate asks it of rke_binary at every
 * run, and starting Node for it cost ~0.15 s where a real, Go-built rke answers in a few ms.
 * The text is the fixture's: rancher/rke main.go sets app.Name "rke" and app.Version, and
 * urfave/cli's version flag ("version, v", vendor/github.com/urfave/cli/flag.go VersionFlag)
 * prints "%v version %v\n" (vendor/github.com/urfave/cli/help.go printVersion).
 */
export function wrapperScript(tool: string, o: WrapperOptions): string {
  const { fixture, rkeVersion } = WRAPPER_PLAYS[tool] ?? { fixture: tool };
  const lines = ['#!/bin/sh', `# rancher-play lab${o.labName ? ` "${o.labName}"` : ''}: ${tool} stand-in (lab fixture)`];
  if (o.labDir) lines.push(`export RANCHER_PLAY_LAB_DIR=${q(o.labDir)}`);
  if (rkeVersion) {
    lines.push(`export RKE_FIXTURE_VERSION=${rkeVersion}`);
    lines.push(`case "$#:$1" in 1:--version|1:-v) echo ${q(`rke version ${rkeVersion}`)}; exit 0;; esac`);
  }
  lines.push(`exec ${q(o.node)} ${q(join(o.fixturesDir, `${fixture}-fixture`))} "$@"`);
  return `${lines.join('\n')}\n`;
}
