// The Kubernetes API server as helm and kubectl on the controller can reach it. RKE (and RKE2/K3s)
// write the kubeconfig with the address of a cluster node, which the controller often reaches only
// through the bastion. When that address is an inventory host (or `api_via` names one), a local
// listener on 127.0.0.1 forwards each connection over rancher-play's own SSH connection to that
// host (a direct-tcpip channel, as `ssh -L` would), and the tool gets a temporary 0600 copy of the
// kubeconfig pointing at it, with `tls-server-name` keeping the certificate check on the original
// name. `close` stops the listener, drops its connections and removes the copy.
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { Inventory, Vars } from '../types.js';
import type { Transport } from '../transport/transport.js';
import type { KubeApi, KubeApiOptions } from '../task.js';

/** How to reach one API server: over `over`'s SSH connection, to `host:port` as it dials it. */
export interface ApiRoute {
  over: string;
  host: string;
  port: number;
  open(): Promise<Duplex>;
}

/** Finds the route for a kubeconfig's server (`null`: the controller dials it itself). */
export type ApiRouter = (server: { host: string; port: number }, via: string | undefined) => Promise<ApiRoute | null>;

/** `api_via` values that turn the tunnel off. */
const DIRECT = new Set(['none', 'direct', 'false', '']);

/**
 * The router of a run: the inventory host whose name, address or `rke_address`/`internal_address`
 * is the server's host (or the `via` host, whose address is then dialled), over its own transport.
 */
export function inventoryRouter(inv: Inventory, transportOf: (host: string) => Promise<Transport>): ApiRouter {
  return async (server, via) => {
    let name: string | undefined;
    let target = server.host;
    if (via !== undefined) {
      if (DIRECT.has(via.trim().toLowerCase())) return null;
      const h = inv.hosts.get(via);
      if (!h) throw new Error(`api_via: ${via} is not an inventory host (hosts: ${[...inv.hosts.keys()].join(', ')})`);
      name = h.name;
      target = h.conn.address;
    } else {
      const want = server.host.toLowerCase();
      for (const h of inv.hosts.values()) {
        const addresses = [h.conn.address, h.vars.rke_address, h.vars.internal_address];
        if (addresses.some((n) => typeof n === 'string' && n.toLowerCase() === want)) { name = h.name; break; }
        // The inventory name may mean nothing on the host itself: dial the address it connects to.
        if (h.name.toLowerCase() === want) { name = h.name; target = h.conn.address; break; }
      }
    }
    if (!name) return null;
    const host = inv.hosts.get(name)!;
    if (host.conn.connection === 'local') return null;
    const t = await transportOf(name);
    if (!t.openTcp) return null;
    return { over: name, host: target, port: server.port, open: () => t.openTcp!(target, server.port) };
  };
}

interface KubeconfigDoc {
  clusters?: { name?: string; cluster?: Record<string, unknown> }[];
  contexts?: { name?: string; context?: { cluster?: string } }[];
  'current-context'?: string;
}

/** The current context's cluster entry (client-go's rule: current-context, else none). */
function currentCluster(doc: KubeconfigDoc): { name?: string; cluster?: Record<string, unknown> } | undefined {
  const clusters = doc.clusters ?? [];
  const ctxName = doc['current-context'];
  const ctx = (doc.contexts ?? []).find((c) => c.name === ctxName);
  if (ctx?.context?.cluster !== undefined) return clusters.find((c) => c.name === ctx.context!.cluster);
  return clusters.length === 1 ? clusters[0] : undefined;
}

export function serverOf(url: string): { host: string; port: number } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
}

/** The kubeconfig handed to the tool: the same file when no tunnel is needed. */
export async function openKubeApi(
  path: string,
  router: ApiRouter | undefined,
  opts: KubeApiOptions & { vars?: Vars; log?: (line: string) => void } = {},
): Promise<KubeApi> {
  const direct = (server: string): KubeApi => ({ kubeconfig: path, server, close: async () => undefined, problem: () => undefined });
  const text = await readFile(path, 'utf8');
  let doc: KubeconfigDoc;
  try {
    doc = (parseYaml(text) ?? {}) as KubeconfigDoc;
  } catch (e) {
    throw new Error(`kubeconfig ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const entry = typeof doc === 'object' ? currentCluster(doc) : undefined;
  const serverUrl = typeof entry?.cluster?.server === 'string' ? entry.cluster.server : '';
  const server = serverOf(serverUrl);
  const viaVar = opts.vars?.api_via;
  const via = opts.via ?? (typeof viaVar === 'string' ? viaVar : viaVar === false ? 'none' : undefined);
  if (!server || !router) return direct(serverUrl);
  const route = await router(server, via);
  if (!route) return direct(serverUrl);

  let lastProblem: string | undefined;
  const sockets = new Set<Socket | Duplex>();
  const listener: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    route.open().then((ch) => {
      if (sock.destroyed) { ch.destroy(); return; }
      sockets.add(ch);
      ch.on('close', () => { sockets.delete(ch); sock.destroy(); });
      ch.on('error', () => { ch.destroy(); sock.destroy(); });
      sock.on('close', () => ch.destroy());
      sock.pipe(ch).pipe(sock);
    }, (e: Error) => {
      lastProblem = e.message;
      opts.log?.(`API tunnel: ${e.message}`);
      sock.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (listener.address() as { port: number }).port;
  let dir: string | undefined;
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  };
  try {
    dir = await mkdtemp(join(tmpdir(), 'rancher-play-kube-'));
    // Every cluster entry naming this server goes through the tunnel; the certificate is still
    // checked against the name the cluster's certificate was made for.
    for (const c of doc.clusters ?? []) {
      const s = typeof c.cluster?.server === 'string' ? serverOf(c.cluster.server) : null;
      if (!c.cluster || !s || s.host !== server.host || s.port !== server.port) continue;
      const scheme = new URL(c.cluster.server as string).protocol;
      c.cluster.server = `${scheme}//127.0.0.1:${port}`;
      if (c.cluster['tls-server-name'] === undefined) c.cluster['tls-server-name'] = server.host;
    }
    const file = join(dir, 'kubeconfig');
    await writeFile(`${file}.tmp`, stringifyYaml(doc), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
    opts.log?.(`API server ${server.host}:${server.port} through ${route.over} (${route.host}:${route.port}) on 127.0.0.1:${port}`);
    return { kubeconfig: file, server: serverUrl, via: route.over, close, problem: () => lastProblem };
  } catch (e) {
    await close();
    throw e;
  }
}
