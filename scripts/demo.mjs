// `npm run demo`: runs the local example playbook twice (the second run shows 0 changed), with
// the Listr tree forced on even under CI. The lab version (lab up + ha-l7.yml) replaces this
// once the lab lands. `predemo` has already installed packages and built dist/.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = (args) => spawnSync(process.execPath, [join(root, 'bin', 'rancher-play.js'), ...args], {
  cwd: root, stdio: 'inherit', env: { ...process.env, RANCHER_PLAY_RENDERER: 'tree' },
}).status ?? 1;

const pb = 'playbooks/local-demo.yml';
const inv = 'inventory/local.yml';
let code = cli(['validate', pb, '-i', inv]);
if (code === 0) {
  console.log('\n== first run ==');
  code = cli(['run', pb, '-i', inv, '--diff']);
}
if (code === 0) {
  console.log('\n== second run (idempotent: 0 changed) ==');
  code = cli(['run', pb, '-i', inv]);
}
process.exitCode = code;
