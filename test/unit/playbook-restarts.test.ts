// The shipped playbooks restart Docker one node at a time, the next only once Docker answers
// again (a running cluster's etcd members are containers: restarting every node at once stops
// them together). The shipped `restart docker` handler runs here on three local hosts, with
// fake `systemctl` and `docker` first on PATH that record what happens: a restart takes a
// while, and `docker info` answers only some time after it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { cli, project, root } from './cli-helpers.js';

interface Handler { name: string; command: { cmd: string }; become?: boolean; throttle?: number; [k: string]: unknown }

const shipped = readdirSync(join(root, 'playbooks')).filter((f) => f.endsWith('.yml')).flatMap((f) => {
  const pb = parse(readFileSync(join(root, 'playbooks', f), 'utf8')) as { plays: { handlers?: Handler[] }[] };
  return pb.plays.flatMap((p) => p.handlers ?? []).filter((h) => h.command?.cmd.includes('systemctl restart docker')).map((h) => ({ file: f, handler: h }));
});

test('every shipped playbook that installs the Docker drop-in has the restart handler', () => {
  assert.equal(shipped.map((s) => s.file).sort(), ['ha-helm.yml', 'ha-l4.yml', 'ha-l7.yml']);
});

for (const { file, handler } of shipped) {
  test(`${file}: the restart handler restarts one host at a time and waits for docker info before the next`, () => {
    const p = project(3);
    const bin = join(p.dir, 'bin');
    const events = join(p.work, 'events');
    const ready = join(p.work, 'ready');
    p.write('bin/systemctl', `#!/bin/sh
case "$*" in
  daemon-reload) exit 0 ;;
  "restart docker")
    rm -f ${ready}
    echo restart-start >> ${events}
    sleep 0.3
    echo restart-end >> ${events}
    # The daemon answers a moment after systemctl returns.
    (sleep 0.5; touch ${ready}) &
    exit 0 ;;
esac
exit 3
`);
    p.write('bin/docker', `#!/bin/sh
[ "$1" = info ] && [ -e ${ready} ] && { echo docker-answered >> ${events}; exit 0; }
exit 1
`);
    chmodSync(join(bin, 'systemctl'), 0o755);
    chmodSync(join(bin, 'docker'), 0o755);
    // The shipped item as it is, but without sudo (the fakes are on this user's PATH).
    const item = { ...handler, become: false };
    const pb = p.write('site.yml', JSON.stringify({
      name: 'restarts',
      plays: [{
        name: 'Preflight', hosts: 'web',
        tasks: [{ name: 'drop-in changed', command: { cmd: 'true' }, notify: [handler.name] }],
        handlers: [item],
      }],
    }));
    const r = cli(['run', pb, '-i', p.inventory, '-f', '5'], { env: { PATH: `${bin}:${process.env.PATH}` } });
    assert.is(r.code, 0, r.stdout + r.stderr);
    assert.ok(existsSync(events), r.stdout);
    const seen = readFileSync(events, 'utf8').split('\n').filter(Boolean);
    assert.equal(seen, Array.from({ length: 3 }, () => ['restart-start', 'restart-end', 'docker-answered']).flat(),
      'each restart finished and Docker answered before the next restart began');
    assert.is((r.stdout.match(/restart docker \(handler\) \| h\d: changed/g) ?? []).length, 3);
  });
}

test('a host whose Docker does not answer after its restart stops the run', () => {
  const { handler } = shipped[0]!;
  const p = project(2);
  const bin = join(p.dir, 'bin');
  p.write('bin/systemctl', '#!/bin/sh\nexit 0\n');
  p.write('bin/docker', '#!/bin/sh\nexit 1\n');
  p.write('bin/seq', '#!/bin/sh\necho 1\n'); // one attempt instead of 60
  for (const f of ['systemctl', 'docker', 'seq']) chmodSync(join(bin, f), 0o755);
  const pb = p.write('site.yml', JSON.stringify({
    name: 'restarts',
    plays: [
      { name: 'Preflight', hosts: 'web', tasks: [{ name: 'changed', command: { cmd: 'true' }, notify: [handler.name] }], handlers: [{ ...handler, become: false }] },
      { name: 'Later', hosts: 'web', tasks: [{ name: 'later', command: { cmd: `touch ${p.work}/later-{{ host.name }}` } }] },
    ],
  }));
  const r = cli(['run', pb, '-i', p.inventory], { env: { PATH: `${bin}:${process.env.PATH}` } });
  assert.is(r.code, 2);
  assert.match(r.stdout, /docker did not answer within 60s of its restart/);
  assert.equal(readdirSync(p.work), [], 'no later play ran');
});

test.run();
