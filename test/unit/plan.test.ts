// The plan every stage reads: each play's target hosts (pattern, then --limit) and each host's
// merged vars for that play — what the static checks, the prechecks and the executor agree on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { loadInventory } from '../../runner/model/inventory.js';
import { loadPlaybook } from '../../runner/model/playbook.js';
import { Plan } from '../../runner/plan/index.js';
import { formatProblem } from '../../runner/errors.js';
import { testRegistry } from '../fixtures/model/registry.js';

const inv = loadInventory(resolve('test/fixtures/model/good/inventory.yml'), { home: '/h' });
const pb = loadPlaybook(resolve('test/fixtures/model/good/playbook.yml'), testRegistry(), inv);

test('hosts per play: the pattern, then --limit; an exclusion in the pattern holds', () => {
  const plan = new Plan(pb, inv);
  assert.equal(plan.plays.map((p) => p.hosts), [['node1', 'node2', 'node3'], []], 'lb1 is in zz, which the second play excludes');
  assert.equal(new Plan(pb, inv, { limit: ['node2'] }).plays[0]!.hosts, ['node2']);
  assert.equal(new Plan(pb, inv, { limit: ['node2'] }).targets(), ['node2']);
});

test('vars: a play\'s vars only in that play, -e above all; the same object for every task of the play', () => {
  const plan = new Plan(pb, inv, { extraVars: { fqdn: 'from-e' } });
  assert.is(plan.vars('node1', 0).level, 'play');
  assert.is(plan.vars('node1', 1).level, 'playbook', 'play 1 has no vars of its own');
  assert.is(plan.vars('node1').level, 'playbook', 'no play: playbook vars over the inventory');
  assert.is(plan.vars('node1', 0).fqdn, 'from-e');
  assert.is(plan.vars('node1', 0), plan.vars('node1', 0), 'merged once per host and play');
});

test('a pattern that matches nothing is a warning and an empty play; a malformed one is that play\'s problem', () => {
  const none = new Plan({ ...pb, plays: [{ ...pb.plays[0]!, hosts: ['nosuch'] }, pb.plays[0]!] }, inv);
  assert.equal(none.plays[0]!.hosts, []);
  assert.equal(none.plays[0]!.problems, []);
  assert.equal(none.warnings, ['Could not match supplied host pattern, ignoring: nosuch']);
  assert.equal(none.plays[1]!.hosts, ['node1', 'node2', 'node3']);
  const bad = new Plan({ ...pb, plays: [{ ...pb.plays[0]!, hosts: ['rancher[9]'] }, pb.plays[0]!] }, inv);
  assert.match(bad.plays[0]!.problems.map(formatProblem).join('\n'), /No hosts matched the subscripted pattern 'rancher\[9\]'/);
  assert.equal(bad.plays[1]!.hosts, ['node1', 'node2', 'node3']);
});

test.run();
