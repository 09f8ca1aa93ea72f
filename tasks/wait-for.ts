// `wait-for`: wait until a TCP port accepts connections or a URL answers 2xx/3xx, as seen from
// the target host. Waiting only reads, so it happens in the probe; check mode tries once.
import { defineTask, hostProblem, httpGet, redactProxy, type Probe, type TaskContext } from '../runner/sdk/index.js';

async function up(ctx: TaskContext, p: { host?: string; port?: number; url?: string; delegate?: string }): Promise<boolean> {
  if (p.url && p.delegate === 'controller') {
    // On the controller, fetch in-process so HTTP(S)_PROXY/NO_PROXY apply and no curl is needed.
    try {
      const r = await httpGet(p.url, { signal: ctx.signal, timeoutMs: 5_000, method: 'GET' });
      if (r.via) ctx.log(`${redactProxy(p.url)} via proxy ${r.via}: HTTP ${r.status}`);
      return r.status >= 200 && r.status < 400;
    } catch (e) {
      ctx.log((e as Error).message);
      return false;
    }
  }
  if (p.url) {
    // The URL over stdin (it may carry a token): curl reads it as a config line, wget as a list.
    const r = await ctx.run(
      'IFS= read -r u; if command -v curl >/dev/null 2>&1; then printf \'url = "%s"\\n\' "$u" | curl -fsS -o /dev/null -m 5 -K -; ' +
        'else printf \'%s\\n\' "$u" | wget -q -O /dev/null -T 5 -i -; fi',
      { timeoutMs: 10_000, stdin: `${new URL(p.url).href}\n` },
    );
    return r.code === 0;
  }
  // Host and port as positional parameters: bash's /dev/tcp sees them as data, never as code.
  // nc when present, bash's /dev/tcp otherwise (dash has no /dev/tcp).
  const r = await ctx.run(
    `set -- ${ctx.quote(p.host ?? '127.0.0.1')} ${String(p.port ?? 0)}; ` +
      `if command -v nc >/dev/null 2>&1; then nc -z -w 2 "$1" "$2"; else timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2"; fi`,
    { timeoutMs: 10_000 },
  );
  return r.code === 0;
}

/** Why the params cannot be waited for safely: a host that is no host name or address, a URL
 * that is no URL or whose host is none. */
export function waitProblems(p: { host?: string; url?: string }): string[] {
  const out: string[] = [];
  if (p.host !== undefined) {
    const bad = hostProblem(p.host);
    if (bad) out.push(`host ${bad}`);
  }
  if (p.url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(p.url);
    } catch {
      out.push(`url ${JSON.stringify(redactProxy(p.url))} is not a URL`);
    }
    if (u && u.hostname) {
      const bad = hostProblem(u.hostname);
      if (bad) out.push(`url host ${bad}`);
    }
  }
  return out;
}

const pause = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

export default defineTask({
  id: 'wait-for',
  summary: 'Wait until host:port accepts TCP connections or a URL answers (from the target host)',
  schema: {
    type: 'object',
    additionalProperties: false,
    oneOf: [{ required: ['port'] }, { required: ['url'] }],
    properties: {
      host: { type: 'string', description: 'Host to connect to (default 127.0.0.1, as seen from the target).' },
      port: { type: 'integer', minimum: 1, maximum: 65535, description: 'TCP port.' },
      url: { type: 'string', description: 'HTTP(S) URL that must answer 2xx/3xx.' },
      timeout: { type: 'number', minimum: 0, default: 60, description: 'Seconds to keep trying.' },
      delay: { type: 'number', minimum: 0, default: 0, description: 'Seconds to wait before the first try.' },
      interval: { type: 'number', minimum: 0.1, default: 1, description: 'Seconds between tries.' },
      delegate: { type: 'string', enum: ['controller'], description: 'Check from the controller instead of the host.' },
    },
  },
  precheck: (p) => waitProblems(p),
  async probe(ctx, p): Promise<Probe> {
    // Checked again here: a value known only at run time skipped the precheck.
    const bad = waitProblems(p);
    if (bad.length) return { changed: false, status: 'failed', msg: bad.join('; ') };
    const what = p.url ?? `${p.host ?? '127.0.0.1'}:${p.port}`;
    if (ctx.check) {
      return (await up(ctx, p))
        ? { changed: false, msg: `${what} is up` }
        : { changed: false, msg: `${what} not up yet (check mode: would wait up to ${p.timeout}s)` };
    }
    const until = Date.now() + p.timeout * 1000;
    if (p.delay) await pause(p.delay * 1000, ctx.signal);
    for (let n = 1; ; n += 1) {
      if (await up(ctx, p)) return { changed: false, msg: `${what} is up (try ${n})` };
      if (Date.now() >= until || ctx.signal.aborted) {
        return { changed: false, status: 'failed', msg: `${what} not up after ${p.timeout}s` };
      }
      await pause(p.interval * 1000, ctx.signal);
    }
  },
});
