// The benchmark lab: N plain SSH hosts directly on the controller's bridge, one inventory, gone
// after `down`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { labDown, labStatus, labUp } from '../../lab/lab.js';

const NAME = 'pt';

test('plainHosts: every host answers SSH directly, with its own /root, and all of it goes away', async () => {
  const info = await labUp({ name: NAME, plainHosts: 12 });
  try {
    assert.ok((await labStatus(NAME)).up);
    const inv = parse(readFileSync(info.inventory, 'utf8'));
    assert.equal(Object.keys(inv.hosts), Array.from({ length: 12 }, (_, i) => `h${String(i + 1).padStart(2, '0')}`));
    assert.is(inv.defaults.known_hosts, info.knownHosts);
    const ssh = (addr: string, cmd: string) => spawnSync('ssh', ['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${info.knownHosts}`,
      '-o', 'StrictHostKeyChecking=yes', '-o', 'IdentitiesOnly=yes', '-i', info.sshKey, `root@${addr}`, cmd], { encoding: 'utf8' });
    for (const n of [info.nodes[0], info.nodes[11]]) {
      const r = ssh(n.address, 'hostname; echo mine > /root/plain-mark; cat /root/plain-mark');
      assert.is(r.status, 0, r.stderr);
      assert.is(r.stdout, `${n.name}\nmine\n`);
    }
    assert.is.not(ssh(info.nodes[5].address, 'cat /root/plain-mark').status, 0, 'h06 does not see h01\'s file');
    assert.not.ok(existsSync('/root/plain-mark'), 'nor does the controller');
  } finally {
    await labDown(NAME);
  }
  assert.not.ok(existsSync(info.dir));
  assert.not.ok((await labStatus(NAME)).up);
});

test.run();
