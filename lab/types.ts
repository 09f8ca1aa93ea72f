// What a lab that is up looks like from the controller (saved as .lab/<name>/lab.json).

export interface LabInfo {
  name: string;
  dir: string;                                       // .lab/<name>/ under the repo
  mode: 'rancher' | 'plain';
  index: number;                                     // subnets are derived from it
  inventory: string;                                 // path of the inventory written
  fqdn: string;                                      // rancher.lab.test
  dnsServer: string;                                 // IP the controller can query (port 53)
  lbPublic: string;                                  // LB address the controller reaches (80/443)
  bastion: { address: string; port: number; clusterAddress: string };
  nodes: { name: string; address: string }[];        // node1..3 (cluster net); plain mode: h01..hNN
  lb: { name: string; address: string };             // lb1 on the cluster net
  proxy: { url: string; address: string; port: number; log: string }; // reachable from nodes
  internet: { url: string; address: string };       // reachable only through the proxy
  caCert: string;
  /** server certificate followed by the intermediate (what nginx/ingress serve) */
  serverCert: string;
  serverLeaf: string;
  intermediateCert: string;
  serverKey: string;
  sshKey: string;
  knownHosts: string;
  users: { root: string; rancher: string };
  rkeFixture: string;                                // the rke stand-in on the controller
  /** wrappers running the rke/helm/kubectl fixtures against this lab (RANCHER_PLAY_LAB_DIR set):
   * `rke` plays RKE v0.1.9 (the add-on install's), `rkeV1` RKE v1.4.11 (Kubernetes v1.23–v1.26) */
  bin: { rke: string; rkeV1: string; helm: string; kubectl: string };
  /** extra vars for the Helm path on a current pair (Rancher v2.7.6 on Kubernetes v1.26, RKE v1.4.11): `-e @FILE` */
  helmVars?: string;
  /** the Docker registry on the lab internet (TLS from the lab CA), reached by nodes via the proxy */
  registry: { host: string; address: string; log: string; images: { ref: string; digest: string }[]; pullProbe: string };
  /** addresses of the lab's DNS records (setDnsRecord changes them) */
  dnsRecords: Record<string, string>;
}
