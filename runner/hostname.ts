// Host names and addresses that may reach a command line or a connection: an IPv4 address, an
// IPv6 address (optionally in brackets, with a zone), or an RFC 1123 host name. Anything else —
// spaces, a leading `-` (an option to ssh, nc or curl), `$(…)`, NUL bytes — is refused before
// anything runs.
import { isIPv4, isIPv6 } from 'node:net';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// Names used as addresses may be ssh_config aliases, where `_` is common.
const LOOSE_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Why `value` is not a host name or address, or undefined when it is one. */
export function hostProblem(value: string, opts: { underscore?: boolean } = {}): string | undefined {
  const shown = JSON.stringify(value);
  if (value === '') return 'is empty (expected a host name or an IP address)';
  if (value.includes('\0')) return `${shown} holds a NUL byte (expected a host name or an IP address)`;
  if (isIPv4(value)) return undefined;
  const v6 = /^\[(.*)\]$/.exec(value)?.[1] ?? value;
  if (v6.includes(':')) {
    const [addr, zone] = v6.split('%', 2) as [string, string | undefined];
    if (isIPv6(addr) && (zone === undefined || /^[A-Za-z0-9_.-]+$/.test(zone))) return undefined;
    return `${shown} is not a valid IPv6 address`;
  }
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  const label = opts.underscore ? LOOSE_LABEL : LABEL;
  if (name.length > 253 || !name.split('.').every((l) => label.test(l))) {
    return `${shown} is not a valid host name or IP address (RFC 1123: letters, digits and inner hyphens, dot-separated labels of at most 63)`;
  }
  // A name of digits and dots only is a mistyped IPv4 address, not a name.
  if (/^[0-9.]+$/.test(name)) return `${shown} is not a valid IPv4 address`;
  return undefined;
}

export function isHostAddress(value: string): boolean {
  return hostProblem(value) === undefined;
}
