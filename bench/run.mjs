#!/usr/bin/env node
// `npm run bench`: rancher-play against ansible-playbook on the same lab hosts, in the same run.
// Brings up a lab of N plain SSH hosts (network namespaces, real sshd), runs the seven-task
// workload (bench/playbooks/bench.yml ≡ bench/ansible/bench.yml) with both tools, alternating,
// and prints medians of cold runs (target files absent) and warm runs (nothing to change), the
// ratio ansible/rancher-play, and the controller's peak RSS. Traffic goes only to the lab's hosts.
//
//   node bench/run.mjs [--hosts 10] [--scale 50 | --no-scale] [--runs 5] [--scale-runs 3]
//                      [--forks N] [--no-scale-warmup] [--scale-cold-only] [--keep-lab]
//                      [--profile DIR] [--json FILE]
//
// --scale accepts up to 200 hosts (the lab's limit). --forks sets both tools' forks in every
// scenario (default: as many as hosts); at 200 hosts, Ansible's 200 workers need several GB.
// --no-scale-warmup: no untimed warm-up in the scale scenario (at 200 hosts one Ansible run takes
// many minutes on a small machine); its cold runs then sample the process tree's memory.
// --scale-cold-only: the scale scenario times cold runs only (its warm figures print as —).
//
// Not a test: nothing here asserts a time. Needs Linux and root (the lab does).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { die, ensureBuild, fmtMB, loadLab, fmtS, machine, median, ROOT, runMain, sh, treeRss, writeJson, usage } from './lib.mjs';
const ANSIBLE = '/usr/bin/ansible-playbook'; // Debian's, not whatever a pyenv shim points at
const TIME = '/usr/bin/time';
const LAB = 'bench';
const RP_DIR = '/root/bench-rp';    // each tool works in its own directory on every host
const ANS_DIR = '/root/bench-ans';
const TASKS = 7;
const CHANGING = 4;                 // mkdir, marker, copy, template change on a cold run

// ------------------------------------------------------------------------------------------
// Options

function parseArgs(argv) {
  // Ansible needs about a minute per run on 50 hosts here: 3 runs keep the default within ~15 min.
  const o = { hosts: 10, scale: 50, runs: 5, scaleRuns: 3, forks: undefined, scaleWarmup: true, scaleColdOnly: false, keepLab: false, profile: undefined, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name) => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) die(`${name} needs a positive integer, got "${argv[i] ?? ''}"`);
      return v;
    };
    if (a === '--hosts') o.hosts = num('--hosts');
    else if (a === '--scale') o.scale = /^\d+$/.test(argv[i + 1] ?? '') ? num('--scale') : 50;
    else if (a === '--no-scale') o.scale = 0;
    else if (a === '--runs') o.runs = num('--runs');
    else if (a === '--scale-runs') o.scaleRuns = num('--scale-runs');
    else if (a === '--forks') o.forks = num('--forks');
    else if (a === '--no-scale-warmup') o.scaleWarmup = false;
    else if (a === '--scale-cold-only') o.scaleColdOnly = true;
    else if (a === '--keep-lab') o.keepLab = true;
    else if (a === '--profile') o.profile = argv[++i] ?? die('--profile needs a directory');
    else if (a === '--json') o.json = argv[++i] ?? die('--json needs a file');
    else if (a === '-h' || a === '--help') usage(import.meta.url, 17);
    else die(`unknown option ${a} (see --help)`);
  }
  if (o.scale > 200 || o.hosts > 200) die('the lab has at most 200 plain hosts');
  return o;
}

// ------------------------------------------------------------------------------------------
// Preparation: build, ansible-core, lab

function ensureAnsible() {
  if (existsSync(ANSIBLE) && existsSync(TIME)) return;
  console.log('bench: installing ansible-core and time from Debian (apt-get)…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => sh('apt-get', ['install', '-y', '--no-install-recommends', 'ansible-core', 'time'], { env });
  let r = install();
  if (r.code !== 0) {
    sh('apt-get', ['update'], { env });
    r = install();
  }
  if (r.code !== 0 || !existsSync(ANSIBLE)) die(`apt-get install ansible-core failed:\n${r.out.slice(-2000)}`);
}

function versions() {
  const first = (cmd, args) => sh(cmd, args).out.split('\n')[0].trim();
  return {
    node: process.version,
    ansible: first(ANSIBLE, ['--version']),
    python: first('/usr/bin/python3', ['--version']),
    openssh: first('ssh', ['-V']),
    rancherPlay: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
    git: sh('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).out.trim(),
  };
}

// ------------------------------------------------------------------------------------------
// Workload files for one lab

/** Ansible at its best: pipelining, ControlPersist, forks = hosts, no facts, python known. */
function ansibleSetup(info, forks) {
  const dir = mkdtempSync(join(tmpdir(), 'rp-bench-ansible-'));
  const cp = join(dir, 'cp');
  mkdirSync(cp, { mode: 0o700 });
  const hosts = [
    '[bench]',
    ...info.nodes.map((n) => `${n.name} ansible_host=${n.address}`),
    '[bench:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${info.sshKey}`,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'hosts.ini'), hosts);
  writeFileSync(join(dir, 'ansible.cfg'), [
    '[defaults]',
    `inventory = ${join(dir, 'hosts.ini')}`,
    `forks = ${forks}`,
    'gathering = explicit',
    'host_key_checking = True',
    'interpreter_python = /usr/bin/python3',
    'retry_files_enabled = False',
    `local_tmp = ${join(dir, 'tmp')}`,
    '',
    '[ssh_connection]',
    'pipelining = True',
    // Masters outlive a whole scenario, so every timed run after the warm-up reuses them.
    `ssh_args = -o ControlMaster=auto -o ControlPersist=900s -o UserKnownHostsFile=${info.knownHosts} -o StrictHostKeyChecking=yes`,
    `control_path_dir = ${cp}`,
    '',
  ].join('\n'));
  return { dir, cp, cfg: join(dir, 'ansible.cfg') };
}

/** Ends the ControlPersist masters this benchmark made (only ours: their sockets are in cp/). */
function stopMasters(cp) {
  if (!existsSync(cp)) return;
  for (const s of readdirSync(cp)) sh('ssh', ['-o', `ControlPath=${join(cp, s)}`, '-O', 'exit', 'bench-master'], { timeout: 5000 });
}

// ------------------------------------------------------------------------------------------
// Running and measuring

/**
 * Runs cmd under /usr/bin/time; wall time from the controller's clock, peak RSS from time(1)
 * (the largest single process). With opts.tree, also samples the summed RSS of the whole
 * process tree from /proc every 20 ms (Ansible forks workers and ssh clients); only used in
 * untimed warm-up runs, since sampling costs CPU.
 */
function timed(cmd, args, opts) {
  const out = join(opts.tmp, `time-${process.hrtime.bigint()}`);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME, ['-f', '%U %S %M', '-o', out, cmd, ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    const errs = [];
    child.stdout.on('data', (b) => chunks.push(b));
    child.stderr.on('data', (b) => errs.push(b));
    child.on('error', reject);
    let treeKiB = 0;
    const iv = opts.tree ? setInterval(() => { treeKiB = Math.max(treeKiB, treeRss(child.pid)); }, opts.tree) : undefined;
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (iv) clearInterval(iv);
      let rssKiB = NaN;
      let cpuMs = NaN;
      try {
        const [user, sys, rss] = readFileSync(out, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        rssKiB = rss;
        cpuMs = (user + sys) * 1000;
        rmSync(out, { force: true });
      } catch { /* reported as NaN */ }
      resolve({ code, ms, rssKiB, cpuMs, treeKiB, stdout: Buffer.concat(chunks).toString(), stderr: Buffer.concat(errs).toString() });
    });
  });
}

/** changed count per host from rancher-play's --json recap. */
function rpChanged(stdout) {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{"event":"recap"'));
  if (!line) return undefined;
  const hosts = JSON.parse(line).hosts;
  return Object.fromEntries(Object.entries(hosts).map(([h, c]) => [h, { ok: c.ok, changed: c.changed, bad: c.failed + c.unreachable }]));
}

/** changed count per host from ansible's PLAY RECAP. */
function ansChanged(stdout) {
  const out = {};
  for (const m of stdout.matchAll(/^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    out[m[1]] = { ok: Number(m[2]), changed: Number(m[3]), bad: Number(m[4]) + Number(m[5]) };
  }
  return Object.keys(out).length ? out : undefined;
}

/** A run counts only when every host did all seven tasks and changed what it should. */
function verify(tool, kind, r, recap, hostNames) {
  const want = kind === 'cold' ? CHANGING : 0;
  const bad = !recap || r.code !== 0 || hostNames.some((h) => !recap[h] || recap[h].ok !== TASKS || recap[h].changed !== want || recap[h].bad);
  if (bad) {
    throw new Error(`${tool} ${kind} run did not do the workload (exit ${r.code}; want ok=${TASKS} changed=${want} on ${hostNames.length} hosts):\n` +
      `${(r.stdout + r.stderr).trim().split('\n').slice(-25).join('\n')}`);
  }
}

/**
 * The plain hosts overlay the controller's /root, so root's login shell on them would source
 * the controller's ~/.bashrc (here: `pyenv init`, which spawns processes and can wait 60 s on
 * its rehash lock). bash reads ~/.bashrc for every SSH session, so that would tax each session
 * (Ansible's dozens per host far more than rancher-play's one). Give each host the stock
 * Debian dotfiles instead, as a fresh host has; this writes only to the host's own overlay.
 */
/**
 * Untimed per-host work through the lab, a few hosts at a time: 200 `nsenter` at once drove the
 * load to 60-85 on 2 cores and slowed the timed run that followed.
 */
async function eachLimited(items, fn, limit = 8) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

async function freshHomes(hostNames, labApi) {
  await eachLimited(hostNames, async (h) => {
    const r = await labApi.labExec(h, 'cp /etc/skel/.bashrc /etc/skel/.profile /root/ && rm -f /root/.bash_profile /root/.bash_login /root/.pyenv/shims/.pyenv-shim', LAB);
    if (r.code !== 0) throw new Error(`preparing ${h}: ${r.stderr}`);
  });
}

async function scenario(n, runs, first, opts, labApi) {
  const forks = Math.min(opts.forks ?? n, n);
  const warmup = first || opts.scaleWarmup;
  const warmRuns = first || !opts.scaleColdOnly;
  console.log(`\n== ${n} hosts, forks ${forks}: ${runs} timed runs per tool and kind${warmup ? '' : ', no warm-up'}${warmRuns ? '' : ', cold only'} ==`);
  const info = await labApi.labUp({ name: LAB, plainHosts: n, log: (m) => console.log(`bench: ${m}`) });
  const hostNames = info.nodes.map((h) => h.name);
  await freshHomes(hostNames, labApi);
  const ans = ansibleSetup(info, forks);
  const tmp = ans.dir;
  const baseEnv = { ...process.env, NO_COLOR: '1', CI: '1' };
  delete baseEnv.SSH_AUTH_SOCK; // both tools use the lab key only
  const ansEnv = { ...baseEnv, ANSIBLE_CONFIG: ans.cfg, ANSIBLE_HOME: join(tmp, 'home'), ANSIBLE_NOCOLOR: '1' };
  const cli = join(ROOT, 'bin', 'rancher-play.js');
  const rpArgs = (playbook, nodeFlags = []) => [
    ...nodeFlags, cli, 'run', playbook, '-i', info.inventory,
    '-e', `bench_dir=${RP_DIR}`, '--forks', String(forks), '--json',
  ];
  const ansArgs = (extra = []) => [join(ROOT, 'bench', 'ansible', 'bench.yml'), '-e', `bench_dir=${ANS_DIR}`, ...extra];
  const builtin = join(ROOT, 'bench', 'playbooks', 'bench.yml');
  const custom = join(ROOT, 'bench', 'custom', 'bench.yml');
  const tools = {
    'rancher-play': { recap: rpChanged, dir: RP_DIR, run: (o = {}) => timed(process.execPath, rpArgs(o.playbook ?? builtin, o.nodeFlags), { cwd: ROOT, env: baseEnv, tmp, tree: o.tree }) },
    ansible: { recap: ansChanged, dir: ANS_DIR, run: (o = {}) => timed(ANSIBLE, ansArgs(o.extra), { cwd: tmp, env: ansEnv, tmp, tree: o.tree }) },
  };
  // Untimed: remove a tool's files on every host, straight through the lab (not over SSH).
  const clean = async (dir) => {
    await eachLimited(hostNames, async (h) => {
      const r = await labApi.labExec(h, `rm -rf ${dir}`, LAB);
      if (r.code !== 0) throw new Error(`cleaning ${dir} on ${h}: ${r.stderr}`);
    });
  };
  const once = async (name, kind, o = {}) => {
    const r = await tools[name].run(o);
    verify(o.playbook === custom ? 'rancher-play (custom stat task)' : name, kind, r, tools[name].recap(r.stdout), o.hosts ?? hostNames);
    return r;
  };
  const samples = {};
  const add = (key, kind, v) => ((samples[key] ??= { cold: [], warm: [], rss: [], cpuCold: [], cpuWarm: [] })[kind]).push(v);
  const res = { hosts: n, forks, runs, warmup, tools: {} };
  try {
    // Warm-up (untimed): page cache, Python bytecode, sshd, Ansible's ControlPersist masters.
    // Its cold runs also sample the whole process tree's memory. In the scale scenario the cold
    // run alone does that (at 200 hosts one Ansible run takes minutes on a small machine).
    const tree = {};
    for (const name of warmup ? Object.keys(tools) : []) {
      await clean(tools[name].dir);
      tree[name] = (await once(name, 'cold', { tree: 20 })).treeKiB;
      if (first) await once(name, 'warm');
    }
    if (first) {
      // How the work travels: SSH connections, channels and commands (untimed, counted by a
      // preload that wraps ssh2) against Ansible's SSH invocations on one host (-vvv).
      const count = ['--import', join(ROOT, 'bench', 'count-ssh.mjs')];
      const counted = async (kind) => {
        const r = await once('rancher-play', kind, { nodeFlags: count });
        const line = r.stderr.split('\n').find((l) => l.startsWith('{"sshCounts"'));
        return line ? JSON.parse(line).sshCounts : undefined;
      };
      await clean(RP_DIR);
      const rpCold = await counted('cold');
      const rpWarm = await counted('warm');
      const one = hostNames[0];
      const ansCount = async (kind) => {
        const r = await once('ansible', kind, { extra: ['-vvv', '--limit', one], hosts: [one] });
        return (r.stdout.match(/SSH: EXEC/g) ?? []).length;
      };
      await clean(ANS_DIR);
      const ansCold = await ansCount('cold');
      const ansWarm = await ansCount('warm');
      res.transport = { hosts: n, rp: { cold: rpCold, warm: rpWarm }, ansibleSshPerHost: { cold: ansCold, warm: ansWarm } };
      console.log(`  rancher-play: ${rpCold?.connections} SSH connections, ${rpCold?.channels} channels, ${rpCold?.channelWrites} commands cold / ${rpWarm?.channelWrites} warm for ${n} hosts x ${TASKS} tasks`);
      console.log(`  ansible: ${ansCold} SSH invocations cold / ${ansWarm} warm per host (over ControlPersist masters)`);
    }
    for (let i = 0; i < runs; i++) {
      // Alternate which tool goes first, so drift in machine load hits both alike.
      const order = i % 2 ? ['ansible', 'rancher-play'] : ['rancher-play', 'ansible'];
      for (const name of order) {
        await clean(tools[name].dir);
        const prof = (kind) => (i === 0 && name === 'rancher-play' && opts.profile ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profile, `${n}-${kind}`)] : undefined);
        // Without a warm-up, the first cold run samples the tree (every 100 ms: these runs are long).
        const cold = await once(name, 'cold', { nodeFlags: prof('cold'), tree: warmup || i ? 0 : 100 });
        if (!warmup && !i) tree[name] = cold.treeKiB;
        // Printed at once: at scale one run can take many minutes.
        console.log(`  run ${i + 1}/${runs} ${name.padEnd(12)} cold ${fmtS(cold.ms).padStart(7)}  peak RSS ${fmtMB(cold.rssKiB)}  (load ${loadavg()[0].toFixed(1)})`);
        const warm = warmRuns ? await once(name, 'warm', { nodeFlags: prof('warm') }) : undefined;
        add(name, 'cold', cold.ms);
        add(name, 'cpuCold', cold.cpuMs);
        if (warm) add(name, 'warm', warm.ms);
        if (warm) add(name, 'cpuWarm', warm.cpuMs);
        add(name, 'rss', Math.max(cold.rssKiB, warm?.rssKiB ?? 0));
        if (warm) console.log(`  run ${i + 1}/${runs} ${name.padEnd(12)} warm ${fmtS(warm.ms).padStart(7)}  peak RSS ${fmtMB(warm.rssKiB)}  (load ${loadavg()[0].toFixed(1)})`);
      }
      if (first) {
        // The same workload with the stat probe as a custom TypeScript task (rancher-play only).
        await clean(RP_DIR);
        const cold = await once('rancher-play', 'cold', { playbook: custom });
        const warm = await once('rancher-play', 'warm', { playbook: custom });
        add('custom', 'cold', cold.ms);
        add('custom', 'warm', warm.ms);
        add('custom', 'rss', Math.max(cold.rssKiB, warm.rssKiB));
      }
    }
    for (const [name, s] of Object.entries(samples)) {
      res.tools[name] = {
        coldMedianMs: median(s.cold), warmMedianMs: s.warm.length ? median(s.warm) : NaN, cold: s.cold, warm: s.warm,
        peakRssKiB: Math.max(...s.rss), treePeakRssKiB: tree[name],
        cpuColdMedianMs: median(s.cpuCold), cpuWarmMedianMs: s.cpuWarm.length ? median(s.cpuWarm) : NaN,
      };
    }
    res.ratio = {
      cold: res.tools.ansible.coldMedianMs / res.tools['rancher-play'].coldMedianMs,
      warm: res.tools.ansible.warmMedianMs / res.tools['rancher-play'].warmMedianMs,
    };
    return res;
  } finally {
    stopMasters(ans.cp);
    await Promise.all([RP_DIR, ANS_DIR].map((d) => clean(d).catch(() => {})));
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** A figure, or — where the run did not measure it (warm runs with --scale-cold-only). */
const or = (x, f) => (Number.isFinite(x) ? f(x) : '—');

function table(results) {
  const rows = [
    '| hosts | run | rancher-play median | ansible-playbook median | ratio ansible/rancher-play |',
    '|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const kind of ['cold', 'warm']) {
      rows.push(`| ${r.hosts} | ${kind} | ${or(r.tools['rancher-play'][`${kind}MedianMs`], fmtS)} | ${or(r.tools.ansible[`${kind}MedianMs`], fmtS)} | ${or(r.ratio[kind], (x) => `**${x.toFixed(1)}x**`)} |`);
    }
  }
  rows.push('', '| hosts | rancher-play peak RSS | ansible-playbook peak RSS (largest process) | rancher-play whole tree (sampled) | ansible-playbook whole tree (sampled) |', '|---|---|---|---|---|');
  for (const r of results) {
    const rp = r.tools['rancher-play'];
    const an = r.tools.ansible;
    rows.push(`| ${r.hosts} | ${fmtMB(rp.peakRssKiB)} | ${fmtMB(an.peakRssKiB)} | ${fmtMB(rp.treePeakRssKiB)} | ${fmtMB(an.treePeakRssKiB)} |`);
  }
  // CPU: user + system time of the tool and every process it waited for (time(1)); Ansible's
  // ControlPersist masters are detached, so their share is not in its figure.
  rows.push('', '| hosts | rancher-play CPU cold / warm | ansible-playbook CPU cold / warm | rancher-play CPU per host (warm) | ansible-playbook CPU per host (warm) |', '|---|---|---|---|---|');
  for (const r of results) {
    const rp = r.tools['rancher-play'];
    const an = r.tools.ansible;
    const pair = (t) => `${or(t.cpuColdMedianMs, (x) => fmtS(x))} / ${or(t.cpuWarmMedianMs, (x) => fmtS(x))}`;
    const perHost = (t) => or(t.cpuWarmMedianMs / r.hosts, (x) => `${x.toFixed(1)} ms`);
    rows.push(`| ${r.hosts} | ${pair(rp)} | ${pair(an)} | ${perHost(rp)} | ${perHost(an)} |`);
  }
  const c = results.find((r) => r.tools.custom);
  if (c) {
    const cu = c.tools.custom;
    const rp = c.tools['rancher-play'];
    rows.push('', `Custom TypeScript task (bench/custom: the stat probe as tasks/stat.ts, loaded with jiti), ${c.hosts} hosts: ` +
      `cold ${fmtS(cu.coldMedianMs)} (+${fmtS(cu.coldMedianMs - rp.coldMedianMs)}), warm ${fmtS(cu.warmMedianMs)} (+${fmtS(cu.warmMedianMs - rp.warmMedianMs)}), ` +
      `peak RSS ${fmtMB(cu.peakRssKiB)}; ratio ansible/rancher-play cold ${(c.tools.ansible.coldMedianMs / cu.coldMedianMs).toFixed(1)}x, warm ${(c.tools.ansible.warmMedianMs / cu.warmMedianMs).toFixed(1)}x`);
  }
  if (results.length > 1) {
    const [a, b] = [results[0], results[results.length - 1]];
    rows.push('', `Growth ${a.hosts} → ${b.hosts} hosts (x${+(b.hosts / a.hosts).toFixed(1)} hosts):`);
    for (const name of ['rancher-play', 'ansible']) {
      const ta = a.tools[name];
      const tb = b.tools[name];
      rows.push(`- ${name}: cold time x${(tb.coldMedianMs / ta.coldMedianMs).toFixed(2)}, warm time ${or(tb.warmMedianMs / ta.warmMedianMs, (x) => `x${x.toFixed(2)}`)}, peak RSS x${(tb.peakRssKiB / ta.peakRssKiB).toFixed(2)} (${fmtMB(ta.peakRssKiB)} → ${fmtMB(tb.peakRssKiB)}), whole tree ${fmtMB(ta.treePeakRssKiB)} → ${fmtMB(tb.treePeakRssKiB)}`);
    }
    // What each host beyond the first scenario's adds (differences over the added hosts).
    const added = b.hosts - a.hosts;
    rows.push('', `Per added host (${a.hosts} → ${b.hosts}, forks ${a.forks} / ${b.forks}):`, '| tool | cold time | warm time | CPU (warm) | peak RSS (largest process) | whole tree RSS (sampled) |', '|---|---|---|---|---|---|');
    for (const name of ['rancher-play', 'ansible']) {
      const ta = a.tools[name];
      const tb = b.tools[name];
      const per = (x, y) => (y - x) / added;
      rows.push(`| ${name} | ${per(ta.coldMedianMs, tb.coldMedianMs).toFixed(1)} ms | ${or(per(ta.warmMedianMs, tb.warmMedianMs), (x) => `${x.toFixed(1)} ms`)} | ${or(per(ta.cpuWarmMedianMs, tb.cpuWarmMedianMs), (x) => `${x.toFixed(1)} ms`)} | ${per(ta.peakRssKiB, tb.peakRssKiB).toFixed(0)} KiB | ${per(ta.treePeakRssKiB, tb.treePeakRssKiB).toFixed(0)} KiB |`);
    }
  }
  return rows.join('\n');
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.platform !== 'linux' || process.getuid?.() !== 0) die('needs Linux and root (the lab uses network namespaces)');
  ensureBuild();
  ensureAnsible();
  if (opts.profile) mkdirSync(opts.profile, { recursive: true });
  const labApi = await loadLab();
  const started = Date.now();
  const meta = { date: new Date().toISOString(), machine: machine(), versions: versions(), loadBefore: loadavg() };
  console.log(`bench: ${meta.machine.cpus} CPUs (${meta.machine.cpuModel}), ${meta.machine.memGiB} GiB; node ${meta.versions.node}; ${meta.versions.ansible}; load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  console.log('bench: rancher-play runs with --json (NDJSON events), ansible-playbook with its default callback; both write to a pipe.');
  const sizes = [[opts.hosts, opts.runs], ...(opts.scale && opts.scale !== opts.hosts ? [[opts.scale, opts.scaleRuns]] : [])];
  const results = [];
  try {
    for (const [i, [n, runs]] of sizes.entries()) results.push(await scenario(n, runs, i === 0, opts, labApi));
  } finally {
    if (!opts.keepLab) await labApi.labDown(LAB).catch((e) => console.error(`bench: lab down: ${e.message}`));
  }
  meta.loadAfter = loadavg();
  meta.seconds = Math.round((Date.now() - started) / 1000);
  console.log(`\n${table(results)}\n`);
  console.log(`bench: ${meta.seconds}s in all; load average before ${meta.loadBefore.map((x) => x.toFixed(1)).join(' ')}, after ${meta.loadAfter.map((x) => x.toFixed(1)).join(' ')}`);
  if (opts.json) writeJson(opts.json, { ...meta, results });
}

runMain(main);
