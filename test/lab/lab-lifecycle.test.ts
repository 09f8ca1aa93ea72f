// `lab up`, `lab status`, `lab down` on a lab of its own: everything comes up, a second `up` is a
// no-op, and `down` leaves no namespace, link, process, mount or file behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { labDown, labName, labStatus, labUp } from '../../lab/lab.js';
import { stopService, stopSshd, upperDir } from '../../lab/testing.js';

const NAME = 'lt';
// The lab's own name: RANCHER_PLAY_LAB_TAG prefixes it (links, dirs, process titles).
const FULL = labName(NAME);

const links = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
  .split('\n').map((l) => l.split(':')[1]?.trim().split('@')[0]).filter(Boolean) as string[];
const mounts = () => readFileSync('/proc/self/mounts', 'utf8').split('\n').filter(Boolean).sort();
function procs(): { pid: string; cmd: string; net?: string }[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((pid) => {
    let cmd = '';
    let net: string | undefined;
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '); net = readlinkSync(`/proc/${pid}/ns/net`); } catch { /* gone */ }
    return { pid, cmd, net };
  });
}
const netnsIds = () => new Set(procs().map((p) => p.net).filter(Boolean));

test('lab up brings every host and service up; status says so', async () => {
  await labDown(NAME); // a leftover from an interrupted run must not matter
  const before = { links: links(), mounts: mounts(), nets: netnsIds() };
  const info = await labUp({ name: NAME });
  const st = await labStatus(NAME);
  assert.ok(st.up, st.details.join('\n'));
  for (const h of ['bastion', 'node1', 'node2', 'node3', 'lb1', 'dns', 'proxy', 'internet']) {
    assert.ok(st.details.some((d) => d.startsWith('up') && d.includes(h)), `status lists ${h} up:\n${st.details.join('\n')}`);
  }
  assert.ok(st.details.some((d) => /up\s+lb1\s+nginx/.test(d)));
  assert.ok(st.details.some((d) => /up\s+dns\s+dns/.test(d)));
  assert.ok(st.details.some((d) => /up\s+proxy\s+proxy/.test(d)));
  assert.ok(existsSync(info.inventory));
  assert.ok(existsSync(upperDir('node1', NAME)));

  // Nothing of the lab listens in the root namespace, and the lab adds exactly one link there.
  const added = links().filter((l) => !before.links.includes(l));
  assert.equal(added.filter((l) => !l.startsWith('rpl-') || l === `rpl-${FULL}`), [`rpl-${FULL}`]);
  assert.equal(mounts(), before.mounts, 'no mount in the root namespace');
  const labNets = [...netnsIds()].filter((n) => !before.nets.has(n));
  assert.match(execFileSync('ip', ['route', 'show'], { encoding: 'utf8' }), new RegExp(`unreachable 10\\.213\\.${info.index}\\.0/24`),
    'the cluster net is unreachable from the controller, never routed out');
  assert.ok(labNets.length >= 9, `switch + 8 hosts have their own network namespaces (got ${labNets.length})`);

  // Second `up`: a no-op (same namespaces, same keys).
  const again = await labUp({ name: NAME });
  assert.equal(again, info);
  assert.equal([...netnsIds()].filter((n) => !before.nets.has(n)).sort(), labNets.sort());

  // `down` leaves the machine as it found it.
  const dir = info.dir;
  await labDown(NAME);
  const after = { links: links(), mounts: mounts() };
  assert.not.ok(after.links.includes(`rpl-${FULL}`), 'controller link removed');
  assert.equal(after.mounts, before.mounts, 'mounts as before');
  const routes = execFileSync('ip', ['route', 'show'], { encoding: 'utf8' });
  assert.not.match(routes, new RegExp(`\\.${info.index}\\.0/24`), 'no route of the lab left');
  const left = procs().filter((p) => (p.net && labNets.includes(p.net)) || p.cmd.startsWith(`rpl:${FULL}:`) || p.cmd.includes(`.lab/${FULL}/`));
  assert.equal(left, [], 'no process of the lab is left');
  assert.not.ok(existsSync(dir), '.lab/lt removed');
  assert.not.ok(existsSync(upperDir('node1', NAME)), 'host trees removed');
  const st2 = await labStatus(NAME);
  assert.not.ok(st2.up);
});

test('a broken service is repaired by the next `lab up` without rebuilding', async () => {
  const info = await labUp({ name: NAME });
  await stopService('proxy', undefined, NAME);
  await stopSshd('node2', NAME);
  const broken = await labStatus(NAME);
  assert.not.ok(broken.up);
  assert.ok(broken.details.some((d) => /^down\s+node2\s+sshd/.test(d)), broken.details.join('\n'));
  assert.ok(broken.details.some((d) => /^down\s+proxy\s+proxy/.test(d)), broken.details.join('\n'));
  const repaired = await labUp({ name: NAME });
  assert.equal(repaired.sshKey, info.sshKey);
  assert.equal(readFileSync(repaired.knownHosts, 'utf8'), readFileSync(info.knownHosts, 'utf8'), 'same host keys: not rebuilt');
  assert.ok((await labStatus(NAME)).up);
  await labDown(NAME);
});

const TAG = process.env.RANCHER_PLAY_LAB_TAG ?? ''; // prefixes every lab name (side-by-side checkouts)

test('CLI: `lab status` of a lab that is not up says down (exit 1); non-root is refused before anything', () => {
  const cli = (args: string[], pre: string[] = []) => spawnSync(pre.length ? pre[0] : process.execPath,
    [...pre.slice(1), ...(pre.length ? [process.execPath] : []), 'bin/rancher-play.js', ...args], { encoding: 'utf8' });
  const st = cli(['lab', 'status', '--name', 'nosuch']);
  assert.is(st.status, 1);
  assert.match(st.stdout, new RegExp(`lab "${TAG}nosuch": down`));
  const nobody = cli(['lab', 'up', '--name', 'nobody'], ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups']);
  assert.is.not(nobody.status, 0);
  assert.match(nobody.stderr, /needs Linux and root/);
  assert.not.ok(existsSync(`.lab/${TAG}nobody`), 'nothing made');
  assert.not.ok(links().includes(`rpl-${TAG}nobody`));
});

test('bad lab names are refused clearly', async () => {
  try {
    await labUp({ name: 'Bad_Name-too-long' });
    assert.unreachable('should refuse');
  } catch (e) {
    assert.match((e as Error).message, new RegExp(`name "${TAG}Bad_Name-too-long" must be`));
  }
});

test.run();
