// verify-dns: the Rancher host name resolves to the load balancer (an A record to its address or a
// CNAME to its host name) before anything is installed: the name is final once Rancher runs.
import { Resolver } from 'node:dns/promises';
import { defineTask } from '../runner/task.js';
import { fqdnProblems, groupHosts, isIPv4, listParam } from './rancher-rules.js';

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
    resolver: { type: 'string', description: 'DNS server to ask, "ip" or "ip:port" (default: vars dns_resolver, else the system resolvers).' },
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
    return params.fqdn !== undefined ? fqdnProblems(params.fqdn) : [];
  },
  async probe(ctx, params) {
    const fqdn = params.fqdn ?? (typeof ctx.vars.fqdn === 'string' ? ctx.vars.fqdn : '');
    const bad = fqdnProblems(fqdn);
    if (bad.length) return { changed: false, status: 'failed', msg: bad.join('; ') };
    const expect = params.expect !== undefined
      ? listParam(params.expect)
      : groupHosts(ctx.vars, params.expect_group ?? 'lb').map((h) => (typeof h.vars.public_address === 'string' ? h.vars.public_address : h.address));
    if (expect.length === 0) {
      return { changed: false, status: 'failed', msg: `nothing to compare with: group ${params.expect_group ?? 'lb'} is empty and no expect given` };
    }
    const resolver = params.resolver ?? (typeof ctx.vars.dns_resolver === 'string' ? ctx.vars.dns_resolver : undefined);
    const res = new Resolver({ timeout: Math.round((params.timeout ?? 5) * 1000), tries: 2 });
    if (resolver) res.setServers([resolver]);
    const via = resolver ? ` (resolver ${resolver})` : '';

    let cnames: string[] = [];
    let addrs: string[] = [];
    let err: string | undefined;
    try {
      cnames = await res.resolveCname(fqdn).catch(() => []);
      addrs = await res.resolve4(fqdn);
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      err = code === 'ENOTFOUND' || code === 'ENODATA' ? 'no A record' : `${code || 'error'}: ${(e as Error).message}`;
    }
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
