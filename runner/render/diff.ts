// Unified diffs for --diff (package `diff`), with optional colour.
import { createTwoFilesPatch } from 'diff';
import type { FileDiff } from '../types.js';

export function unifiedDiff(d: FileDiff, color = false): string {
  const patch = createTwoFilesPatch(
    d.before === null ? '/dev/null' : `${d.path} (before)`,
    d.after === null ? '/dev/null' : `${d.path} (after)`,
    d.before ?? '', d.after ?? '', undefined, undefined, { context: 3 },
  );
  // Drop the "Index:"/"====" banner lines: the ---/+++ headers already name the file.
  const lines = patch.split('\n').filter((l) => !l.startsWith('Index: ') && !/^=+$/.test(l));
  if (!color) return lines.join('\n').trimEnd();
  return lines
    .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? `\x1b[32m${l}\x1b[39m`
      : l.startsWith('-') && !l.startsWith('---') ? `\x1b[31m${l}\x1b[39m`
        : l.startsWith('@@') ? `\x1b[36m${l}\x1b[39m` : l))
    .join('\n').trimEnd();
}
