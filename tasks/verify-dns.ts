// verify-dns: the Rancher host name resolves to the load balancer (an A record to its address or a
// CNAME to its host name) before anything is installed: the name is final once Rancher runs.
// By default the controller asks (node:dns, optionally a given `resolver`). With `delegate: host`
// each target host of the play resolves the name itself (`getent ahostsv4`, i.e. its own
// /etc/hosts and resolv.conf): the nodes must reach Rancher by that name too.
import { defineTask, groupHosts, type TaskContext } from '../runner/sdk/index.js';
import { dns } from './_lazy-builtins.js';
import { fqdnProblems, isIPv4, listParam } from './rancher-rules.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    fqdn: { type: 'string', description: 'Name to resolve (default: vars fqdn).' },
    expect: {
      description: 'Addresses or a host name (CNAME target) the name must resolve to (default: addresses of expect_group).',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    },
    expect_group: {
      type: 'string', default: 'lb',
      description: "Inventory group of the load balancers; each host's `public_address` var is used when set, else its address.",
    },
    resolver: { type: 'string', description: 'DNS server the controller asks, "ip" or "ip:port" (default: vars dns_resolver, else the system resolvers). Not with delegate: host.' },
    delegate: {
      type: 'string', enum: ['controller', 'host'], default: 'controller',
      description: 'controller (default): the controller resolves the name, once per target of the play (use hosts: localhost). ' +
        'host: each target host of the play resolves it with `getent ahostsv4` through its own /etc/hosts and resolvers ' +
        '(e.g. hosts: rancher), and a failure names the host.',
    },
    timeout: { type: 'number', default: 5, description: 'Seconds per DNS query.' },
  },
} as const;

const FINAL = 'the Rancher host name cannot be changed after Rancher is installed: make sure it is the final one';

export default defineTask({
  id: 'verify-dns',
  summary: 'The Rancher FQDN resolves (A or CNAME) to the load balancer',
  schema,
  runsOn: 'controller',
  precheck(params) {
    const out = params.fqdn !== undefined ? fqdnProblems(params.fqdn) : [];
    if (params.delegate === 'host' && params.resolver !== undefined) {
      out.push('verify-dns.resolver applies to the controller only: with delegate: host each host uses its own resolvers');
    }
    return out;
  },
  async probe(ctx, params) {
    const fqdn = params.fqdn ?? (typeof ctx.vars.fqdn === 'string' ? ctx.vars.fqdn : '');
    const bad = fqdnProblems(fqdn);
    if (bad.length) return { changed: false, status: 'failed', msg: bad.join('; ') };
    const expect = params.expect !== undefined
      ? listParam(params.expect)
      : groupHosts(ctx.vars, params.expect_group).map((h) => (typeof h.vars.public_address === 'string' ? h.vars.public_address : h.address));
    if (expect.length === 0) {
      return { changed: false, status: 'failed', msg: `nothing to compare with: group ${params.expect_group} is empty and no expect given` };
    }
    const onHost = params.delegate === 'host';
    const resolver = onHost ? undefined : params.resolver ?? (typeof ctx.vars.dns_resolver === 'string' ? ctx.vars.dns_resolver : undefined);
    const via = onHost ? ` on ${ctx.host.name}` : resolver ? ` (resolver ${resolver})` : '';
    const { cnames, addrs, err } = onHost ? await onTarget(ctx, fqdn, params.timeout) : await onController(fqdn, resolver, params.timeout);
    const names = expect.filter((x) => !isIPv4(x)).map((x) => x.replace(/\.$/, '').toLowerCase());
    const ips = expect.filter(isIPv4);
    const cnameOk = cnames.some((c) => names.includes(c.replace(/\.$/, '').toLowerCase()));
    const answer = [...cnames.map((c) => `CNAME ${c}`), ...addrs.map((a) => `A ${a}`)].join(', ') || err || 'nothing';
    const ipOk = addrs.length > 0 && addrs.every((a) => ips.includes(a)) && ips.length > 0;
    if (!cnameOk && !ipOk) {
      return {
        changed: false,
        status: 'failed',
        msg: `${fqdn} resolves to ${answer}${via}, expected ${expect.join(', ')}: point its A record at the load balancer ` +
          `(or a CNAME at its host name)`,
        warnings: [FINAL],
      };
    }
    return {
      changed: false,
      msg: `${fqdn} → ${answer}${via}`,
      warnings: [FINAL],
      data: { addresses: addrs, cnames },
    };
  },
});

interface Answer { cnames: string[]; addrs: string[]; err?: string }

async function onController(fqdn: string, resolver: string | undefined, timeout: number): Promise<Answer> {
  const res = new (dns().Resolver)({ timeout: Math.round(timeout * 1000), tries: 2 });
  if (resolver) res.setServers([resolver]);
  try {
    const cnames = await res.resolveCname(fqdn).catch(() => []);
    return { cnames, addrs: await res.resolve4(fqdn) };
  } catch (e) {
    const code = (e as { code?: string }).code ?? '';
    return { cnames: [], addrs: [], err: code === 'ENOTFOUND' || code === 'ENODATA' ? 'no A record' : `${code || 'error'}: ${(e as Error).message}` };
  }
}

async function onTarget(ctx: TaskContext, fqdn: string, timeout: number): Promise<Answer> {
  const r = await ctx.run(`getent ahostsv4 ${ctx.quote(fqdn)}`, { timeoutMs: Math.round(timeout * 1000) * 2 + 1000 });
  // getent: 2 = not found; 127 = no getent (not glibc/musl-compatible).
  if (r.code === 2) return { cnames: [], addrs: [], err: 'no A record' };
  if (r.code !== 0) return { cnames: [], addrs: [], err: `getent ahostsv4 failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}` };
  return parseGetent(fqdn, r.stdout);
}

/** `getent ahostsv4 NAME` output → addresses, and the canonical name when it differs (a CNAME). */
export function parseGetent(fqdn: string, out: string): Answer {
  const addrs: string[] = [];
  let canon = '';
  for (const line of out.split('\n')) {
    const [addr, , name] = line.trim().split(/\s+/);
    if (!addr || !isIPv4(addr)) continue;
    if (!addrs.includes(addr)) addrs.push(addr);
    if (name && !canon) canon = name;
  }
  const norm = (n: string): string => n.replace(/\.$/, '').toLowerCase();
  return { cnames: canon && norm(canon) !== norm(fqdn) ? [canon] : [], addrs };
}
