// Makes a fresh clone runnable: npm packages (npm ci when node_modules is missing or stale)
// and the compiled engine; and, as root, ansible-core when missing, because test/compat compares
// with ansible-inventory. Debian packages for the lab are installed by the lab itself.
import { existsSync, statSync } from 'node:fs';
import { execSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
const lock = join(root, 'package-lock.json');
const marker = join(root, 'node_modules', '.package-lock.json');
if (!existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000)) {
  run('npm ci --no-audit --no-fund'); // `prepare` builds dist/
} else {
  run('npx tsc -p tsconfig.json && node scripts/validators.mjs && node scripts/cli-bundle.mjs');
}

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
if (!has('ansible-inventory')) {
  if (process.getuid?.() === 0 && has('apt-get')) {
    run('apt-get install -y --no-install-recommends ansible-core || (apt-get update && apt-get install -y --no-install-recommends ansible-core)');
  } else {
    console.warn('ensure: ansible-inventory is missing and test/compat needs it: install ansible-core (as root: apt-get install ansible-core)');
  }
}
