// NUL bytes in values: refused wherever a value could reach a command line or a file name.
/** Paths of the strings inside `value` that hold a NUL byte (a C string ends there: what is
 * shown, checked and run would differ). */
export function nulPaths(value: unknown, at: (string | number)[] = [], depth = 0): (string | number)[][] {
  if (typeof value === 'string') return value.includes('\0') ? [at] : [];
  if (depth > 100 || !value || typeof value !== 'object') return [];
  const out: (string | number)[][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k.includes('\0')) out.push([...at, k]);
    out.push(...nulPaths(v, [...at, Array.isArray(value) ? Number(k) : k], depth + 1));
  }
  return out;
}
