// Shared by every lab test: bring a lab up once (idempotent) and reach its hosts with the system
// OpenSSH client. Tests import this, never the lab's internals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { labDown, labUp, type LabInfo } from '../../lab/lab.js';

import * as core from '../../lab/lab.js';
import * as hooks from '../../lab/testing.js';

export type { LabInfo } from '../../lab/lab.js';
/** The lab's commands and its test hooks (run on a host, cut links, stop daemons, ...). */
export const lab = { ...core, ...hooks };

/**
 * The lab `name` (default "rp"), brought up if it is not; its description. `fresh: true` rebuilds
 * it first (new hosts, no trace of earlier runs): for tests that need an untouched lab, best with
 * a name of their own since other test files share the default lab.
 */
export async function useLab(name?: string, opts: { fresh?: boolean } = {}): Promise<LabInfo> {
  try {
    if (opts.fresh) await labDown(name);
    return await labUp({ name });
  } catch (e) {
    // uvu reports a failing `before` hook only as "(0 / N)": say why, or CI shows nothing.
    console.error(`lab ${name ?? 'rp'} could not be brought up: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    throw e;
  }
}

/**
 * An ssh_config for the system client: the lab key, the lab known_hosts (or an empty one when
 * `knownHosts: false`, to see an unknown host key refused), strict checking, no agent, no prompts.
 * Use with `ssh -F FILE -J rancher@BASTION user@NODE`.
 */
const made: string[] = [];
process.once('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function sshConfig(info: LabInfo, opts: { knownHosts?: string | false } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'rp-labssh-'));
  made.push(dir); // removed when the test file's process exits
  const kh = opts.knownHosts === false ? join(dir, 'known_hosts') : opts.knownHosts ?? info.knownHosts;
  if (opts.knownHosts === false) writeFileSync(kh, '');
  const file = join(dir, 'ssh_config');
  writeFileSync(file, [
    'Host *',
    `  IdentityFile ${info.sshKey}`,
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    `  UserKnownHostsFile ${kh}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  ConnectTimeout 5',
    '  LogLevel ERROR',
    '',
  ].join('\n'));
  return file;
}

/** Run a command on a lab host through the bastion with the system ssh client. */
export function sshVia(info: LabInfo, user: string, address: string, cmd: string, config = sshConfig(info)) {
  const r = spawnSync('ssh', ['-F', config, '-J', `rancher@${info.bastion.address}`, `${user}@${address}`, cmd], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
