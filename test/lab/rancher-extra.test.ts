// On a lab of its own ("rx"): verify-dns `delegate: host` resolves the FQDN on each node through
// the node's own resolver (the lab DNS) and names the node, the answer and the expected address
// when DNS points elsewhere; backup-kubeconfig `upload` copies the controller's newest backup to
// lb1 over SSH (via the bastion) with 0700/0600, and a second run changes nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lab, useLab, type LabInfo } from './_lab.js';

const NAME = 'rx';
let info: LabInfo;
const work = mkdtempSync(join(tmpdir(), 'rp-extra-'));

interface TaskEv { event: 'task'; id: string; host: string; status: string; changed: boolean; msg: string; warnings?: string[] }
function run(pb: string): { code: number; tasks: TaskEv[]; out: string } {
  const r = spawnSync(process.execPath, ['bin/rancher-play.js', 'run', pb, '-i', info.inventory, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const tasks = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TaskEv).filter((e) => e.event === 'task');
  return { code: r.status ?? -1, tasks, out: `exit ${r.status}\n${tasks.map((t) => `${t.status} ${t.host} ${t.id}: ${t.msg}`).join('\n')}\n${r.stderr}` };
}

test.before(async () => {
  info = await useLab(NAME, { fresh: true });
});
test.after(async () => {
  await lab.labDown(NAME);
  rmSync(work, { recursive: true, force: true });
});

test('verify-dns delegate: host: each node resolves the FQDN itself; a wrong record fails naming node, answer, expected', async () => {
  const pb = join(work, 'dns.yml');
  writeFileSync(pb, 'plays:\n  - hosts: rancher\n    tasks:\n      - verify-dns: { delegate: host }\n');
  const ok = run(pb);
  assert.is(ok.code, 0, ok.out);
  assert.equal(ok.tasks.map((t) => t.host).sort(), ['node1', 'node2', 'node3']);
  for (const t of ok.tasks) {
    assert.ok(t.msg.includes(`A ${info.lbPublic} on ${t.host}`), t.msg);
    assert.ok(t.warnings?.some((w) => /cannot be changed after Rancher is installed/.test(w)), 'permanent-hostname warning');
  }
  const other = info.dnsRecords['other.lab.test']!;
  await lab.setDnsRecord(info.fqdn, other, NAME);
  try {
    const bad = run(pb);
    assert.is(bad.code, 2, bad.out);
    assert.is(bad.tasks.filter((t) => t.status === 'failed').length, 3, bad.out);
    for (const t of bad.tasks) {
      assert.ok(t.msg.includes(`resolves to A ${other} on ${t.host}`), t.msg);
      assert.ok(t.msg.includes(`expected ${info.lbPublic}`), t.msg);
    }
  } finally {
    await lab.setDnsRecord(info.fqdn, info.lbPublic, NAME);
  }
});

test('backup-kubeconfig upload: the newest backup reaches lb1 (0700/0600, checksums hold); a second run changes nothing', async () => {
  const config = join(work, 'rancher-cluster.yml');
  writeFileSync(config, 'nodes: []\n', { mode: 0o600 });
  writeFileSync(join(work, 'kube_config_rancher-cluster.yml'), 'apiVersion: v1\nkind: Config\n', { mode: 0o600 });
  writeFileSync(join(work, 'rancher-cluster.rkestate'), '{}\n', { mode: 0o600 });
  const dest = '/var/backups/rancher-play';
  const pb = join(work, 'backup.yml');
  writeFileSync(pb, [
    'plays:',
    '  - hosts: localhost',
    '    tasks:',
    `      - backup-kubeconfig: { config: ${JSON.stringify(config)}, dir: ${JSON.stringify(join(work, 'backups'))} }`,
    '  - hosts: lb',
    '    tasks:',
    `      - backup-kubeconfig: { config: ${JSON.stringify(config)}, dir: ${JSON.stringify(join(work, 'backups'))}, upload: { dest: ${dest} }, delegate: host }`,
    '',
  ].join('\n'));
  const first = run(pb);
  assert.is(first.code, 0, first.out);
  assert.ok(first.tasks.every((t) => t.changed), first.out);
  const [name] = readdirSync(join(work, 'backups'));
  const remote = await lab.labExec('lb1', `cd ${dest}/${name} && sha256sum -c --strict SHA256SUMS && stat -c '%a %n' ${dest}/${name} ${dest}/${name}/*`, NAME);
  assert.is(remote.code, 0, remote.stdout + remote.stderr);
  assert.match(remote.stdout, new RegExp(`^700 ${dest}/${name}$`, 'm'));
  assert.is((remote.stdout.match(/^600 /gm) ?? []).length, 4, remote.stdout);
  const again = run(pb);
  assert.is(again.code, 0, again.out);
  assert.ok(again.tasks.every((t) => t.status === 'ok'), again.out);
});

test.run();
