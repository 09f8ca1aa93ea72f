#!/usr/bin/env node
// `npm run bench:transfer`: big files to a node through the bastion — rancher-play's `copy` of
// a controller file against `scp -J` over the same jump host, in the same run, alternating, for
// each size asked (default 100 MiB and 1 GiB). Brings up a lab (bastion + nodes, network
// namespaces), writes a random file, and prints per size the median wall time of each (whole
// command: start-up, connection, transfer), their ratio, the controller's peak RSS (the whole
// process tree, sampled from /proc), and the **unchanged rerun**: rancher-play run again on the
// destination it has just written (nothing to send), as a ratio to scp's upload. CPU time
// (user + system, with the children waited for: scp's ssh) is printed beside the wall time: on
// a machine shared with other work it is the steadier figure.
//
//   node bench/transfer.mjs [--mb 100,1024] [--runs 3] [--keep-lab] [--json FILE]
//
// Not a test: nothing here asserts a time. Needs Linux and root (the lab does). Traffic goes
// only to the lab's hosts.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cpuTimed, die, ensureBuild, loadLab, fmtMB, fmtS, load, machine, median, ROOT, runMain, writeJson, usage } from './lib.mjs';

const LAB = 'xfer';
const DEST_RP = '/var/tmp/bench-rp.bin';
const DEST_SCP = '/var/tmp/bench-scp.bin';

function parseArgs(argv) {
  const o = { mb: [100, 1024], runs: 3, keepLab: false, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name, min = 1) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) die(`${name} needs an integer ≥ ${min}, got "${argv[i] ?? ''}"`);
      return v;
    };
    if (a === '--mb') {
      const text = argv[++i] ?? '';
      o.mb = text.split(',').map(Number);
      if (!o.mb.length || o.mb.some((v) => !Number.isInteger(v) || v < 1)) die(`--mb needs sizes in MiB, comma-separated (e.g. 100,1024), got "${text}"`);
    } else if (a === '--runs') o.runs = num('--runs');
    else if (a === '--keep-lab') o.keepLab = true;
    else if (a === '--json') o.json = argv[++i] ?? die('--json needs a file');
    else if (a === '-h' || a === '--help') usage(import.meta.url, 16);
    else die(`unknown option ${a} (see --help)`);
  }
  return o;
}

/** Incompressible content (so no layer can cheat by compressing), written 1 MiB at a time. */
function randomFile(path, mb) {
  const h = createHash('sha256');
  const fd = openSync(path, 'w');
  for (let i = 0; i < mb; i++) {
    const b = randomBytes(1 << 20);
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  return h.digest('hex');
}

/** The system client's view of the lab: its key and known_hosts, strict checking, no agent. */
function sshConfig(info, dir) {
  const file = join(dir, 'ssh_config');
  writeFileSync(file, [
    'Host *',
    `  IdentityFile ${info.sshKey}`,
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    `  UserKnownHostsFile ${info.knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  BatchMode yes',
    '  LogLevel ERROR',
    '',
  ].join('\n'));
  return file;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.getuid?.() !== 0) die('needs Linux and root (the lab uses network namespaces)');
  ensureBuild();
  const labApi = await loadLab();
  const m = machine();
  console.log(`bench: ${m.cpus} CPUs (${m.cpuModel}), ${m.memGiB} GiB; node ${process.version}; load ${load()}`);
  const info = await labApi.labUp({ name: LAB, log: (l) => console.log(`bench: ${l}`) });
  const node = info.nodes[0];
  const work = join(info.dir, 'transfer');
  mkdirSync(work, { recursive: true });
  const cfg = sshConfig(info, work);
  // The controller's record of its uploads lives in a cache of this run's own.
  const env = { ...process.env, NO_COLOR: '1', CI: '1', XDG_CACHE_HOME: join(work, 'cache') };
  delete env.SSH_AUTH_SOCK; // both tools use the lab key only
  const cli = join(ROOT, 'bin', 'rancher-play.js');
  const playbook = (src) => {
    const pb = join(work, `copy-${src}.yml`);
    writeFileSync(pb, `name: transfer\nplays:\n  - name: big file\n    hosts: ${node.name}\n    tasks:\n      - name: upload\n        copy: { src: ${src}, dest: ${DEST_RP}, mode: "0644" }\n`);
    return pb;
  };
  const clean = async () => {
    const r = await labApi.labExec(node.name, `rm -f ${DEST_RP} ${DEST_SCP}`, LAB);
    if (r.code !== 0) throw new Error(`cleaning ${node.name}: ${r.stderr}`);
  };
  const remoteSum = async (path) => (await labApi.labExec(node.name, `sha256sum < ${path} | cut -d' ' -f1`, LAB)).stdout.trim();
  const tools = {
    'rancher-play': (src) => cpuTimed(process.execPath, [cli, 'run', playbook(src), '-i', info.inventory, '--json'], { env, sampleMs: 20, tmp: work }),
    'scp -J': (src) => cpuTimed('scp', ['-q', '-F', cfg, '-J', `rancher@${info.bastion.address}`, join(work, src), `rancher@${node.address}:${DEST_SCP}`], { env, sampleMs: 20, tmp: work }),
  };
  const recapOf = (stdout) => JSON.parse(stdout.trim().split('\n').pop()).hosts[node.name];
  const result = { date: new Date().toISOString(), machine: m, node: process.version, runs: o.runs, loadBefore: load(), sizes: {} };
  try {
    for (const mb of o.mb) {
      console.log(`\nbench: writing ${mb} MiB of random data…`);
      const src = `data-${mb}.bin`;
      const sum = randomFile(join(work, src), mb);
      const samples = { 'rancher-play': { ms: [], kib: [], cpu: [] }, 'scp -J': { ms: [], kib: [], cpu: [] }, rerun: { ms: [], kib: [], cpu: [] } };
      const once = async (name) => {
        await clean();
        const r = await tools[name](src);
        if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}`);
        if (name === 'rancher-play' && recapOf(r.stdout).changed !== 1) throw new Error(`rancher-play did not upload:\n${r.stdout.slice(-2000)}`);
        const got = await remoteSum(name === 'scp -J' ? DEST_SCP : DEST_RP);
        if (got !== sum) throw new Error(`${name}: the node's copy has sha256 ${got}, want ${sum}`);
        return r;
      };
      /** rancher-play again on the file it has just put there: must find nothing to do. */
      const rerun = async () => {
        const r = await tools['rancher-play'](src);
        if (r.code !== 0 || recapOf(r.stdout).changed !== 0) throw new Error(`the unchanged rerun changed something (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}`);
        return r;
      };
      const show = (i, name, r) => console.log(`  run ${i + 1}/${o.runs} ${name.padEnd(12)} ${fmtS(r.ms).padStart(7)}  ${(mb / (r.ms / 1000)).toFixed(1).padStart(6)} MiB/s  CPU ${fmtS(r.cpuMs)}  peak RSS ${fmtMB(r.peakKiB)}  (load ${load()})`);
      // Warm-up (untimed): page cache of the file, sshd, the jump connection's first handshake.
      for (const name of Object.keys(tools)) await once(name);
      for (let i = 0; i < o.runs; i++) {
        const order = i % 2 ? ['scp -J', 'rancher-play'] : ['rancher-play', 'scp -J'];
        for (const name of order) {
          const r = await once(name);
          for (const [k, v] of [['ms', r.ms], ['kib', r.peakKiB], ['cpu', r.cpuMs]]) samples[name][k].push(v);
          show(i, name, r);
          if (name === 'rancher-play') {
            const again = await rerun();
            for (const [k, v] of [['ms', again.ms], ['kib', again.peakKiB], ['cpu', again.cpuMs]]) samples.rerun[k].push(v);
            show(i, 'rerun', again);
          }
        }
      }
      const res = { tools: {} };
      for (const [name, x] of Object.entries(samples)) {
        res.tools[name] = { medianMs: median(x.ms), ms: x.ms, cpuMedianMs: median(x.cpu), cpuMs: x.cpu, peakRssKiB: Math.max(...x.kib) };
      }
      res.ratio = res.tools['rancher-play'].medianMs / res.tools['scp -J'].medianMs;
      res.cpuRatio = res.tools['rancher-play'].cpuMedianMs / res.tools['scp -J'].cpuMedianMs;
      res.rerunRatio = res.tools.rerun.medianMs / res.tools['scp -J'].medianMs;
      result.sizes[mb] = res;
      rmSync(join(work, src), { force: true });
    }
  } finally {
    await clean().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    if (!o.keepLab) await labApi.labDown(LAB).catch((e) => console.error(`bench: lab down: ${e.message}`));
  }
  const rows = [
    '',
    `| size, to a node through the bastion (median of ${o.runs}) | rancher-play copy | scp -J | ratio | CPU rancher-play / scp | unchanged rerun | rerun / scp upload | rancher-play peak RSS |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const [mb, r] of Object.entries(result.sizes)) {
    const rp = r.tools['rancher-play'];
    const scp = r.tools['scp -J'];
    rows.push(`| ${mb} MiB | ${fmtS(rp.medianMs)} (${(mb / (rp.medianMs / 1000)).toFixed(1)} MiB/s) | ${fmtS(scp.medianMs)} (${(mb / (scp.medianMs / 1000)).toFixed(1)} MiB/s) | **${r.ratio.toFixed(2)}x** | ${fmtS(rp.cpuMedianMs)} / ${fmtS(scp.cpuMedianMs)} | ${fmtS(r.tools.rerun.medianMs)} | **${r.rerunRatio.toFixed(2)}x** | ${fmtMB(Math.max(rp.peakRssKiB, r.tools.rerun.peakRssKiB))} |`);
  }
  console.log([...rows, '', 'ratio: rancher-play/scp wall time (target ≤ 1.1x); rerun: rancher-play with nothing to send / scp\'s upload (target ≤ 0.5x)',
    `load average before: ${result.loadBefore}; at the end: ${load()}`].join('\n'));
  if (o.json) writeJson(o.json, result);
}

runMain(main);
