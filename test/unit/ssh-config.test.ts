// ~/.ssh/config resolution: aliases, HostName, User, Port, IdentityFile, ProxyJump (recursive).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applySshConfig, clearSshConfigCache, parseJumpSpec } from '../../runner/transport/ssh-config.js';
import type { ConnectionSpec } from '../../runner/types.js';
import { scratch } from './ssh-helpers.js';

const home = scratch();
mkdirSync(join(home, '.ssh'));
writeFileSync(
  join(home, '.ssh', 'config'),
  `
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

Host 10.9.*
  IdentityFile ~/.ssh/wild_key
  User wilduser

Match exec "touch ${home}/exec-ran"
  User matched
`,
);

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
  ...over,
});

test.before(() => clearSshConfigCache());

test('an alias takes HostName, User, Port, IdentityFile from its Host block', () => {
  const c = applySshConfig(base({ address: 'direct' }), { home });
  assert.is(c.address, '10.9.0.30');
  assert.is(c.user, 'rancher'); // `Host 10.9.*` matches the HostName only, not the alias
  assert.equal(c.jump, []);
});

test('ProxyJump chains resolve recursively, outermost hop first, each through its own block', () => {
  const c = applySshConfig(base({ address: 'inner' }), { home });
  assert.is(c.address, '10.9.0.21');
  assert.is(c.user, 'deploy');
  assert.is(c.port, 2201);
  assert.is(c.ssh_key_path, join(home, '.ssh/inner_key'));
  assert.equal(
    c.jump.map((h) => [h.address, h.user, h.port, h.ssh_key_path]),
    [
      ['192.0.2.1', 'ops', 2022, undefined], // explicit user@ and :port in ProxyJump win
      ['10.9.0.10', 'hop', 22, join(home, '.ssh/mid_key')],
    ],
  );
  assert.ok(c.jump.every((h) => h.jump.length === 0 && h.known_hosts === '/kh'));
});

test('wildcard blocks only fill in what the inventory left empty', () => {
  const c = applySshConfig(base({ address: '10.9.0.77', user: 'root' }), { home });
  assert.is(c.user, 'root');
  assert.is(c.ssh_key_path, join(home, '.ssh/wild_key'));
  const k = applySshConfig(base({ address: '10.9.0.77', ssh_key_path: '/mine' }), { home });
  assert.is(k.ssh_key_path, '/mine');
});

test('an inventory jump chain wins over ProxyJump, its hops resolved through the config', () => {
  const c = applySshConfig(base({ address: 'inner', jump: [base({ address: 'outer', name: 'bastion' })] }), { home });
  assert.equal(
    c.jump.map((h) => h.address),
    ['192.0.2.1'],
  );
  assert.is(c.jump[0]!.name, 'bastion');
});

test('Match exec is never run (a config file must not execute commands)', async () => {
  applySshConfig(base({ address: 'whatever' }), { home });
  const { existsSync } = await import('node:fs');
  assert.not.ok(existsSync(join(home, 'exec-ran')));
});

test('no config file: the connection is unchanged', () => {
  const empty = scratch();
  const c = base({ address: 'inner' });
  assert.equal(applySshConfig(c, { home: empty }), c);
  rmSync(empty, { recursive: true });
});

test('local connections pass through untouched', () => {
  const c = base({ connection: 'local', address: 'inner' });
  assert.is(applySshConfig(c, { home }), c);
});

test('parseJumpSpec reads [user@]host[:port] and [v6]:port', () => {
  assert.equal(parseJumpSpec('ops@b:2022'), { user: 'ops', host: 'b', port: 2022 });
  assert.equal(parseJumpSpec('b'), { user: undefined, host: 'b', port: undefined });
  assert.equal(parseJumpSpec('[::1]:22'), { user: undefined, host: '::1', port: 22 });
  assert.equal(parseJumpSpec('ssh://u@h:1'), { user: 'u', host: 'h', port: 1 });
});

test.after(() => rmSync(home, { recursive: true, force: true }));

test.run();
