// kubectl-rollout: wait until a workload has rolled out (`kubectl rollout status`), on the
// controller, through the same API tunnel as helm-release and kubectl-apply. Waiting only reads,
// so it is the probe and runs in check mode too; it never reports a change.
import { defineTask } from '../runner/sdk/index.js';
import { binaryFor, cliError, dnsLabelProblem, kubeApiFor, kubeCli, missingKubeconfig, tunnelNote } from './helm-release.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['resource', 'namespace'],
  properties: {
    resource: { type: 'string', pattern: '^[a-z0-9.]+/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', description: 'TYPE/NAME, e.g. deploy/rancher.' },
    namespace: { type: 'string', minLength: 1, description: 'Namespace of the workload, e.g. cattle-system.' },
    timeout: { type: 'string', default: '10m', pattern: '^([0-9]+(\\.[0-9]+)?(ns|us|ms|s|m|h))+$', description: 'kubectl --timeout (a Go duration such as 10m).' },
    kubeconfig: { type: 'string', description: 'Kubeconfig on the controller (default: kubectl\'s own, $KUBECONFIG or ~/.kube/config).' },
    kubectl: { type: 'string', description: 'The kubectl binary (default: vars kubectl_binary, else kubectl on PATH).' },
    api_via: { type: 'string', description: 'Inventory host to reach the API server through (default: var api_via, else the inventory host the kubeconfig names; none: direct).' },
  },
} as const;

export default defineTask({
  id: 'kubectl-rollout',
  summary: 'Wait until a Deployment/DaemonSet/StatefulSet has rolled out (`kubectl rollout status`); read-only',
  schema,
  runsOn: 'controller',
  precheck: (p) => [dnsLabelProblem('namespace', p.namespace)].filter((x): x is string => x !== undefined),
  async probe(ctx, p) {
    const q = ctx.quote;
    const bad = dnsLabelProblem('namespace', p.namespace);
    if (bad) return { changed: false, status: 'failed', msg: bad };
    const kube = p.kubeconfig ? ctx.resolve(p.kubeconfig) : undefined;
    const missing = await missingKubeconfig(ctx, kube);
    if (missing) return { changed: false, status: 'failed', msg: `kubeconfig ${missing} not found on the controller (run rke-up first)` };
    const reach = await kubeApiFor(ctx, kube, p.api_via);
    if (typeof reach === 'string') return { changed: false, status: 'failed', msg: reach };
    const kubectl = kubeCli(ctx, binaryFor(p.kubectl, ctx.vars, 'kubectl_binary', 'kubectl'), reach.kubeconfig);
    const r = await ctx.run(`${kubectl} -n ${q(p.namespace)} rollout status --timeout ${q(p.timeout)} -- ${q(p.resource)}`, { onLine: (l) => ctx.log(l) });
    const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    if (r.code !== 0) return { changed: false, status: 'failed', msg: `kubectl rollout status ${p.resource} failed (exit ${r.code}): ${cliError(r)}${tunnelNote(reach.api)}` };
    return { changed: false, msg: lines[lines.length - 1] ?? `${p.resource} rolled out` };
  },
});
