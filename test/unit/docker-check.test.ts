// check-docker on this machine with the real Docker CLI: the RHEL/CentOS root rule (os-release
// swapped in a private mount namespace), a daemon that is not running (the CLI's own words), and
// pull_probe's schema. The live daemon cases are in test/slow/docker-lab.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runTask, ParamsError } from '../../runner/sdk/testing.js';
import { LocalTransport } from '../../runner/transport/local.js';
import type { ExecOptions } from '../../runner/task.js';
import checkDocker from '../../tasks/check-docker.js';

const root = process.getuid?.() === 0;
const hasDocker = spawnSync('sh', ['-c', 'command -v docker'], { encoding: 'utf8' }).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'rp-dockercheck-'));

/** This machine, but every command sees `osRelease` as /etc/os-release and no Docker daemon. */
class OsTransport extends LocalTransport {
  constructor(private readonly osRelease: string) { super('node9', false); }
  override exec(command: string, opts?: ExecOptions) {
    const file = join(dir, `os-release-${Math.random().toString(36).slice(2)}`);
    writeFileSync(file, this.osRelease);
    const sock = join(dir, 'no-daemon.sock'); // nothing listens there: the daemon is "stopped"
    const inner = `mount --bind ${file} /etc/os-release && DOCKER_HOST=unix://${sock} exec sh -c "$0"`;
    return super.exec(`unshare -m --propagation private sh -c ${shq(inner)} ${shq(command)}`, opts);
  }
}
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

const centos = 'NAME="CentOS Linux"\nID="centos"\nID_LIKE="rhel fedora"\nPRETTY_NAME="CentOS Linux 7 (Core)"\n';
const debian = 'NAME="Debian GNU/Linux"\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n';

test('root on CentOS is refused citing Red Hat bug 1527565; root on Debian is not', async () => {
  if (!root || !hasDocker) { console.log('  (skipped: needs root and a docker CLI)'); return; }
  const c = await runTask(checkDocker, {}, { transport: new OsTransport(centos), host: { name: 'node9' } });
  assert.is(c.status, 'failed');
  assert.match(c.msg, /^node9: SSH user is root on CentOS Linux 7 \(Core\): RKE cannot use root there \(Red Hat bug 1527565/);
  const d = await runTask(checkDocker, {}, { transport: new OsTransport(debian), host: { name: 'node9' } });
  assert.is(d.status, 'failed'); // the daemon is not running here
  assert.not.match(d.msg, /1527565/);
});

test('no daemon: the Docker CLI\'s own words, and no pull is attempted', async () => {
  if (!root || !hasDocker) { console.log('  (skipped: needs root and a docker CLI)'); return; }
  const r = await runTask(checkDocker, { pull_probe: 'registry.lab.test/rancher/rancher:v2.0.6' }, { transport: new OsTransport(debian), host: { name: 'node9' } });
  assert.is(r.status, 'failed');
  assert.match(r.msg, /the Docker daemon is not running: start it \(sudo systemctl start docker\) — docker said: Cannot connect to the Docker daemon at unix:\/\/.*no-daemon\.sock\. Is the docker daemon running\?/);
  assert.not.match(r.msg, /docker pull/);
});

test('pull_probe must be a string', async () => {
  try {
    await runTask(checkDocker, { pull_probe: 3 as unknown as string });
    assert.unreachable('accepted a number');
  } catch (e) {
    assert.instance(e, ParamsError);
    assert.match((e as Error).message, /pull_probe must be string/);
  }
});

test.run();
