#!/usr/bin/env node
// `npm run bench:startup`: how long a command takes before it does anything — the built CLI
// (bin/rancher-play.js → dist/) and the one-file bundle, `--version` and `validate` of the HA
// playbook — beside the baselines of the same run: `node -e 0` (the floor for any Node
// program) and ansible-playbook's `--version` and `--syntax-check` of the benchmark playbook.
// Commands run round-robin (one of each, N times), so a change in machine load hits all alike;
// medians are printed. Connects to nothing.
//
//   node bench/startup.mjs [--runs 15] [-i INVENTORY] [--no-bundle] [--json FILE]
//
// `validate` needs an inventory whose key and certificate files exist: inventory/lab.yml after
// `rancher-play lab up` (default), or a tagged lab's .lab/<tag>rp/inventory.yml.
//
// Not a test: nothing here asserts a time.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { die, ensureBuild, load, machine, median, ROOT, runMain, sampled, sh, writeJson, usage } from './lib.mjs';

const ANSIBLE = '/usr/bin/ansible-playbook';

function parseArgs(argv) {
  const o = { runs: 15, bundle: true, json: undefined, inventory: join(ROOT, 'inventory', 'lab.yml') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') {
      o.runs = Number(argv[++i]);
      if (!Number.isInteger(o.runs) || o.runs < 1) die('--runs needs a positive integer');
    } else if (a === '-i' || a === '--inventory') o.inventory = argv[++i] ?? die('-i needs a file');
    else if (a === '--no-bundle') o.bundle = false;
    else if (a === '--json') o.json = argv[++i] ?? die('--json needs a file');
    else if (a === '-h' || a === '--help') usage(import.meta.url, 13);
    else die(`unknown option ${a} (see --help)`);
  }
  return o;
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
  const inv = o.inventory;
  const cli = join(ROOT, 'bin', 'rancher-play.js');
  const node = process.execPath;
  const cmds = [
    ['node -e 0', node, ['-e', '0']],
    ['rancher-play --version', node, [cli, '--version']],
    ['rancher-play validate ha-l7', node, [cli, 'validate', pb, '-i', inv]],
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
  console.log(`bench: ${m.cpus} CPUs (${m.cpuModel}); node ${process.version}; ${o.runs} runs of each, round-robin; load ${load()}`);
  const samples = Object.fromEntries(cmds.map(([name]) => [name, []]));
  try {
    // One untimed round: page cache, Python bytecode.
    for (const [name, cmd, args] of cmds) {
      const r = await sampled(cmd, args, { env });
      if (r.code !== 0) die(`${name} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}${name.includes('validate') ? '\n(bring a lab up, or pass -i with an inventory whose files exist)' : ''}`);
    }
    for (let i = 0; i < o.runs; i++) {
      for (const [name, cmd, args] of cmds) samples[name].push((await sampled(cmd, args, { env })).ms);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  const floor = median(samples['node -e 0']);
  const rows = ['| command | median | min | minus `node -e 0` |', '|---|---|---|---|'];
  const result = { date: new Date().toISOString(), machine: m, node: process.version, runs: o.runs, loadAfter: load(), medians: {} };
  for (const [name] of cmds) {
    const med = median(samples[name]);
    result.medians[name] = { medianMs: med, minMs: Math.min(...samples[name]), samples: samples[name] };
    rows.push(`| ${name} | ${(med / 1000).toFixed(3)}s | ${(Math.min(...samples[name]) / 1000).toFixed(3)}s | ${name === 'node -e 0' ? '—' : `${((med - floor) / 1000).toFixed(3)}s`} |`);
  }
  console.log(`\n${rows.join('\n')}\n\nload average at the end: ${result.loadAfter}`);
  if (o.json) writeJson(o.json, result);
}

runMain(main);
