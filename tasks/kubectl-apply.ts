// kubectl-apply: apply a manifest on the controller with `kubectl apply -f -`, only when
// `kubectl diff -f -` finds a difference (its exit code: 0 same, 1 differs, anything else an
// error). Secret data never reaches the output: kubectl's own masking is kept, and every value
// under `data`/`stringData` of a Secret (and its base64 form) is masked in diffs and messages.
import { defineTask, type TaskContext } from '../runner/sdk/index.js';
import type { FileDiff, Vars } from '../runner/sdk/index.js';
import { renderString, yamlDocuments } from '../runner/sdk/index.js';
import { MASK } from '../runner/sdk/index.js';
import { binaryFor, cliError, kubeApiFor, kubeCli, missingKubeconfig, tunnelNote } from './helm-release.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  oneOf: [{ required: ['manifest'] }, { required: ['src'] }],
  properties: {
    manifest: { type: 'string', description: 'The manifest (YAML, one or more documents).' },
    src: { type: 'string', description: 'A Handlebars template of the manifest on the controller, relative to the playbook directory.' },
    kubeconfig: { type: 'string', description: 'Kubeconfig on the controller (default: kubectl\'s own, $KUBECONFIG or ~/.kube/config).' },
    kubectl: { type: 'string', description: 'The kubectl binary (default: vars kubectl_binary, else kubectl on PATH).' },
  },
} as const;

interface Manifest {
  text: string;
  /** Secret payloads in the manifest (values, their base64 and decoded forms). */
  secrets: string[];
  /** Namespaces the manifest itself creates. */
  namespaces: string[];
  objects: string[];
}

export function readManifest(text: string): Manifest | { problem: string } {
  const secrets = new Set<string>();
  const namespaces: string[] = [];
  const objects: string[] = [];
  // The bounded reader: an alias bomb in a manifest is refused like one in an inventory.
  const docs = yamlDocuments(text);
  if ('problem' in docs) return { problem: `manifest ${docs.problem}` };
  for (const doc of docs.values) {
    const o = doc as Vars | null;
    if (!o) continue;
    if (typeof o !== 'object' || typeof o.kind !== 'string' || typeof o.apiVersion !== 'string') return { problem: 'every manifest document needs apiVersion and kind' };
    const meta = (o.metadata ?? {}) as Vars;
    objects.push(`${o.kind.toLowerCase()}/${String(meta.name ?? '?')}`);
    if (o.kind === 'Namespace' && typeof meta.name === 'string') namespaces.push(meta.name);
    if (o.kind === 'Secret') {
      for (const field of ['data', 'stringData']) {
        for (const v of Object.values((o[field] ?? {}) as Vars)) {
          const s = String(v);
          if (s.length < 3) continue;
          secrets.add(s);
          if (field === 'data') secrets.add(Buffer.from(s, 'base64').toString('utf8'));
          else secrets.add(Buffer.from(s).toString('base64'));
        }
      }
    }
  }
  if (!objects.length) return { problem: 'manifest has no objects' };
  const list = [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  // Multi-line payloads (PEM) also appear line by line in a diff.
  for (const s of [...list]) for (const line of s.split('\n')) if (line.trim().length >= 8) list.push(line.trim());
  return { text, secrets: list, namespaces, objects };
}

export function maskIn(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  return out;
}

/** Secret data lines (`key: value` under data:/stringData:) of a YAML text, values masked unless
 * kubectl already masked them (`***`, `*** (before)`, `*** (after)`). */
export function maskSecretData(yamlText: string): string {
  let inData = -1;
  return yamlText.split('\n').map((line) => {
    const indent = line.length - line.trimStart().length;
    if (/^\s*(data|stringData):\s*$/.test(line)) { inData = indent; return line; }
    if (inData >= 0 && line.trim() && indent <= inData) inData = -1;
    if (inData >= 0) {
      const m = /^(\s*[^:\s][^:]*:)\s*(.*)$/.exec(line);
      if (m && !/^"?\*\*\*/.test(m[2]!)) return `${m[1]} ${MASK}`;
      if (!m && line.trim()) return `${' '.repeat(indent)}${MASK}`;
    }
    return line;
  }).join('\n');
}

/** kubectl diff's unified output (`diff -u -N LIVE/x MERGED/x` per object) → one FileDiff per
 * object, before/after rebuilt from the hunks (enough for the runner to show the same change). */
export function parseKubectlDiff(out: string): FileDiff[] {
  const diffs: FileDiff[] = [];
  let cur: { path: string; before: string[]; after: string[]; created: boolean } | null = null;
  const flush = (): void => {
    if (!cur) return;
    const secret = /\.Secret\./.test(cur.path);
    const fix = (lines: string[]): string => {
      const t = lines.join('\n') + (lines.length ? '\n' : '');
      return secret ? maskSecretData(t) : t;
    };
    diffs.push({ path: cur.path, before: cur.created ? null : fix(cur.before), after: fix(cur.after) });
    cur = null;
  };
  for (const line of out.split('\n')) {
    if (line.startsWith('diff ')) { flush(); continue; }
    if (line.startsWith('--- ')) {
      flush();
      cur = { path: '', before: [], after: [], created: / 1970-01-01 /.test(line) };
      continue;
    }
    if (line.startsWith('+++ ') && cur) {
      cur.path = (line.slice(4).split('\t')[0] ?? '').split('/').pop() ?? '';
      continue;
    }
    if (!cur || line.startsWith('@@')) continue;
    if (line.startsWith('-')) cur.before.push(line.slice(1));
    else if (line.startsWith('+')) cur.after.push(line.slice(1));
    else if (line.startsWith(' ')) { cur.before.push(line.slice(1)); cur.after.push(line.slice(1)); }
  }
  flush();
  return diffs;
}

async function manifestOf(ctx: TaskContext, p: { manifest?: string; src?: string }): Promise<Manifest | { problem: string }> {
  let text = p.manifest;
  if (text === undefined) {
    const raw = await ctx.readLocal(ctx.resolve(p.src!));
    if (raw === null) return { problem: `template ${ctx.resolve(p.src!)} not found on the controller` };
    text = renderString(raw.toString('utf8'), { ...ctx.vars, __dir: ctx.playbookDir }, { key: `kubectl-apply ${p.src}` });
  }
  return readManifest(text);
}

function kubectlBase(ctx: TaskContext, p: { kubeconfig?: string; kubectl?: string }, kubeconfig = p.kubeconfig): string {
  return kubeCli(ctx, binaryFor(p.kubectl, ctx.vars, 'kubectl_binary', 'kubectl'), kubeconfig);
}

export default defineTask<typeof schema, Manifest>({
  id: 'kubectl-apply',
  summary: 'Apply a Kubernetes manifest (`kubectl apply -f -`), only when `kubectl diff` finds a difference; Secret data never shown',
  schema,
  runsOn: 'controller',
  precheck(p) {
    if (p.manifest === undefined) return [];
    const m = readManifest(p.manifest);
    return 'problem' in m ? [m.problem] : [];
  },
  async probe(ctx, p) {
    const m = await manifestOf(ctx, p);
    if ('problem' in m) return { changed: false, status: 'failed', msg: m.problem };
    const what = m.objects.join(', ');
    const missing = await missingKubeconfig(ctx, p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined);
    if (missing) {
      if (ctx.check) return { changed: true, msg: `would apply ${what}: kubeconfig ${missing} not written yet`, state: m };
      return { changed: false, status: 'failed', msg: `kubeconfig ${missing} not found on the controller (run rke-up first)` };
    }
    const reach = await kubeApiFor(ctx, p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined);
    if (typeof reach === 'string') return { changed: false, status: 'failed', msg: reach };
    const r = await ctx.run(`${kubectlBase(ctx, p, reach.kubeconfig)} diff -f -`, { stdin: m.text });
    if (r.code === 0) return { changed: false, msg: `${what}: no differences (kubectl diff)` };
    if (r.code === 1) {
      const diff = parseKubectlDiff(maskIn(r.stdout, m.secrets)).map((d) => ({ ...d, before: d.before && maskIn(d.before, m.secrets), after: d.after && maskIn(d.after, m.secrets) }));
      const names = diff.map((d) => d.path).filter(Boolean);
      return { changed: true, msg: `would apply ${what}${names.length ? ` (differs: ${names.join(', ')})` : ''}`, diff: ctx.diff ? diff : undefined, state: m };
    }
    // kubectl diff asks the API server for a dry-run apply, which cannot see a namespace the same
    // manifest would create: for those objects everything is new.
    const ns = /namespaces "([^"]+)" not found/.exec(r.stderr);
    if (ns && m.namespaces.includes(ns[1]!)) {
      return { changed: true, msg: `would apply ${what} (namespace ${ns[1]} does not exist yet)`, state: m };
    }
    return { changed: false, status: 'failed', msg: `kubectl diff failed (exit ${r.code}): ${maskIn(cliError(r), m.secrets)}${tunnelNote(reach.api)}` };
  },
  async apply(ctx, p, probe) {
    const m = probe.state!;
    const reach = await kubeApiFor(ctx, p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined);
    if (typeof reach === 'string') return { status: 'failed', msg: reach };
    const r = await ctx.run(`${kubectlBase(ctx, p, reach.kubeconfig)} apply -f -`, { stdin: m.text });
    const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (r.code !== 0) return { status: 'failed', msg: `kubectl apply failed (exit ${r.code}): ${maskIn(cliError(r), m.secrets)}${tunnelNote(reach.api)}` };
    const changed = lines.some((l) => !/ unchanged$/.test(l));
    return { changed, msg: maskIn(lines.join('; ') || 'applied', m.secrets) };
  },
});
