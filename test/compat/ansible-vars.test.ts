// Differential test: vars defined by other vars (an inventory var naming a play var, a play var
// naming an inventory var, a var naming a registered result) give what ansible-playbook gives,
// live at test time, on localhost with the local connection (nothing connects anywhere). The
// templates are plain `{{ name }}` paths, which Jinja and Handlebars read alike, so both tools
// get the same inventory file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../unit/cli-helpers.js';

const hasAnsible = spawnSync('ansible-playbook', ['--version']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'compat-vars-'));
const w = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

const inv = w('inv.yml', [
  'all:',
  '  hosts:',
  '    localhost: { ansible_connection: local }',
  '  vars:',
  '    base: "x-{{ who }}"',
  '    who: inventory',
  '    ref_reg: "r={{ out.rc }}"',
  '',
].join('\n'));

const ansiblePb = w('ansible.yml', [
  '- hosts: localhost',
  '  gather_facts: false',
  '  vars:',
  '    who: play',
  '    url: "u-{{ base }}"',
  '  tasks:',
  '    - command: "echo A {{ url }} {{ base }}"',
  '      register: out',
  '      changed_when: false',
  '    - command: "echo B {{ ref_reg }}"',
  '      changed_when: false',
  '',
].join('\n'));

const oursPb = w('ours.yml', [
  'vars:',
  '  who: play',
  '  url: "u-{{ base }}"',
  'plays:',
  '  - hosts: localhost',
  '    tasks:',
  '      - name: a',
  '        command: { cmd: "echo A {{ url }} {{ base }}" }',
  '        register: out',
  '        changed_when: false',
  '      - name: b',
  '        command: { cmd: "echo B {{ ref_reg }}" }',
  '        changed_when: false',
  '',
].join('\n'));


test('vars of vars: the same values as ansible-playbook, with -e overriding the var they name', () => {
  if (!hasAnsible) {
    console.log('ansible-playbook not installed: skipped');
    return;
  }
  for (const extra of [[], ['-e', 'who=extra']]) {
    const a = spawnSync('ansible-playbook', ['-i', inv, ansiblePb, '-v', ...extra], {
      cwd: dir, encoding: 'utf8',
      env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_HOME: dir, ANSIBLE_LOCAL_TEMP: dir, ANSIBLE_CONFIG: join(dir, 'none.cfg'), ANSIBLE_PYTHON_INTERPRETER: 'auto_silent' },
    });
    assert.is(a.status, 0, a.stdout + a.stderr);
    const want = [...new Set([...a.stdout.matchAll(/"stdout": "([^"]*)"/g)].map((m) => m[1]!))];
    const o = cli(['run', oursPb, '-i', inv, '-v', ...extra], { cwd: dir });
    assert.is(o.code, 0, o.stdout + o.stderr);
    const got = [...new Set([...o.stdout.matchAll(/rc=0: ([AB] .*)$/gm)].map((m) => m[1]!.trim()))];
    assert.equal(got, want);
    assert.ok(want.length === 2 && want[0]!.startsWith('A u-x-'), want.join('|'));
  }
});

test.run();
