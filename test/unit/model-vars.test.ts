// Variables: precedence over all levels, -e parsing, template scope, masking secrets.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadInventory } from '../../runner/model/inventory.js';
import { loadPlaybook, validateVarsSchema } from '../../runner/model/playbook.js';
import { staticProblems } from '../../runner/plan/checks.js';
import { mergedVars, parseExtraVars, templateScope, maskSecrets, secretValues, redactText } from '../../runner/model/vars.js';
import { renderValue } from '../../runner/model/template.js';
import { formatProblem, InputError } from '../../runner/errors.js';
import { testRegistry } from '../fixtures/model/registry.js';

const inv = loadInventory(resolve('test/fixtures/model/good/inventory.yml'), { home: '/h' });
const pbFile = resolve('test/fixtures/model/good/playbook.yml');
const pb = loadPlaybook(pbFile, testRegistry(), inv);
const dir = mkdtempSync(join(tmpdir(), 'rp-model-vars-'));

test('precedence, lowest first: inventory < group < host < playbook < play < -e', () => {
  const play = pb.plays[0]!;
  // node1: inventory + group rancher
  assert.is(mergedVars(inv, 'node1', {}, {}, {}).level, 'rancher');
  assert.is(mergedVars(inv, 'node1', {}, {}, {}).fqdn, 'rancher.example.com');
  // lb1: group lb then zz (by name), then host vars
  assert.is(mergedVars(inv, 'lb1', {}, {}, {}).level, 'host');
  const noHostVars = { ...inv, hosts: new Map(inv.hosts) };
  noHostVars.hosts.set('lb1', { ...inv.hosts.get('lb1')!, vars: {} });
  assert.is(mergedVars(noHostVars, 'lb1', {}, {}, {}).level, 'zz-group');
  assert.is(mergedVars(inv, 'lb1', pb.vars, {}, {}).level, 'playbook');
  assert.is(mergedVars(inv, 'lb1', pb.vars, play.vars, {}).level, 'play');
  assert.is(mergedVars(inv, 'lb1', pb.vars, play.vars, { level: 'extra' }).level, 'extra');
  // a whole value replaces, it is not deep-merged
  assert.equal(mergedVars(inv, 'node1', {}, {}, { proxy: { http: 'x' } }).proxy, { http: 'x' });
});

test('vars_schema defaults are the lowest precedence: any inventory value overrides them', () => {
  const f = join(dir, 'defaults.yml');
  writeFileSync(f, [
    'name: defaults',
    'vars_schema:',
    '  properties:',
    '    work_dir: { type: string, default: /srv/default }',
    '    fqdn: { type: string, default: default.example.com }',
    'plays:',
    '  - name: p',
    '    hosts: all',
    '    tasks: []',
    '',
  ].join('\n'));
  const withDefaults = loadPlaybook(f, testRegistry(), inv);
  assert.equal(withDefaults.defaults, { work_dir: '/srv/default', fqdn: 'default.example.com' });
  const v = mergedVars(inv, 'node1', withDefaults.vars, {}, {}, withDefaults.defaults);
  assert.is(v.work_dir, '/srv/default');
  assert.is(v.fqdn, 'rancher.example.com'); // the inventory's value wins over the default
  assert.is(mergedVars(inv, 'node1', {}, {}, { work_dir: '/x' }, withDefaults.defaults).work_dir, '/x');
});

test('-e as ansible-playbook reads it: key=value words are strings, {...} and @file are YAML 1.1, later wins', () => {
  const f = join(dir, 'extra.yml');
  writeFileSync(f, 'rancher_version: v2.0.8\nports: [80, 443]\nlevel: file\nmode: 0644\nenabled: no\n');
  const v = parseExtraVars(['n=5 flag=true', 's="hello world"', 'v=17.03', 'empty=', 'url=http://x:1/a=b', 'pkgs=[a,b]', '@extra.yml', 'level=cli'], dir);
  assert.equal(v, {
    n: '5', flag: 'true', s: 'hello world', v: '17.03', empty: '', url: 'http://x:1/a=b', pkgs: '[a,b]',
    rancher_version: 'v2.0.8', ports: [80, 443], level: 'cli', mode: 420, enabled: false,
  });
  assert.equal(parseExtraVars(['{"a": {"b": 1}, "m": 0644}'], dir), { a: { b: 1 }, m: 420 });
});

test('-e errors are InputErrors naming -e', () => {
  assert.throws(() => parseExtraVars(['novalue'], dir), (e: unknown) => e instanceof InputError && /-e expected key=value/.test(e.message));
  assert.throws(() => parseExtraVars(['@missing.yml'], dir), (e: unknown) => e instanceof InputError && /missing\.yml:1:1 -e file not found/.test(e.message));
  assert.throws(() => parseExtraVars(['[1, 2]'], dir), (e: unknown) => e instanceof InputError && /could not be made into a dictionary/.test(e.message));
  assert.throws(() => parseExtraVars(['./vars.yml'], dir), (e: unknown) => e instanceof InputError && /prepend extra_vars filename '\.\/vars\.yml' with '@'/.test(e.message));
  assert.throws(() => parseExtraVars(['a="open'], dir), (e: unknown) => e instanceof InputError && /not closed/.test(e.message));
});

test('template scope: host, groups (incl. all), hostvars, registered results', () => {
  const scope = templateScope(inv, 'node2', mergedVars(inv, 'node2', pb.vars, {}, {}), { proxy_check: { status: 'ok' } });
  assert.equal(renderValue('{{ host.name }}@{{ host.address }}:{{ host.port }}', scope), 'node2@10.0.0.12:2222');
  assert.equal(renderValue('{{ groups.rancher }}', scope), ['node1', 'node2', 'node3']);
  assert.equal(renderValue('{{ groups.all }}', scope), ['node1', 'node2', 'node3', 'lb1']);
  assert.equal(renderValue('{{ hostvars.lb1.level }}', scope), 'host');
  assert.equal(renderValue('{{ proxy_check.status }}', scope), 'ok');
  assert.equal(renderValue('{{#each groups.rancher}}{{lookup ../hostvars this}}{{/each}}', scope) !== '', true);
});

test('masking: secret vars become ******** at any depth; secret values are redacted from text', () => {
  const vars = mergedVars(inv, 'node1', {}, {}, {});
  const masked = maskSecrets({ vars, list: [{ api_token: 'x' }] }, inv.secrets) as { vars: Record<string, unknown>; list: Record<string, unknown>[] };
  assert.is(masked.vars.db_password, '********');
  assert.is(masked.vars.api_token, '********');
  assert.is(masked.vars.fqdn, 'rancher.example.com');
  assert.is(masked.list[0]!.api_token, '********');
  assert.not.ok(JSON.stringify(masked).includes('hunter22'));
  const values = secretValues(vars, inv.secrets);
  assert.is(redactText('pw=hunter22 tok=tok-123456 ok', values), 'pw=******** tok=******** ok');
});

test('vars_schema is checked against each host and points at the vars_schema key', () => {
  const hv = new Map([['node1', mergedVars(inv, 'node1', {}, {}, { rancher_version: 'latest' })], ['node2', mergedVars(inv, 'node2', {}, {}, {})]]);
  const lines = validateVarsSchema(pb, hv).map(formatProblem);
  assert.equal(lines, [
    `${pbFile}:2:1 vars_schema variable "rancher_version" must match pattern "^v[0-9]+\\.[0-9]+\\.[0-9]+$" (host node1)`,
    `${pbFile}:2:1 vars_schema missing required variable "rancher_version" (host node2)`,
  ]);
});

test('static checks: a good playbook has none; a missing var is reported before connecting', () => {
  assert.equal(staticProblems(pb, inv, { extraVars: { port_list: [1] } }), []);
  const lines = staticProblems(pb, inv).map(formatProblem);
  assert.equal(lines, [`${pbFile}:20:18 command.ports missing variable "port_list" (host node1)`]);
  const limited = staticProblems(pb, inv, { limit: ['lb1'] });
  assert.equal(limited, []);
});


test('vars defined by other vars render as Ansible renders them: inventory and playbook, a registered result at run time; a cycle is exit 5 at the var', async () => {
  const { cli } = await import('./cli-helpers.js');
  const d = mkdtempSync(join(tmpdir(), 'rp-var-templates-'));
  const invFile = join(d, 'inv.yml');
  writeFileSync(invFile, [
    'hosts:',
    '  localhost: { connection: local }',
    'vars:',
    '  base: "x-{{ who }}"',
    // Picks by a var only one playbook defines, as inventory/lab.yml picks rancher_version.
    `  pick: '{{#if distribution}}new{{else}}old{{/if}}'`,
    '',
  ].join('\n'));
  const pbFile = join(d, 'pb.yml');
  writeFileSync(pbFile, [
    'vars:',
    '  who: play',
    '  url: "u-{{ base }}"',
    '  later: "r={{ out.rc }}"',
    'plays:',
    '  - hosts: localhost',
    '    tasks:',
    '      - name: first',
    '        command: { cmd: "echo A {{ url }} {{ base }} {{ pick }}" }',
    '        register: out',
    '        changed_when: false',
    '      - name: second',
    '        command: { cmd: "echo B {{ later }}" }',
    '        changed_when: false',
    '',
  ].join('\n'));
  const r = cli(['run', pbFile, '-i', invFile, '-v']);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /A u-x-play x-play old/);
  assert.match(r.stdout, /B r=0/);
  const e = cli(['run', pbFile, '-i', invFile, '-v', '-e', 'distribution=k3s']);
  assert.match(e.stdout, /A u-x-play x-play new/);

  writeFileSync(join(d, 'cycle.yml'), 'hosts:\n  localhost: { connection: local }\nvars:\n  base: "{{ url }}"\n');
  const c = cli(['run', pbFile, '-i', join(d, 'cycle.yml')]);
  assert.is(c.code, 5, c.stdout + c.stderr);
  assert.match(c.stdout + c.stderr, new RegExp(`${join(d, 'cycle.yml').replace(/[.]/g, '\\.')}:4:3 vars\\.base variable "base" refers to itself \\(base -> url -> base\\)`));
  assert.not.match(c.stdout, /PLAY/);
});

test.run();
