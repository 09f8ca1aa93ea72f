// Credentials embedded in URLs (`http://user:password@proxy:3128`) are secrets whether or not
// the user marked the var secret: every text shown to the user passes through here.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/'"]*:)[^\s@/'"]+@/gi;

/** `scheme://user:password@host` → `scheme://user:********@host`, anywhere in `text`. */
export function redactUrlCredentials(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1********@');
}
