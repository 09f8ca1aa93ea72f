#!/usr/bin/env node
// `npm run bench:transfer`: a big file to a node through the bastion — rancher-play's `copy` of
// a controller file against `scp -J` over the same jump host, in the same run, alternating.
// Brings up a lab (bastion + nodes, network namespaces), writes a random file, and prints the
// median wall time of each (whole command: start-up, connection, transfer), the ratio, and the
// controller's peak RSS (the whole process tree, sampled from /proc). One more rancher-play run
// with a file several times bigger shows whether that RSS depends on the file size. CPU time
// (user + system, with the children waited for: scp's ssh) is printed beside the wall time:
// on a machine shared with other work it is the steadier figure.
//
//   node bench/transfer.mjs [--mb 100] [--runs 3] [--big-mb 400] [--keep-lab] [--json FILE]
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
  const o = { mb: 100, runs: 3, bigMb: 400, keepLab: false, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name, min = 1) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) die(`${name} needs an integer ≥ ${min}, got "${argv[i] ?? ''}"`);
      return v;
    };
    if (a === '--mb') o.mb = num('--mb');
    else if (a === '--runs') o.runs = num('--runs');
    else if (a === '--big-mb') o.bigMb = num('--big-mb', 0);
    else if (a === '--keep-lab') o.keepLab = true;
    else if (a === '--json') o.json = argv[++i] ?? die('--json needs a file');
    else if (a === '-h' || a === '--help') usage(import.meta.url, 13);
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
  const env = { ...process.env, NO_COLOR: '1', CI: '1' };
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
    'rancher-play': (src) => cpuTimed(process.execPath, [cli, 'run', playbook(src), '-i', info.inventory], { env, sampleMs: 20, tmp: work }),
    'scp -J': (src) => cpuTimed('scp', ['-q', '-F', cfg, '-J', `rancher@${info.bastion.address}`, join(work, src), `rancher@${node.address}:${DEST_SCP}`], { env, sampleMs: 20, tmp: work }),
  };
  const result = { date: new Date().toISOString(), machine: m, node: process.version, mb: o.mb, runs: o.runs, loadBefore: load(), tools: {} };
  try {
    console.log(`bench: writing ${o.mb} MiB of random data…`);
    const sum = randomFile(join(work, 'data.bin'), o.mb);
    const samples = { 'rancher-play': { ms: [], kib: [], cpu: [] }, 'scp -J': { ms: [], kib: [], cpu: [] } };
    const once = async (name, src, want) => {
      await clean();
      const r = await tools[name](src);
      if (r.code !== 0) throw new Error(`${name} failed (exit ${r.code}):\n${(r.stdout + r.stderr).slice(-2000)}`);
      const got = await remoteSum(name === 'scp -J' ? DEST_SCP : DEST_RP);
      if (got !== want) throw new Error(`${name}: the node's copy has sha256 ${got}, want ${want}`);
      return r;
    };
    // Warm-up (untimed): page cache of the file, sshd, the jump connection's first handshake.
    for (const name of Object.keys(tools)) await once(name, 'data.bin', sum);
    for (let i = 0; i < o.runs; i++) {
      const order = i % 2 ? ['scp -J', 'rancher-play'] : ['rancher-play', 'scp -J'];
      for (const name of order) {
        const r = await once(name, 'data.bin', sum);
        samples[name].ms.push(r.ms);
        samples[name].kib.push(r.peakKiB);
        samples[name].cpu.push(r.cpuMs);
        console.log(`  run ${i + 1}/${o.runs} ${name.padEnd(12)} ${fmtS(r.ms).padStart(7)}  ${(o.mb / (r.ms / 1000)).toFixed(1).padStart(6)} MiB/s  CPU ${fmtS(r.cpuMs)}  peak RSS ${fmtMB(r.peakKiB)}  (load ${load()})`);
      }
    }
    for (const [name, s] of Object.entries(samples)) {
      result.tools[name] = { medianMs: median(s.ms), ms: s.ms, cpuMedianMs: median(s.cpu), cpuMs: s.cpu, peakRssKiB: Math.max(...s.kib) };
    }
    result.ratio = result.tools['rancher-play'].medianMs / result.tools['scp -J'].medianMs;
    result.cpuRatio = result.tools['rancher-play'].cpuMedianMs / result.tools['scp -J'].cpuMedianMs;
    if (o.bigMb > 0) {
      console.log(`bench: writing ${o.bigMb} MiB of random data for the memory check…`);
      rmSync(join(work, 'data.bin'), { force: true });
      const bigSum = randomFile(join(work, 'big.bin'), o.bigMb);
      const r = await once('rancher-play', 'big.bin', bigSum);
      result.big = { mb: o.bigMb, ms: r.ms, peakRssKiB: r.peakKiB };
      console.log(`  rancher-play ${o.bigMb} MiB: ${fmtS(r.ms)}  peak RSS ${fmtMB(r.peakKiB)}`);
    }
  } finally {
    await clean().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
    if (!o.keepLab) await labApi.labDown(LAB).catch((e) => console.error(`bench: lab down: ${e.message}`));
  }
  const rp = result.tools['rancher-play'];
  const scp = result.tools['scp -J'];
  console.log([
    '',
    `| ${o.mb} MiB to a node through the bastion | median of ${o.runs} | MiB/s | CPU (user + system) median | controller peak RSS (tree, sampled) |`,
    '|---|---|---|---|---|',
    `| rancher-play copy (SFTP, parallel requests) | ${fmtS(rp.medianMs)} | ${(o.mb / (rp.medianMs / 1000)).toFixed(1)} | ${fmtS(rp.cpuMedianMs)} | ${fmtMB(rp.peakRssKiB)} |`,
    `| scp -J (OpenSSH) | ${fmtS(scp.medianMs)} | ${(o.mb / (scp.medianMs / 1000)).toFixed(1)} | ${fmtS(scp.cpuMedianMs)} | ${fmtMB(scp.peakRssKiB)} |`,
    '',
    `time ratio rancher-play/scp: **${result.ratio.toFixed(2)}x** (below 1: rancher-play faster); CPU ratio ${result.cpuRatio.toFixed(2)}x`,
    ...(result.big ? [`rancher-play peak RSS with ${o.mb} MiB: ${fmtMB(rp.peakRssKiB)}; with ${result.big.mb} MiB: ${fmtMB(result.big.peakRssKiB)}`] : []),
    `load average before: ${result.loadBefore}; at the end: ${load()}`,
  ].join('\n'));
  if (o.json) writeJson(o.json, result);
}

runMain(main);
