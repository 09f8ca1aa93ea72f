// Credentials embedded in URLs (`http://user:password@proxy:3128`) are secrets whether or not
// the user marked the var secret: every text shown to the user passes through here.
//
// The password runs to the last `@` before the host on the same line (a password may hold `@`,
// spaces or quotes when written unencoded); masking too much is the safe side. A userinfo
// without a colon in an http(s) URL is a token (`https://TOKEN@host`).
// (`host:3128 …` is a port, not a password, whatever follows on the line.)
import { MASK } from '../model/vars.js';
import type { FileDiff } from '../types.js';

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*:)(?!\d{1,5}(?:[\s/'"]|$))[^\n/]*@(?=[A-Za-z0-9[])/gi;
const URL_TOKEN = /\b(https?:\/\/)[^\s:@/'"]+@(?=[A-Za-z0-9[])/gi;

/** `scheme://user:password@host` → `scheme://user:********@host`, `https://TOKEN@host` →
 * `https://********@host`, anywhere in `text`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_PASSWORD, (_m, head: string) => `${head}********@`).replace(URL_TOKEN, (m, head: string) => (m.startsWith(`${head}********@`) ? m : `${head}********@`));
}

/**
 * A diff whose new side holds a secret on a `key: value` (or `key=value`) line has the old value of
 * that key masked too: after a rotation the old value is no longer among the known secrets (a
 * ConfigMap or a config file carrying a password), yet it is the same kind of value.
 */
export function maskRotatedSecrets(d: FileDiff, mask: (s: string) => string): FileDiff {
  if (d.before === null || d.after === null) return d;
  const keys = new Set<string>();
  for (const line of d.after.split('\n')) {
    const i = mask(line).indexOf(MASK);
    if (i < 0) continue;
    const key = /^(\s*[^\s:=]+\s*[:=]\s*)/.exec(line.slice(0, i))?.[1];
    if (key) keys.add(key);
  }
  if (!keys.size) return d;
  const before = d.before.split('\n').map((l) => {
    for (const k of keys) if (l.startsWith(k) && l.length > k.length) return `${k}${MASK}`;
    return l;
  }).join('\n');
  return { ...d, before };
}
