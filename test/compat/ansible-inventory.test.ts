// Differential test: every inventory in test/compat/ansible/ is read by ansible-inventory (live,
// at test time) and by rancher-play's loader, and they must agree on the hosts, each group's
// members, each host's variables and each host's connection (the connection variables Ansible
// would pass to ssh, resolved by `ssh -G`). A case that starts with `# refuse: LINE:COL TEXT`
// must instead be refused by us with exit-5 input errors at that position; `# ansible: fails`
// adds that ansible-inventory refuses it too.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadInventory } from '../../runner/model/inventory.js';
import { InputError } from '../../runner/errors.js';
import { mergedVars } from '../../runner/model/vars.js';
import type { ConnectionSpec } from '../../runner/types.js';

const DIR = 'test/compat/ansible';
const cases = readdirSync(DIR).filter((f) => /\.(ini|ya?ml)$/.test(f)).sort();
const scratch = mkdtempSync(join(tmpdir(), 'compat-ansible-'));

interface AnsibleResult { code: number; out: string; err: string }
const ansible = new Map<string, AnsibleResult>();

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function run(cmd: string, args: string[]): Promise<AnsibleResult> {
  return new Promise((done) => {
    const p = spawn(cmd, args, {
      env: {
        ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: '1', ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: scratch,
        ANSIBLE_LOCAL_TEMP: scratch, ANSIBLE_DEPRECATION_WARNINGS: '0', ANSIBLE_CONFIG: join(scratch, 'none.cfg'),
      },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => done({ code: code ?? -1, out, err }));
  });
}

test.before(async () => {
  if (!have('ansible-inventory')) return;
  // ~1 s each: two at a time.
  const queue = [...cases];
  await Promise.all([0, 1].map(async () => {
    for (let c = queue.shift(); c; c = queue.shift()) ansible.set(c, await run('ansible-inventory', ['-i', join(DIR, c), '--list']));
  }));
});
test.after(() => rmSync(scratch, { recursive: true, force: true }));

test('the reference tools are installed (install ansible-core and openssh-client)', () => {
  assert.ok(have('ansible-inventory'), 'ansible-inventory not found: install ansible-core (apt-get install ansible-core)');
  assert.ok(have('ssh'), 'ssh not found: install openssh-client');
  assert.ok(cases.length >= 40, `at least 40 cases, found ${cases.length}`);
});

/** Python's json writes NaN/Infinity bare; read them as numbers. */
function parsePyJson(text: string): any {
  return JSON.parse(text.replace(/("(?:[^"\\]|\\.)*")|-?\bInfinity\b|\bNaN\b/g, (m, str) =>
    str ?? (m === 'NaN' ? '"__NaN__"' : m.startsWith('-') ? '"__-Inf__"' : '"__Inf__"')), (_k, v) =>
    v === '__NaN__' ? NaN : v === '__Inf__' ? Infinity : v === '__-Inf__' ? -Infinity : v);
}

/** ansible-inventory --list → hosts, group → members (children included), host → vars. */
function ansibleView(json: any): { hosts: string[]; groups: Record<string, string[]>; hostvars: Record<string, Record<string, unknown>> } {
  const members = (g: string, seen = new Set<string>()): Set<string> => {
    const out = new Set<string>(json[g]?.hosts ?? []);
    if (seen.has(g)) return out;
    seen.add(g);
    for (const c of json[g]?.children ?? []) for (const h of members(c, seen)) out.add(h);
    return out;
  };
  const groups: Record<string, string[]> = {};
  for (const g of Object.keys(json)) {
    if (g === '_meta' || g === 'all') continue;
    const m = [...members(g)].sort();
    if (m.length) groups[g] = m;
  }
  const hosts = [...members('all')].sort();
  const hostvars: Record<string, Record<string, unknown>> = {};
  for (const h of hosts) hostvars[h] = unwrapUnsafe(json._meta?.hostvars?.[h] ?? {}) as Record<string, unknown>;
  return { hosts, groups, hostvars };
}

function unwrapUnsafe(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapUnsafe);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && '__ansible_unsafe' in o) return o.__ansible_unsafe;
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapUnsafe(x)]));
  }
  return v;
}

// The variables that make up a connection (ssh plugin options); the last name set wins.
const CONN: Record<string, string[]> = {
  address: ['ansible_host', 'ansible_ssh_host'],
  port: ['ansible_port', 'ansible_ssh_port'],
  user: ['ansible_user', 'ansible_ssh_user'],
  key: ['ansible_private_key_file', 'ansible_ssh_private_key_file'],
  become: ['ansible_become'],
  become_method: ['ansible_become_method'],
  become_user: ['ansible_become_user', 'ansible_sudo_user'],
  connection: ['ansible_connection'],
  ssh_args: ['ansible_ssh_args'],
  common: ['ansible_ssh_common_args'],
  extra: ['ansible_ssh_extra_args'],
};
const CONN_NAMES = new Set(Object.values(CONN).flat());
const pick = (hv: Record<string, unknown>, k: string): unknown => {
  let out: unknown;
  for (const n of CONN[k]!) if (hv[n] !== undefined && hv[n] !== null) out = hv[n];
  return out;
};

/** `ssh -G` for a host as Ansible's ssh connection plugin would invoke ssh for it. */
function sshG(hv: Record<string, unknown>, name: string): Record<string, string> {
  const args = ['-G', '-F', '/dev/null'];
  const argStrings = ['ssh_args', 'common', 'extra'].map((k) => pick(hv, k)).filter((v) => v !== undefined).map(String);
  if (pick(hv, 'port') !== undefined) args.push('-o', `Port=${String(pick(hv, 'port'))}`);
  if (pick(hv, 'user') !== undefined) args.push('-o', `User=${String(pick(hv, 'user'))}`);
  if (argStrings.length) {
    // Ansible splits these with Python's shlex; ask Python.
    const py = spawnSync('python3', ['-c', 'import json,shlex,sys; print(json.dumps([t for a in sys.argv[1:] for t in shlex.split(a.strip())]))', ...argStrings], { encoding: 'utf8' });
    args.push(...(JSON.parse(py.stdout) as string[]));
  }
  args.push(String(pick(hv, 'address') ?? name));
  return sshConfig(args);
}

function sshConfig(args: string[]): Record<string, string> {
  const r = spawnSync('ssh', args, { encoding: 'utf8' });
  assert.is(r.status, 0, `ssh ${args.join(' ')}: ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line);
    if (m && !(m[1]! in out)) out[m[1]!] = m[2]!;
  }
  return out;
}

/** One ProxyJump hop `[user@]host[:port]` as ssh resolves it (no config file). */
function hop(spec: string): { address: string; port: number; user: string } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(spec);
  assert.ok(m, `hop ${spec}`);
  const args = ['-G', '-F', '/dev/null'];
  if (m![1]) args.push('-l', m![1]);
  if (m![3]) args.push('-p', m![3]);
  args.push(m![2]!.replace(/^\[|\]$/g, ''));
  const g = sshConfig(args);
  return { address: g.hostname!, port: Number(g.port), user: g.user! };
}

function becomeOf(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1;
  return ['y', 'yes', 'on', '1', 'true', 't'].includes(String(v ?? '').trim().toLowerCase());
}

function expectedConn(hv: Record<string, unknown>, name: string): Record<string, unknown> {
  const connection = ['local', 'ansible.builtin.local'].includes(String(pick(hv, 'connection'))) ? 'local' : 'ssh';
  const out: Record<string, unknown> = { connection, become: becomeOf(pick(hv, 'become')) };
  const key = pick(hv, 'key');
  if (key !== undefined) out.ssh_key_path = resolve(String(key).replace(/^~(?=\/|$)/, homedir()));
  if (connection === 'local') return out;
  const g = sshG(hv, name);
  Object.assign(out, { address: g.hostname, port: Number(g.port), user: g.user });
  out.jump = g.proxyjump && g.proxyjump !== 'none' ? g.proxyjump.split(',').map(hop) : [];
  if (g.userknownhostsfile && pick(hv, 'common') !== undefined && /UserKnownHostsFile/i.test(String(pick(hv, 'common')))) {
    out.known_hosts = resolve(g.userknownhostsfile.split(' ')[0]!.replace(/^~(?=\/|$)/, homedir()));
  }
  return out;
}

function ourConn(c: ConnectionSpec, want: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { connection: c.connection, become: c.become };
  if (want.ssh_key_path !== undefined) out.ssh_key_path = c.ssh_key_path;
  if (c.connection === 'local') return out;
  Object.assign(out, { address: c.address.toLowerCase(), port: c.port, user: c.user });
  out.jump = c.jump.map((j) => ({ address: j.address.toLowerCase(), port: j.port, user: j.user }));
  if (want.known_hosts !== undefined) out.known_hosts = c.known_hosts;
  return out;
}

for (const c of cases) {
  const file = join(DIR, c);
  const text = readFileSync(file, 'utf8');
  const refuse = /^# refuse: (\d+):(\d+) (.+)$/m.exec(text);
  const ansibleFails = /^# ansible: fails$/m.test(text);
  const what = /^# (?!refuse:|ansible:)(.+)$/m.exec(text)?.[1] ?? c;

  test(`${c}: ${what}`, () => {
    const ref = ansible.get(c);
    assert.ok(ref, 'ansible-inventory did not run: install ansible-core');
    if (refuse) {
      if (ansibleFails) assert.is.not(ref!.code, 0, `ansible-inventory accepted ${c}:\n${ref!.out}`);
      else assert.is(ref!.code, 0, `ansible-inventory refused ${c}: ${ref!.err}`);
      let err: unknown;
      try {
        loadInventory(file);
      } catch (e) {
        err = e;
      }
      assert.instance(err, InputError, `${c} was accepted but must be refused`);
      const msg = (err as Error).message;
      assert.ok(msg.split('\n').some((l) => l.startsWith(`${file}:${refuse[1]}:${refuse[2]} `) && l.includes(refuse[3]!)),
        `expected "${file}:${refuse[1]}:${refuse[2]} ... ${refuse[3]}", got:\n${msg}`);
      return;
    }
    assert.is(ref!.code, 0, `ansible-inventory failed on ${c}: ${ref!.err}`);
    const want = ansibleView(parsePyJson(ref!.out));
    const inv = loadInventory(file);
    const hosts = [...inv.groups.get('all')!.hosts].sort();
    assert.equal(hosts, want.hosts, 'hosts');
    const groups: Record<string, string[]> = {};
    for (const g of inv.groups.values()) if (g.name !== 'all' && g.hosts.length) groups[g.name] = [...g.hosts].sort();
    assert.equal(groups, want.groups, 'group members');
    for (const h of hosts) {
      const hv = want.hostvars[h]!;
      const vars = Object.fromEntries(Object.entries(hv).filter(([k]) => !CONN_NAMES.has(k)));
      assert.equal(mergedVars(inv, h, {}, {}, {}), vars, `vars of ${h}`);
      const wantConn = expectedConn(hv, h);
      assert.equal(ourConn(inv.hosts.get(h)!.conn, wantConn), wantConn, `connection of ${h}`);
    }
  });
}

test.run();
