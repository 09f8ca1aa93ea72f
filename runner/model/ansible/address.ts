// Host patterns as Ansible's inventory plugins read them: `host:port`, `[ipv6]:port`, bare IPv6,
// and `[a:b(:step)]` ranges (lib/ansible/parsing/utils/addresses.py parse_address and
// lib/ansible/plugins/inventory/__init__.py expand_hostname_range).

import { AnsibleRefusal } from './model.js';

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`;
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const i6 = `(?:[0-9a-f]{1,4}|${hexRange})`;
const i4 = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`;
const label = String.raw`(?:[\p{L}\p{N}_]|${alnumRange})(?:[\p{L}\p{N}_-]|${alnumRange})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/u;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/u;
const IPV4 = new RegExp(`^(?:${i4}\\.){3}${i4}$`, 'iu');
const IPV6_ALTS = [
    `(?:${i6}:){7}${i6}`,
    `(?:${i6}:){1,6}:`,
    `(?:${i6}:)(?::${i6}){1,6}`,
    `(?:${i6}:){2}(?::${i6}){1,5}`,
    `(?:${i6}:){3}(?::${i6}){1,4}`,
    `(?:${i6}:){4}(?::${i6}){1,3}`,
    `(?:${i6}:){5}(?::${i6}){1,2}`,
    `(?:${i6}:){6}(?::${i6})`,
    `:(?::${i6}){1,6}`,
    `${i6}?::`,
    `(?:0:){6}(?:${i6}\\.){3}${i6}`,
    `::(?:ffff:)?(?:${i6}\\.){3}${i6}`,
    `(?:0:){5}ffff:(?:${i6}\\.){3}${i6}`,
  ];
// Python's `^a|b|c$` (with re.match) anchors every alternative at the start, only the last at the end.
const IPV6_PY = new RegExp(`^(?:${IPV6_ALTS.slice(0, -1).join('|')}|${IPV6_ALTS[IPV6_ALTS.length - 1]}$)`, 'iu');
const HOSTNAME = new RegExp(`^${label}(?:\\.${label})*$`, 'iu');
// The usual names and IPv4 addresses, in ASCII letters, digits, `_`, `-` and `.` only: for them
// the patterns above come to this one (no `:`, so no IPv6; an IPv4 address is a hostname too),
// which V8 builds in microseconds where the Unicode, case-insensitive ones take milliseconds of
// every start-up.
const PLAIN_CHARS = /^[A-Za-z0-9_.-]*$/;
const PLAIN_HOSTNAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*(?<![_-])(?:\.[A-Za-z0-9_][A-Za-z0-9_-]*(?<![_-]))*$/;

/** Whether parse_address accepts `address` (its port taken off) as an IPv4, IPv6 or host name. */
export function isAddress(address: string): boolean {
  return IPV4.test(address) || IPV6_PY.test(address) || HOSTNAME.test(address);
}

/** parse_address(pattern, allow_ranges=True); undefined where Ansible raises. */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  let port: number | undefined;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) {
      address = m[1]!;
      port = Number(m[2]);
    }
  }
  if (PLAIN_CHARS.test(address) ? PLAIN_HOSTNAME.test(address) : isAddress(address)) return { host: address, port };
  return undefined;
}

/**
 * `_expand_hostpattern`: the names a host key stands for and its port. A key parse_address
 * cannot read is used whole, as Ansible does.
 */
export function expandHostPattern(pattern: string): { names: string[]; port?: number } {
  const parsed = parseAddress(pattern);
  const base = parsed ? parsed.host : pattern;
  const port = parsed?.port;
  return { names: base.includes('[') ? expandRange(base) : [base], port };
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** expand_hostname_range; throws with Ansible's message where it raises. */
export function expandRange(line: string): string[] {
  const first = line.replace('[', '|').replace(']', '|');
  const parts = first.split('|');
  if (parts.length !== 3) throw new AnsibleRefusal(`not enough values to unpack in host range "${line}"`);
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new AnsibleRefusal('host range must be begin:end or begin:end:step');
  let [beg, end] = bounds as [string, string];
  const stepText = bounds[2] ?? '1';
  if (!beg) beg = '0';
  if (!end) throw new AnsibleRefusal('host range must specify end value');
  let fill = (x: number | string): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    if (beg.length !== end.length) throw new AnsibleRefusal('host range must specify equal-length begin and end formats');
    fill = (x) => String(x).padStart(beg.length, '0');
  }
  const step = pyInt(stepText);
  if (step === 0) throw new AnsibleRefusal('range() arg 3 must not be zero');
  let seq: (string | number)[];
  const ib = LETTERS.indexOf(beg);
  const ie = LETTERS.indexOf(end);
  if (beg.length === 1 && end.length === 1 && ib >= 0 && ie >= 0) {
    if (ib > ie) throw new AnsibleRefusal('host range must have begin <= end');
    seq = [];
    if (step > 0) for (let i = ib; i <= ie; i += step) seq.push(LETTERS[i]!);
    else throw new AnsibleRefusal('host range step must be positive'); // a negative slice step yields nothing useful
  } else {
    const a = pyInt(beg);
    const b = pyInt(end);
    seq = [];
    if (step > 0) for (let i = a; i < b + 1; i += step) seq.push(i);
    else for (let i = a; i > b + 1; i += step) seq.push(i);
  }
  const out: string[] = [];
  for (const r of seq) {
    const hname = head + fill(r) + tail;
    out.push(...(hname.includes('[') ? expandRange(hname) : [hname]));
  }
  return out;
}

function pyInt(s: string): number {
  const t = s.trim().replace(/_/g, '');
  if (!/^[-+]?\d+$/.test(t)) throw new AnsibleRefusal(`invalid literal for int() with base 10: '${s}'`);
  return Number(t);
}
