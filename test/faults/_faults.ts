// Shared by the fault scenarios: a lab of their own (they cut links and kill daemons, which would
// disturb tests sharing the default lab), an inventory with short timeouts, and a CLI run that can
// be watched and acted on while it runs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { useLab, lab, type LabInfo } from '../lab/_lab.js';
import { cliAsync } from '../unit/cli-helpers.js';

export { lab };
export const LAB = 'h9';

export async function faultLab(): Promise<LabInfo> {
  return useLab(LAB);
}

/** The lab inventory with a short connect timeout, written beside the lab's own. */
export function shortTimeoutInventory(info: LabInfo, connectTimeoutS = 3): string {
  const text = lab.inventoryText(info).replace(/^defaults:\n/m, `defaults:\n  connect_timeout: ${connectTimeoutS}\n`);
  const file = join(info.dir, 'faults-inventory.yml');
  writeFileSync(file, text);
  return file;
}

export function writePlaybook(info: LabInfo, name: string, text: string): string {
  const file = join(info.dir, name);
  writeFileSync(file, text);
  return file;
}

/** Run a shell command on a lab host (as root, inside its namespaces). */
export async function on(host: string, cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await lab.labExec(host, cmd, LAB);
  return { code: r.code, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Poll `cond` every 50 ms until it holds (the test's own budget is the harness, not a clock). */
export async function until(cond: () => Promise<boolean> | boolean, what: string, maxTries = 1200): Promise<void> {
  for (let i = 0; i < maxTries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<number>;
}

/** Start the CLI in the background, collecting its output. */
export function start(args: string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = cliAsync(args, { env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : -1))));
  return { child, stdout: () => out, stderr: () => err, done };
}
