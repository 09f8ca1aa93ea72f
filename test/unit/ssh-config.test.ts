// ~/.ssh/config resolution: aliases, HostName, User, Port, IdentityFile, ProxyJump (recursive),
// ProxyCommand, explicit inventory values — through `ssh -G` and through the built-in reader used
// where there is no ssh client; every test runs against both, so they agree.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { clearSshConfigCache, parseJumpSpec, resolveConnection, type ResolveOptions } from '../../runner/transport/ssh-config.js';
import { InputError } from '../../runner/errors.js';
import type { ConnectionSpec } from '../../runner/types.js';
import { scratch } from './ssh-helpers.js';

function homeWith(config: string): string {
  const h = scratch();
  mkdirSync(join(h, '.ssh'));
  writeFileSync(join(h, '.ssh', 'config'), config);
  return h;
}

const home = homeWith(`
Host inner
  HostName 10.9.0.21
  User deploy
  Port 2201
  IdentityFile ~/.ssh/inner_key
  ProxyJump mid

Host mid
  HostName 10.9.0.10
  User hop
  IdentityFile ~/.ssh/mid_key
  ProxyJump ops@outer:2022

Host outer
  HostName 192.0.2.1

Host direct
  HostName 10.9.0.30
  ProxyJump none

Host viacmd
  HostName 10.9.0.40
  ProxyCommand ssh -q -l ops -W %h:%p outer

Host vianc
  ProxyCommand nc -X connect -x proxy:3128 %h %p

Host 10.9.*
  IdentityFile ~/.ssh/wild_key
  User wilduser
`);
const execHome = homeWith(`Match exec "touch %d/exec-ran"\n  User matched\n`);
const otherExecHome = homeWith(`Match host elsewhere exec "touch %d/exec-ran"\n  User matched\n`);
const me = userInfo().username;

/** An inventory connection; user and port count as written only when `explicit` says so,
 * otherwise they fill in only what the config leaves unset. */
const base = (over: Partial<ConnectionSpec>): ConnectionSpec => ({
  connection: 'ssh',
  address: 'x',
  port: 22,
  user: 'rancher',
  jump: [],
  become: false,
  known_hosts: '/kh',
  connect_timeout_ms: 1000,
  name: 'n',
  explicit: { user: false, port: false },
  ...over,
});

test.before(() => clearSshConfigCache());

const hasSsh = (process.env.PATH ?? '').split(':').some((d) => existsSync(join(d, 'ssh')));
const backends: [string, ResolveOptions['ssh']][] = [['built-in reader', false]];
if (hasSsh) backends.push(['ssh -G', undefined]);

for (const [label, ssh] of backends) {
  const resolve = (c: ConnectionSpec, h = home): Promise<ConnectionSpec> => resolveConnection(c, { home: h, ssh });

  test(`${label}: an alias takes HostName from its Host block; user and port default after the config`, async () => {
    const c = await resolve(base({ address: 'direct', port: 2999 }));
    assert.is(c.address, '10.9.0.30');
    assert.is(c.user, 'rancher'); // `Host 10.9.*` matches the destination as given only, not the HostName
    assert.is(c.port, 2999);
    const d = await resolve(base({ address: 'direct', user: me }));
    assert.is(d.user, me);
    assert.equal(c.jump, []);
    assert.ok(c.resolved);
  });

  test(`${label}: ProxyJump chains resolve recursively, outermost hop first, each through its own block`, async () => {
    const c = await resolve(base({ address: 'inner' }));
    assert.equal([c.address, c.user, c.port, c.ssh_key_path], ['10.9.0.21', 'deploy', 2201, join(home, '.ssh/inner_key')], 'the config wins over values not written');
    assert.equal(c.identity_files, [join(home, '.ssh/inner_key')]);
    assert.equal(
      c.jump.map((h) => [h.address, h.user, h.port, h.ssh_key_path]),
      [
        ['192.0.2.1', 'ops', 2022, undefined], // explicit user@ and :port in ProxyJump win; no key exists
        ['10.9.0.10', 'hop', 22, join(home, '.ssh/mid_key')],
      ],
    );
    assert.ok(c.jump.every((h) => h.jump.length === 0 && h.known_hosts === '/kh'));
  });

  test(`${label}: values the inventory wrote win over the config, like ssh -o`, async () => {
    const c = await resolve(base({ address: 'inner', user: 'root', port: 2, explicit: { user: true, port: true } }));
    assert.equal([c.address, c.user, c.port], ['10.9.0.21', 'root', 2]);
    const w = await resolve(base({ address: '10.9.0.77', user: 'root', explicit: { user: true, port: false } }));
    assert.is(w.user, 'root');
    assert.is(w.ssh_key_path, join(home, '.ssh/wild_key'));
    const k = await resolve(base({ address: '10.9.0.77', ssh_key_path: '/mine' }));
    assert.is(k.user, 'wilduser');
    assert.equal(k.identity_files, ['/mine', join(home, '.ssh/wild_key')], 'the inventory key first, then the config\'s');
    assert.is(k.ssh_key_path, '/mine');
  });

  test(`${label}: an inventory jump chain wins over ProxyJump, its hops resolved through the config`, async () => {
    const c = await resolve(base({ address: 'inner', jump: [base({ address: 'outer', name: 'bastion' })] }));
    assert.equal(c.jump.map((h) => h.address), ['192.0.2.1']);
    assert.is(c.jump[0]!.name, 'bastion');
  });

  test(`${label}: ProxyCommand "ssh -W %h:%p HOST" becomes a jump hop; any other is refused`, async () => {
    const c = await resolve(base({ address: 'viacmd' }));
    assert.equal(c.jump.map((h) => [h.address, h.user, h.port]), [['192.0.2.1', 'ops', 22]]);
    try {
      await resolve(base({ address: 'vianc' }));
      assert.unreachable('nc ProxyCommand must be refused');
    } catch (e) {
      assert.instance(e, InputError);
      const p = (e as InputError).problems[0]!;
      assert.match(p.message, /ProxyCommand "nc -X connect -x proxy:3128 %h %p" is not supported/);
      assert.equal([p.pos?.file, p.pos?.line, p.pos?.col], [join(home, ".ssh", "config"), 27, 3]);
    }
  });

  test(`${label}: a Match exec that decides is refused with its position, and never run`, async () => {
    try {
      await resolve(base({ address: 'whatever' }), execHome);
      assert.unreachable('refused');
    } catch (e) {
      assert.instance(e, InputError);
      const p = (e as InputError).problems[0]!;
      assert.match(p.message, /a `Match exec` decides this host's settings/);
      assert.equal([p.pos?.file, p.pos?.line, p.pos?.col], [join(execHome, '.ssh', 'config'), 1, 1]);
    }
    assert.not.ok(existsSync(join(execHome, 'exec-ran')));
  });

  test(`${label}: a Match exec whose other criteria fail does not matter`, async () => {
    const c = await resolve(base({ address: 'whatever' }), otherExecHome);
    assert.not.ok(existsSync(join(otherExecHome, 'exec-ran')));
    assert.is(c.user, 'rancher');
  });

  test(`${label}: no config file: address, user and port as the inventory gives them`, async () => {
    const empty = scratch();
    const c = base({ address: 'inner', user: 'u', port: 2200, explicit: { user: true, port: true } });
    const r = await resolve(c, empty);
    assert.equal([r.address, r.user, r.port, r.jump, r.identity_files], ['inner', 'u', 2200, [], []]);
    rmSync(empty, { recursive: true });
  });

  test(`${label}: local connections and resolved specs pass through untouched`, async () => {
    const c = base({ connection: 'local', address: 'inner' });
    assert.is(await resolve(c), c);
    const r = await resolve(base({ address: 'inner' }));
    assert.is(await resolve(r), r);
  });
}

test('parseJumpSpec reads [user@]host[:port] and [v6]:port', () => {
  assert.equal(parseJumpSpec('ops@b:2022'), { user: 'ops', host: 'b', port: 2022 });
  assert.equal(parseJumpSpec('b'), { user: undefined, host: 'b', port: undefined });
  assert.equal(parseJumpSpec('[::1]:22'), { user: undefined, host: '::1', port: 22 });
  assert.equal(parseJumpSpec('ssh://u@h:1'), { user: 'u', host: 'h', port: 1 });
});

test.after(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(execHome, { recursive: true, force: true });
});

test.run();
