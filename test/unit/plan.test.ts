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

test('a bad host pattern is that play\'s problem, with its position; the other plays are planned', () => {
  const bad = { ...pb, plays: [{ ...pb.plays[0]!, hosts: ['nosuch'] }, pb.plays[0]!] };
  const plan = new Plan(bad, inv);
  assert.equal(plan.plays[0]!.hosts, []);
  assert.match(plan.plays[0]!.problems.map(formatProblem).join('\n'), /nosuch/);
  assert.equal(plan.plays[1]!.hosts, ['node1', 'node2', 'node3']);
});

test.run();
