// Built-in tasks. To add one: one import line and one array entry.
import type { AnyTask } from '../runner/sdk/index.js';
import command from './command.js';
import copy from './copy.js';
import waitFor from './wait-for.js';
import renderTemplate from './render-template.js';
import checkDocker from './check-docker.js';
import checkProxy from './check-proxy.js';
import configureNginxLb from './configure-nginx-lb.js';
import verifyDns from './verify-dns.js';
import rkeUp from './rke-up.js';
import backupKubeconfig from './backup-kubeconfig.js';
import helmRelease from './helm-release.js';
import kubectlApply from './kubectl-apply.js';
import kubectlRollout from './kubectl-rollout.js';
import verifyRancher from './verify-rancher.js';

export const builtinTasks: AnyTask[] = [
  command,
  copy,
  waitFor,
  renderTemplate,
  checkDocker,
  checkProxy,
  configureNginxLb,
  verifyDns,
  rkeUp,
  backupKubeconfig,
  helmRelease,
  kubectlApply,
  kubectlRollout,
  verifyRancher,
];
