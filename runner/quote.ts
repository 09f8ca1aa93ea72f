// POSIX single-quoting. zx's `quote` emits bash-only $'...' for control characters, which
// Debian's /bin/sh (dash) does not understand, so we quote the portable way.
export function shQuote(value: string): string {
  if (value === '') return "''";
  if (/^[A-Za-z0-9_\/.,:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
