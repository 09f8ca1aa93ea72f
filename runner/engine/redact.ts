// Credentials embedded in URLs (`http://user:password@proxy:3128`) are secrets whether or not
// the user marked the var secret: every text shown to the user passes through here.
//
// The password runs to the last `@` before the host on the same line (a password may hold `@`,
// spaces or quotes when written unencoded); masking too much is the safe side. A userinfo
// without a colon in an http(s) URL is a token (`https://TOKEN@host`).
// (`host:3128 …` is a port, not a password, whatever follows on the line.)
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*:)(?!\d{1,5}(?:[\s/'"]|$))[^\n/]*@(?=[A-Za-z0-9[])/gi;
const URL_TOKEN = /\b(https?:\/\/)[^\s:@/'"]+@(?=[A-Za-z0-9[])/gi;

/** `scheme://user:password@host` → `scheme://user:********@host`, `https://TOKEN@host` →
 * `https://********@host`, anywhere in `text`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_PASSWORD, (_m, head: string) => `${head}********@`).replace(URL_TOKEN, (m, head: string) => (m.startsWith(`${head}********@`) ? m : `${head}********@`));
}
