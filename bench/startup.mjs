#!/usr/bin/env node
// `npm run bench:startup`: how long a command takes before it does anything — the built CLI
// (bin/rancher-play.js → dist/cli.cjs with its code cache; `validate` also from dist/ module by
// module, as before that file) and the one-file bundle, `--version` and `validate` of the HA
// playbook — beside the baselines of the same run: `node -e 0` (the floor for any Node
// program) and ansible-playbook's `--version` and `--syntax-check` of the benchmark playbook.
// Commands run round-robin (one of each, N times), so a change in machine load hits all alike;
// medians are printed, of wall time and of CPU time (user + system, from /usr/bin/time: on a
// machine shared with other work, waiting for a core inflates the wall time, far less the CPU
// time). Connects to nothing.
//
//   node bench/startup.mjs [--runs 15] [-i INVENTORY] [--no-bundle] [--json FILE]
//
// `validate` needs an inventory whose key and certificate files exist: `-i` with a lab's
// inventory (e.g. .lab/<tag>rp/inventory.yml); without -i, inventory/lab.yml when its lab is up,
// else a copy of it whose key and certificates are made afresh in a temp dir (no lab needed).
//
// Not a test: nothing here asserts a time.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuTimed, die, ensureBuild, load, machine, median, ROOT, runMain, sh, writeJson, usage } from './lib.mjs';

const ANSIBLE = '/usr/bin/ansible-playbook';
function parseArgs(argv) {
  const o = { runs: 15, bundle: true, json: undefined, inventory: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') {
      o.runs = Number(argv[++i]);
      if (!Number.isInteger(o.runs) || o.runs < 1) die('--runs needs a positive integer');
    } else if (a === '-i' || a === '--inventory') o.inventory = argv[++i] ?? die('-i needs a file');
    else if (a === '--no-bundle') o.bundle = false;
    else if (a === '--json') o.json = argv[++i] ?? die('--json needs a file');
    else if (a === '-h' || a === '--help') usage(import.meta.url, 16);
    else die(`unknown option ${a} (see --help)`);
  }
  return o;
}

/**
 * The lab inventory (inventory/lab.yml) when the files it names exist; else the same inventory
 * with its SSH key, known_hosts, TLS chain and work dir made in `tmp` (validate reads the
 * certificates; it connects to nothing, so the addresses need not exist).
 */
async function labInventory(tmp) {
  const committed = join(ROOT, 'inventory', 'lab.yml');
  const text = readFileSync(committed, 'utf8');
  const paths = [...text.matchAll(/"(\/[^"]+)"/g)].map((m) => m[1]);
  if (paths.every(existsSync)) return committed;
  const { makePki, makeSshKey } = await import(join(ROOT, 'dist', 'lab', 'pki.js'));
  const ssh = join(tmp, 'ssh');
  const { key } = await makeSshKey(ssh);
  writeFileSync(join(ssh, 'known_hosts'), '');
  const pki = await makePki(join(tmp, 'pki'), 'rancher.lab.test', ['198.18.1.20']);
  mkdirSync(join(tmp, 'work'));
  // rke/helm/kubectl: the lab's own wrappers (lab/wrappers.ts, as the lab writes them); validate
  // asks `rke --version` of rke_binary.
  const { wrapperScript } = await import(join(ROOT, 'dist', 'lab', 'wrappers.js'));
  const bin = join(tmp, 'bin');
  mkdirSync(bin);
  const fixture = (name) => {
    const f = join(bin, name);
    writeFileSync(f, wrapperScript(name, { fixturesDir: join(ROOT, 'lab', 'fixtures'), node: process.execPath }), { mode: 0o755 });
    return f;
  };
  const swap = { rke: fixture('rke'), helm: fixture('helm'), kubectl: fixture('kubectl'), id_ed25519: key, known_hosts: join(ssh, 'known_hosts'), 'ca.pem': pki.caCert, 'server-chain.pem': pki.serverChain, 'server.key': pki.serverKey, 'rke-fixture': join(ROOT, 'lab', 'fixtures', 'rke-fixture'), work: join(tmp, 'work') };
  const out = join(tmp, 'inventory.yml');
  writeFileSync(out, text.replace(/"(\/[^"]+)"/g, (all, p) => {
    const to = swap[p.split('/').pop()];
    if (!to) die(`inventory/lab.yml names ${p}, which bench/startup.mjs does not know how to stand in for (pass -i)`);
    return JSON.stringify(to);
  }));
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  ensureBuild();
  const bundle = join(ROOT, 'bundle', 'rancher-play.mjs');
  if (o.bundle) {
    const r = sh(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')]);
    if (r.code !== 0 || !existsSync(bundle)) die(`bundle build failed:\n${r.out.slice(-2000)}`);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'rp-startup-'));
  const ansInv = join(tmp, 'hosts.ini');
  writeFileSync(ansInv, '[bench]\nh01 ansible_host=127.0.0.1\n');
  const pb = join(ROOT, 'playbooks', 'ha-l7.yml');
  const inv = o.inventory ?? await labInventory(tmp);
  const cli = join(ROOT, 'bin', 'rancher-play.js');
  // dist/ as bin/ ran it before dist/cli.cjs (module by module, no code cache), for comparison.
  const distEntry = join(tmp, 'dist-cli.mjs');
  writeFileSync(distEntry, `const { main } = await import(${JSON.stringify(join(ROOT, 'dist', 'runner', 'cli', 'index.js'))}); process.exitCode = await main(process.argv.slice(2));\n`);
  const node = process.execPath;
  const cmds = [
    ['node -e 0', node, ['-e', '0']],
    ['rancher-play --version', node, [cli, '--version']],
    ['rancher-play validate ha-l7', node, [cli, 'validate', pb, '-i', inv]],
    ['dist/ validate ha-l7 (no cli.cjs)', node, [distEntry, 'validate', pb, '-i', inv]],
    ...(o.bundle ? [
      ['bundle --version', node, [bundle, '--version']],
      ['bundle validate ha-l7', node, [bundle, 'validate', pb, '-i', inv]],
    ] : []),
    ...(existsSync(ANSIBLE) ? [
      ['ansible-playbook --version', ANSIBLE, ['--version']],
      ['ansible-playbook --syntax-check', ANSIBLE, ['--syntax-check', '-i', ansInv, join(ROOT, 'bench', 'ansible', 'bench.yml')]],
    ] : []),
  ];
  const env = { ...process.env, NO_COLOR: '1', CI: '1', ANSIBLE_HOME: join(tmp, 'ansible'), ANSIBLE_LOCAL_TEMP: join(tmp, 'ansible-tmp') };
  const m = machine();
  const loadBefore = load();
  console.log(`bench: ${m.cpus} CPUs (${m.cpuModel}); node ${process.version}; ${o.runs} runs of each, round-robin; load ${load()}`);
  const samples = Object.fromEntries(cmds.map(([name]) => [name, []]));
  const cpu = Object.fromEntries(cmds.map(([name]) => [name, []]));
  try {
    // One untimed round: page cache, Python bytecode.
    for (const [name, cmd, args] of cmds) {
      const r = await cpuTimed(cmd, args, { env, tmp });
      if (r.code !== 0) die(`${name} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}${name.includes('validate') ? '\n(bring a lab up, or pass -i with an inventory whose files exist)' : ''}`);
    }
    for (let i = 0; i < o.runs; i++) {
      for (const [name, cmd, args] of cmds) {
        const r = await cpuTimed(cmd, args, { env, tmp });
        samples[name].push(r.ms);
        cpu[name].push(r.cpuMs);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const floor = median(samples['node -e 0']);
  const cpuFloor = median(cpu['node -e 0']);
  const rows = ['| command | median | min | minus `node -e 0` | CPU median | CPU minus `node -e 0` |', '|---|---|---|---|---|---|'];
  const result = { date: new Date().toISOString(), machine: m, node: process.version, runs: o.runs, loadBefore, loadAfter: load(), medians: {} };
  const s3 = (ms) => `${(ms / 1000).toFixed(3)}s`;
  for (const [name] of cmds) {
    const med = median(samples[name]);
    const cmed = median(cpu[name]);
    result.medians[name] = { medianMs: med, minMs: Math.min(...samples[name]), cpuMedianMs: cmed, samples: samples[name], cpuSamples: cpu[name] };
    const base = name === 'node -e 0';
    rows.push(`| ${name} | ${s3(med)} | ${s3(Math.min(...samples[name]))} | ${base ? '—' : s3(med - floor)} | ${s3(cmed)} | ${base ? '—' : s3(cmed - cpuFloor)} |`);
  }
  const v = result.medians['rancher-play validate ha-l7'];
  const ratio = `validate ha-l7 / node -e 0: wall ${(v.medianMs / floor).toFixed(2)}x, CPU ${(v.cpuMedianMs / cpuFloor).toFixed(2)}x (target <= 2x)`;
  result.ratio = { wall: v.medianMs / floor, cpu: v.cpuMedianMs / cpuFloor };
  console.log(`\n${rows.join('\n')}\n\n${ratio}\nload average before: ${loadBefore}; at the end: ${result.loadAfter}`);
  if (o.json) writeJson(o.json, result);
}

runMain(main);
