// What a user sees when a file is wrong: one line per problem, `file:line:column key message`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPlaybook } from '../../runner/model/playbook.js';
import { loadInventory } from '../../runner/model/inventory.js';
import { InputError } from '../../runner/errors.js';
import { testRegistry } from '../fixtures/model/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-model-msg-'));
let n = 0;
function file(text: string, name = `f${n++}.yml`): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function errorLines(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    assert.instance(e, InputError);
    return (e as InputError).message.split('\n');
  }
  assert.unreachable('expected an InputError');
  return [];
}

const inv = file(`
hosts:
  node1: {}
  node2: {}
  lb1: {}
groups:
  rancher: { hosts: [node1, node2] }
  lb: { hosts: [lb1] }
`, 'inv.yml');
const reg = testRegistry();

test('type error in params names <task-id>.<param> at the param key', () => {
  const f = file(`plays:
  - hosts: rancher
    tasks:
      - check-docker:
          min_version: 17.03
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [`${f}:5:11 check-docker.min_version must be string`]);
});

test('misspelt task id: did-you-mean at the key position', () => {
  const f = file(`plays:
  - hosts: rancher
    tasks:
      - name: check it
        chek-docker: {}
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:5:9 chek-docker unknown task "chek-docker" (did you mean "check-docker"?)`,
  ]);
});

test('a malformed host pattern: the error is at the hosts key', () => {
  const f = file(`plays:
  - hosts: "~rancher("
    tasks: []
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg, loadInventory(inv))), [
    `${f}:2:5 hosts Invalid host list pattern: ~rancher(`,
  ]);
});

test('a bad host pattern, a wrong param type and a misspelt task are all reported together, in file order', () => {
  const f = file(`plays:
  - hosts: [lb, "lb[3]"]
    tasks:
      - check-docker: { min_version: 1 }
      - commnd: { cmd: touch /tmp/x }
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg, loadInventory(inv))), [
    `${f}:2:5 hosts No hosts matched the subscripted pattern 'lb[3]'`,
    `${f}:4:25 check-docker.min_version must be string`,
    `${f}:5:9 commnd unknown task "commnd" (did you mean "command"?)`,
  ]);
});

test('unknown key in params, inventory and play: did-you-mean', () => {
  const f = file(`plays:
  - hosts: all
    stratgy: free
    tasks:
      - command: { cmd: "true", creats: /tmp/x }
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:3:5 plays.0.stratgy unknown key "stratgy" (did you mean "strategy"?)`,
    `${f}:5:33 command.creats unknown key "creats" (did you mean "creates"?)`,
  ]);
  const i = file(`hosts:
  node1: { adress: 10.0.0.1 }
`);
  assert.equal(errorLines(() => loadInventory(i)), [`${i}:2:12 hosts.node1.adress unknown key "adress" (did you mean "address"?)`]);
});

test('missing required param', () => {
  const f = file(`plays:
  - hosts: all
    tasks:
      - command: {}
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [`${f}:4:9 command missing required key "cmd"`]);
});

test('duplicate key', () => {
  const f = file(`hosts:
  node1: {}
  node1: {}
`);
  assert.equal(errorLines(() => loadInventory(f)), [`${f}:3:3 duplicate key (map keys must be unique)`]);
});

test('YAML syntax error', () => {
  const f = file(`plays:
  - hosts: all
    tasks: [
`);
  const lines = errorLines(() => loadPlaybook(f, reg));
  assert.ok(lines.length >= 1);
  for (const l of lines) assert.match(l, new RegExp(`^${f.replace(/[.]/g, '\\.')}:\\d+:\\d+ YAML syntax error: `));
});

test('bad when syntax names the column inside the expression', () => {
  const f = file(`plays:
  - hosts: all
    tasks:
      - check-proxy: {}
        when: "proxy and == 1"
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:5:15 check-proxy.when syntax error at column 11: unexpected "=="`,
  ]);
});

test('notify to a missing handler', () => {
  const f = file(`plays:
  - hosts: all
    tasks:
      - command: { cmd: "true" }
        notify: [restart dockr]
    handlers:
      - name: restart docker
        command: { cmd: systemctl restart docker }
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:5:18 command.notify no handler named "restart dockr" in this play (did you mean "restart docker"?)`,
  ]);
});

test('register must be an identifier; retries must be an integer', () => {
  const f = file(`plays:
  - hosts: all
    tasks:
      - command: { cmd: "true" }
        register: my-result
        retries: many
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:5:9 plays.0.tasks.0.register must be an identifier (letters, digits and _, not starting with a digit)`,
    `${f}:6:9 plays.0.tasks.0.retries must be integer`,
  ]);
});

test('two task ids in one item', () => {
  const f = file(`plays:
  - hosts: all
    tasks:
      - command: { cmd: "true" }
        check-proxy: {}
`);
  assert.equal(errorLines(() => loadPlaybook(f, reg)), [
    `${f}:5:9 check-proxy a task item has exactly one task id; found "command" and "check-proxy"`,
  ]);
});

test('unknown host in a group and unknown jump host', () => {
  const f = file(`jump_hosts:
  bastion: { address: 10.1.1.1 }
hosts:
  node1: { jump: bastoin }
groups:
  rancher: { hosts: [node1, nod2] }
`);
  assert.equal(errorLines(() => loadInventory(f)), [
    `${f}:4:18 hosts.node1.jump unknown jump host "bastoin" (did you mean "bastion"?); use a name from jump_hosts or "user@host:port"`,
    `${f}:6:29 groups.rancher.hosts unknown host "nod2" (did you mean "node1"?)`,
  ]);
});

test('template params of another type are accepted; template syntax errors are not', () => {
  const ok = file(`plays:
  - hosts: all
    tasks:
      - command: { cmd: "true", ports: "{{ port_list }}", retries_hint: "{{ n }}" }
`);
  assert.equal(loadPlaybook(ok, reg).plays[0]!.tasks[0]!.params.ports, '{{ port_list }}');
  const bad = file(`plays:
  - hosts: all
    tasks:
      - command: { cmd: "echo {{ fqdn" }
`);
  const lines = errorLines(() => loadPlaybook(bad, reg));
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, `${bad}:4:25 command.cmd template syntax error`);
});

test.run();
