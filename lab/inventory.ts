// The rancher-play inventory describing a lab (what `lab up` writes to inventory/lab.yml and
// .lab/<name>/inventory.yml). Tests can write variants, e.g. without the lab's known_hosts.
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { LabInfo } from './types.js';

export interface InventoryOptions {
  /** path of the inventory JSON Schema, for editors (a yaml-language-server header) */
  schema?: string;
  /** known_hosts file to use; false leaves it out (the user's ~/.ssh/known_hosts applies) */
  knownHosts?: string | false;
}

const s = (v: string) => JSON.stringify(v); // YAML accepts JSON strings: safe quoting of paths

export function inventoryText(info: LabInfo, opts: InventoryOptions = {}): string {
  const kh = opts.knownHosts === undefined ? info.knownHosts : opts.knownHosts;
  const head = [
    ...(opts.schema ? [`# yaml-language-server: $schema=${opts.schema}`] : []),
    `# rancher-play inventory of the local lab "${info.name}", written by \`rancher-play lab up\`.`,
    '# Addresses exist only inside the lab (network namespaces on this machine); `lab down` removes them.',
  ];
  if (info.mode === 'plain') {
    return [
      ...head,
      'defaults:',
      '  user: root',
      '  port: 22',
      `  ssh_key_path: ${s(info.sshKey)}`,
      ...(kh ? [`  known_hosts: ${s(kh)}`] : []),
      'hosts:',
      ...info.nodes.map((n) => `  ${n.name}: { address: ${n.address} }`),
      'groups:',
      `  bench: { hosts: [${info.nodes.map((n) => n.name).join(', ')}] }`,
      '',
    ].join('\n');
  }
  return [
    ...head,
    'defaults:',
    '  user: rancher                   # non-root, in the docker group, passwordless sudo',
    '  port: 22',
    `  ssh_key_path: ${s(info.sshKey)}`,
    ...(kh ? [`  known_hosts: ${s(kh)}`] : []),
    '  jump: bastion                   # nodes and lb1 are reachable only through the bastion',
    'jump_hosts:',
    `  bastion: { address: ${info.bastion.address}, port: ${info.bastion.port}, user: rancher, ssh_key_path: ${s(info.sshKey)} }`,
    'hosts:',
    ...info.nodes.map((n) => `  ${n.name}: { address: ${n.address} }`),
    `  ${info.lb.name}: { address: ${info.lb.address}, become: true, vars: { public_address: ${info.lbPublic} } }`,
    'groups:',
    `  rancher: { hosts: [${info.nodes.map((n) => n.name).join(', ')}], vars: { rke_roles: [controlplane, etcd, worker] } }`,
    `  lb: { hosts: [${info.lb.name}] }`,
    'vars:',
    `  fqdn: ${info.fqdn}`,
    // A pair upstream supports for each install: Rancher v2.0.x on RKE v0.1.9's default Kubernetes;
    // ha-rke2.yml (its vars_schema gives `distribution`) needs a Rancher that runs on RKE2/K3s v1.28.
    '  # Rancher v2.0.6 on RKE v0.1.9 (ha-l7, ha-l4, ha-helm); v2.8.5 where the playbook picks a',
    '  # distribution (ha-rke2: RKE2 or K3s v1.28; Rancher below v2.5 never ran on them)',
    `  rancher_version: '{{#if distribution}}v2.8.5{{else}}v2.0.6{{/if}}'`,
    '  kubernetes_version: v1.11.1-rancher1-1   # RKE v0.1.9\'s default; Rancher v2.0.x supports v1.8-v1.11',
    '  ignore_docker_version: true     # the nodes\' Docker 20.10 is newer than RKE v0.1.9 accepts (17.03.x): RKE only warns',
    `  lb_address: ${info.lbPublic}            # the LB's public address (what DNS must answer)`,
    `  dns_resolver: ${info.dnsServer}`,
    `  proxy: { http: ${s(info.proxy.url)}, https: ${s(info.proxy.url)} }`,
    `  probe_url: ${s(info.internet.url)}     # only reachable through the proxy`,
    `  ca_cert: ${s(info.caCert)}`,
    `  tls_cert: ${s(info.serverCert)}        # server certificate, then the intermediate`,
    `  tls_key: ${s(info.serverKey)}`,
    `  rke_binary: ${s(info.bin.rke)}      # lab fixtures standing in for rke (v0.1.9), helm, kubectl`,
    `  helm_binary: ${s(info.bin.helm)}`,
    `  kubectl_binary: ${s(info.bin.kubectl)}`,
    `  docker_pull_probe: ${s(info.registry.pullProbe)}   # an image on the lab registry, pulled through the proxy`,
    `  work_dir: ${s(`${info.dir}/work`)}`,
    `  rke_bastion: { address: ${info.bastion.address}, user: rancher, port: ${info.bastion.port}, ssh_key_path: ${s(info.sshKey)} }`,
    '',
  ].join('\n');
}

/** Extra vars (`-e @FILE`) for the Helm path on a current pair: Rancher v2.7.6 on Kubernetes
 * v1.26 built by the RKE v1.4.11 stand-in, whose Docker list has the nodes' 20.10. */
export function helmVarsText(info: LabInfo): string {
  return [
    `# Extra vars for the lab "${info.name}": Rancher v2.7.6 by Helm on Kubernetes v1.26 (RKE v1.4.11), written by \`rancher-play lab up\`.`,
    '#   rancher-play run playbooks/ha-helm.yml -i inventory/lab.yml -e @inventory/vars/lab-rancher-v2.7.yml',
    'rancher_version: v2.7.6',
    'kubernetes_version: v1.26.8-rancher1-1',
    'ignore_docker_version: false',
    `rke_binary: ${s(info.bin.rkeV1)}`,
    `work_dir: ${s(`${info.dir}/work-v2.7`)}`,
    '',
  ].join('\n');
}

export function writeHelmVars(info: LabInfo, dest: string): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  writeFileSync(tmp, helmVarsText(info), { mode: 0o644 });
  renameSync(tmp, dest);
}

export function writeInventory(info: LabInfo, dest: string, opts: InventoryOptions = {}): void {
  const schema = join(info.dir, '..', '..', 'schemas', 'inventory.schema.json');
  if (opts.schema === undefined && existsSync(schema)) opts = { ...opts, schema: relative(dirname(dest), schema) };
  const tmp = `${dest}.tmp-${process.pid}`;
  writeFileSync(tmp, inventoryText(info, opts), { mode: 0o644 });
  renameSync(tmp, dest);
}
