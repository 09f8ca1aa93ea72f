// Differential tests against OpenSSH: for every case in test/compat/ssh/, the connection
// `rancher-play inventory --json` reports (run in this process) (with the ssh client, and with the built-in reader used
// where there is none) must be what `ssh -G` answers live, with a temp HOME so ~/.ssh is the
// case's. ssh -G connects to nothing. ssh leaves `~` and tokens in IdentityFile unexpanded, so
// the test expands them as ssh would when it loads the keys; the ProxyCommand forms we map onto
// the jump chain state the chain they expect, since ssh only prints the command.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { main } from '../../runner/cli/index.js';
import { clearSshConfigCache } from '../../runner/transport/ssh-config.js';
import { cli } from '../unit/cli-helpers.js';

/** `rancher-play inventory -i FILE --json` in this process, with HOME (and PATH) set for it. */
async function inventoryJson(inventory: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const saved = { HOME: process.env.HOME, PATH: process.env.PATH };
  Object.assign(process.env, env);
  clearSshConfigCache();
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => ({ write: (s: string | Uint8Array) => { add(String(s)); return true; } }) as unknown as NodeJS.WritableStream;
  try {
    const code = await main(['inventory', '-i', inventory, '--json'], {
      stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }), env: process.env,
    });
    return { code, stdout, stderr };
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    clearSshConfigCache();
  }
}

interface Entry { address?: string; user?: string; port?: number; ssh_key_path?: string; jump?: string }
interface Case {
  what: string;
  config: string;
  files?: Record<string, string>;
  identities?: string[];
  inventory: { defaults?: Entry; hosts: Record<string, Entry>; jump_hosts?: Record<string, Entry> };
  expect?: Record<string, { jump: Hop[] }>;
  refused?: string;
}
interface Hop { address: string; port: number; user: string }
interface Conn extends Hop { identity_files: string[]; jump: Hop[] }

const dir = join(dirname(fileURLToPath(import.meta.url)), 'ssh');
const cases = readdirSync(dir).filter((f) => f.endsWith('.yml')).sort();
const hasSsh = spawnSync('ssh', ['-V']).status === 0;
const DEFAULTS = ['id_rsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk', 'id_xmss', 'id_dsa'].map((f) => `~/.ssh/${f}`);

/** `ssh -G` for one destination, each keyword's values in order. */
function sshG(home: string, host: string, o: { user?: string; port?: number; key?: string }): Map<string, string[]> {
  const args = ['-G', '-F', join(home, '.ssh', 'config')];
  if (o.user !== undefined) args.push('-o', `User=${o.user}`);
  if (o.port !== undefined) args.push('-o', `Port=${o.port}`);
  if (o.key !== undefined) args.push('-o', `IdentityFile="${o.key}"`);
  const r = spawnSync('ssh', [...args, '--', host], { encoding: 'utf8', env: { ...process.env, HOME: home } });
  assert.is(r.status, 0, `ssh -G ${host}: ${r.stderr}`);
  const m = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(' ');
    if (i > 0) m.set(line.slice(0, i), [...(m.get(line.slice(0, i)) ?? []), line.slice(i + 1)]);
  }
  return m;
}

const one = (m: Map<string, string[]>, k: string): string | undefined => m.get(k)?.[0];

/** What ssh does with the IdentityFile lines it printed: `~` and tokens expanded, defaults only if present. */
function identities(m: Map<string, string[]>, alias: string, home: string): string[] {
  const listed = m.get('identityfile') ?? [];
  const t: Record<string, string> = {
    '%': '%', h: one(m, 'hostname')!, r: one(m, 'user')!, p: one(m, 'port')!, n: alias, d: home, u: userInfo().username,
  };
  const files = listed.map((f) => f.replace(/^~(?=\/)/, home).replace(/%(.)/g, (x, c: string) => t[c] ?? x));
  const isDefault = listed.length === DEFAULTS.length && listed.every((f, i) => f === DEFAULTS[i]);
  return isDefault ? files.filter((f) => existsSync(f)) : files;
}

/** A ProxyJump list as ssh walks it: each hop asked with only its own user@/:port, the first with its own ProxyJump. */
function jumpChain(home: string, list: string, depth = 0): Hop[] {
  const hops: Hop[] = [];
  list.split(',').forEach((part, i) => {
    // ssh prints addresses in brackets: ops@[192.0.2.50]:22
    const m = /^(?:([^@]+)@)?(?:\[([^\]]+)\]|([^:@]+))(?::(\d+))?$/.exec(part.trim())!;
    const g = sshG(home, m[2] ?? m[3]!, { user: m[1], port: m[4] ? Number(m[4]) : undefined });
    const own = one(g, 'proxyjump');
    if (i === 0 && own && own !== 'none' && depth < 8) hops.push(...jumpChain(home, own, depth + 1));
    hops.push({ address: one(g, 'hostname')!, port: Number(one(g, 'port')), user: one(g, 'user')! });
  });
  return hops;
}

function setUp(c: Case): { home: string; inventory: string } {
  const home = mkdtempSync(join(tmpdir(), 'rp-compat-ssh-'));
  const fill = (s: string): string => s.replace(/\{\{HOME\}\}/g, home);
  mkdirSync(join(home, '.ssh'), { recursive: true });
  writeFileSync(join(home, '.ssh', 'config'), fill(c.config));
  for (const [rel, text] of Object.entries(c.files ?? {})) {
    mkdirSync(dirname(join(home, rel)), { recursive: true });
    writeFileSync(join(home, rel), fill(text));
  }
  for (const rel of c.identities ?? []) writeFileSync(join(home, rel), 'not a real key\n', { mode: 0o600 });
  const inventory = join(home, 'inventory.yml');
  writeFileSync(inventory, stringify(c.inventory));
  return { home, inventory };
}

function expected(c: Case, home: string, name: string): Conn {
  const e = c.inventory.hosts[name]!;
  const d = c.inventory.defaults ?? {};
  const alias = e.address ?? name;
  const key = e.ssh_key_path ?? d.ssh_key_path;
  const g = sshG(home, alias, {
    user: e.user ?? d.user, port: e.port ?? d.port, key: key?.replace(/^~(?=\/)/, home),
  });
  const conn: Conn = {
    address: one(g, 'hostname')!, port: Number(one(g, 'port')), user: one(g, 'user')!,
    identity_files: identities(g, alias, home), jump: [],
  };
  const pj = one(g, 'proxyjump');
  if (c.expect?.[name]) {
    if (!e.jump) assert.ok(one(g, 'proxycommand'), `${name}: ssh -G shows the ProxyCommand the case maps`);
    conn.jump = c.expect[name]!.jump;
  } else {
    assert.not.ok(one(g, 'proxycommand'), `${name}: a ProxyCommand case states its expected chain`);
    if (pj && pj !== 'none') conn.jump = jumpChain(home, pj);
  }
  return conn;
}

const backends: [string, NodeJS.ProcessEnv][] = [
  ['ssh -G', {}],
  ['built-in reader', { PATH: '/nonexistent-rancher-play' }],
];

for (const file of cases) {
  const c = parse(readFileSync(join(dir, file), 'utf8')) as Case;
  test(`${file.replace(/\.yml$/, '')}: ${c.what}`, async () => {
    if (!hasSsh) return; // the reference tool is what these compare with
    const { home, inventory } = setUp(c);
    try {
      for (const [label, env] of backends) {
        const r = await inventoryJson(inventory, { HOME: home, ...env });
        if (c.refused) {
          assert.is(r.code, 5, `${label}: refused with exit 5\n${r.stdout}${r.stderr}`);
          assert.ok(r.stderr.includes(c.refused), `${label}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`${join(home, '.ssh', 'config')}:\\d+:\\d+ (ProxyCommand|ssh_config) `), `${label}: names file:line:col`);
          if (c.refused.includes('ProxyCommand')) for (const name of Object.keys(c.inventory.hosts)) assert.ok(one(sshG(home, name, {}), 'proxycommand'), 'ssh -G sees it');
          continue;
        }
        assert.is(r.code, 0, `${label}: ${r.stderr}`);
        const hosts = (JSON.parse(r.stdout) as { hosts: Record<string, Conn> }).hosts;
        for (const name of Object.keys(c.inventory.hosts)) {
          const got = hosts[name]!;
          const want = expected(c, home, name);
          assert.equal(
            { address: got.address, port: got.port, user: got.user, identity_files: got.identity_files, jump: got.jump },
            want,
            `${label}: host ${name}`,
          );
        }
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
}

test('run, check, validate and ping refuse an unsupported ProxyCommand before connecting (exit 5)', () => {
  const c = parse(readFileSync(join(dir, '37-proxycommand-nc-refused.yml'), 'utf8')) as Case;
  const { home, inventory } = setUp(c);
  try {
    const pb = join(home, 'pb.yml');
    writeFileSync(pb, 'name: p\nplays:\n  - name: p\n    hosts: node\n    tasks:\n      - command: { cmd: "true" }\n');
    for (const args of [['run', pb], ['check', pb], ['validate', pb], ['ping']]) {
      const r = cli([...args, '-i', inventory], { env: { HOME: home } });
      assert.is(r.code, 5, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /ProxyCommand "nc -X connect/);
    }
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('there are at least 30 cases', () => {
  assert.ok(cases.length >= 30, String(cases.length));
});

test.run();
