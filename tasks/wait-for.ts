// `wait-for`: wait until a TCP port accepts connections or a URL answers 2xx/3xx, as seen from
// the target host. Waiting only reads, so it happens in the probe; check mode tries once.
import { defineTask, httpGet, redactProxy, type Probe, type TaskContext } from '../runner/sdk/index.js';

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
    const u = ctx.quote(p.url);
    const r = await ctx.run(`if command -v curl >/dev/null 2>&1; then curl -fsS -o /dev/null -m 5 ${u}; else wget -q -O /dev/null -T 5 ${u}; fi`, { timeoutMs: 10_000 });
    return r.code === 0;
  }
  const h = ctx.quote(p.host ?? '127.0.0.1');
  const port = String(p.port ?? 0);
  // nc when present, bash's /dev/tcp otherwise (dash has no /dev/tcp).
  const r = await ctx.run(
    `if command -v nc >/dev/null 2>&1; then nc -z -w 2 ${h} ${port}; else timeout 3 bash -c ${ctx.quote(`exec 3<>/dev/tcp/${p.host ?? '127.0.0.1'}/${port}`)}; fi`,
    { timeoutMs: 10_000 },
  );
  return r.code === 0;
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
  async probe(ctx, p): Promise<Probe> {
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
