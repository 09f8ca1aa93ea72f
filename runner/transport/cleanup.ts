// What this process leaves behind if it exits in the middle of a task (a second Ctrl-C, an
// uncaught error): temp files beside a destination and the commands it started. The exit hook
// ends those commands' process groups and removes the files; a normal finish has removed them
// already. Synchronous, because an 'exit' handler cannot wait.
import { unlinkSync } from 'node:fs';

const files = new Set<string>();
const groups = new Set<number>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanupNow);
}

/** Remember a temp file until `release` is called (after its rename or removal). */
export function tempFile(path: string): () => void {
  hook();
  files.add(path);
  return () => void files.delete(path);
}

/** Remember a started command's process group (a detached child's pid) until it ends. */
export function childGroup(pid: number): () => void {
  hook();
  groups.add(pid);
  return () => void groups.delete(pid);
}

/** End every command still running and remove every temp file still there. */
export function cleanupNow(): void {
  for (const g of groups) {
    try { process.kill(-g, 'SIGKILL'); } catch { /* already gone */ }
  }
  groups.clear();
  for (const f of files) {
    try { unlinkSync(f); } catch { /* renamed, removed, or never created */ }
  }
  files.clear();
}
