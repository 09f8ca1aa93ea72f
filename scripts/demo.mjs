// `npm run demo`: brings up the local lab (network namespaces, real sshd/nginx/DNS/proxy; Linux,
// root) and runs the layer-7 Rancher HA playbook against it with the Listr tree forced on, then
// shows a request to the Rancher FQDN going through the new load balancer to a node.
// `predemo` has already installed npm packages and built dist/; the lab installs its Debian packages.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (args) => spawnSync(process.execPath, [join(root, 'bin', 'rancher-play.js'), ...args], {
  cwd: root, stdio: 'inherit', env: { ...process.env, RANCHER_PLAY_RENDERER: 'tree' },
}).status ?? 1;

console.log('== lab up ==');
let code = cli(['lab', 'up']);
if (code === 0) {
  console.log('\n== rancher-play run playbooks/ha-l7.yml -i inventory/lab.yml ==');
  code = cli(['run', 'playbooks/ha-l7.yml', '-i', 'inventory/lab.yml']);
}
if (code === 0) {
  // What a browser would get: the lab DNS name, TLS from the LB, the node's ingress behind it.
  const { labInfo } = await import('../dist/lab/lab.js');
  const info = labInfo();
  const get = (path) => spawnSync('curl', ['-sS', '--cacert', info.caCert, '--resolve', `${info.fqdn}:443:${info.lbPublic}`,
    `https://${info.fqdn}${path}`], { encoding: 'utf8' });
  console.log(`\n== https://${info.fqdn}/ping through the load balancer ==\n${get('/ping').stdout}`);
  const r = get('/demo');
  console.log(`\n== https://${info.fqdn}/demo through the load balancer ==`);
  try {
    const body = JSON.parse(r.stdout);
    console.log(`answered by the Rancher stand-in on ${body.node}, behind that node's ingress-nginx; headers it received:`);
    for (const h of ['host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-for']) console.log(`  ${h}: ${body.headers[h]}`);
  } catch {
    console.log((r.stdout + r.stderr).trim());
  }
  console.log('\nThe lab stays up for you to explore (`npx rancher-play lab status`); `npx rancher-play lab down` removes it.');
}
process.exitCode = code;
