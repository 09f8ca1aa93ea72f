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
    '  rancher_version: v2.0.6',
    `  lb_address: ${info.lbPublic}            # the LB's public address (what DNS must answer)`,
    `  dns_resolver: ${info.dnsServer}`,
    `  proxy: { http: ${s(info.proxy.url)}, https: ${s(info.proxy.url)} }`,
    `  probe_url: ${s(info.internet.url)}     # only reachable through the proxy`,
    `  ca_cert: ${s(info.caCert)}`,
    `  tls_cert: ${s(info.serverCert)}        # server certificate, then the intermediate`,
    `  tls_key: ${s(info.serverKey)}`,
    `  rke_binary: ${s(info.bin.rke)}      # lab fixtures standing in for rke, helm, kubectl`,
    `  helm_binary: ${s(info.bin.helm)}`,
    `  kubectl_binary: ${s(info.bin.kubectl)}`,
    `  docker_pull_probe: ${s(info.registry.pullProbe)}   # an image on the lab registry, pulled through the proxy`,
    `  work_dir: ${s(`${info.dir}/work`)}`,
    `  rke_bastion: { address: ${info.bastion.address}, user: rancher, port: ${info.bastion.port}, ssh_key_path: ${s(info.sshKey)} }`,
    '',
  ].join('\n');
}

export function writeInventory(info: LabInfo, dest: string, opts: InventoryOptions = {}): void {
  const schema = join(info.dir, '..', '..', 'schemas', 'inventory.schema.json');
  if (opts.schema === undefined && existsSync(schema)) opts = { ...opts, schema: relative(dirname(dest), schema) };
  const tmp = `${dest}.tmp-${process.pid}`;
  writeFileSync(tmp, inventoryText(info, opts), { mode: 0o644 });
  renameSync(tmp, dest);
}
