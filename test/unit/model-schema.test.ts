// The published JSON Schemas (`rancher-play schema inventory|playbook`) agree with the loaders.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolve } from 'node:path';
import { inventorySchema, playbookSchema, schemaProblems } from '../../runner/model/schema.js';
import { loadYamlFile, parseYaml } from '../../runner/model/yamlsrc.js';
import { formatProblem } from '../../runner/errors.js';
import { testRegistry } from '../fixtures/model/registry.js';
import { Registry } from '../../runner/engine/registry.js';
import { checkDocker } from '../fixtures/model/registry.js';

const tasks = testRegistry().list();

test('schemas are self-describing JSON Schemas', () => {
  for (const s of [inventorySchema(), playbookSchema(tasks)]) {
    assert.is(s.$schema, 'http://json-schema.org/draft-07/schema#');
    assert.type(s.title, 'string');
    assert.is(s.additionalProperties, false);
    JSON.parse(JSON.stringify(s)); // printable as JSON
  }
});

test('the good fixtures satisfy the published schemas', () => {
  assert.equal(schemaProblems(inventorySchema(), loadYamlFile(resolve('test/fixtures/model/good/inventory.yml')), 'inventory'), []);
  assert.equal(schemaProblems(playbookSchema(tasks), loadYamlFile(resolve('test/fixtures/model/good/playbook.yml')), 'playbook'), []);
});

test('the published playbook schema rejects unknown tasks and wrong params (for editors)', () => {
  const src = parseYaml('plays:\n  - hosts: all\n    tasks:\n      - check-docker: { min_version: 1 }\n      - nope: {}\n', 'e.yml');
  const lines = schemaProblems(playbookSchema(tasks), src, 'playbook').map(formatProblem);
  assert.ok(lines.includes('e.yml:4:25 plays.0.tasks.0.check-docker.min_version must be string'), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('e.yml:5:9 plays.0.tasks.1.nope unknown key "nope"')), lines.join('\n'));
});

test('registry: duplicate ids name both sources; built-ins cannot be shadowed', () => {
  const r = new Registry();
  r.add(checkDocker, 'builtin');
  assert.throws(() => r.add(checkDocker, 'tasks/check-docker.ts'), /tasks\/check-docker\.ts shadows the built-in/);
  r.add({ ...checkDocker, id: 'mine' } as typeof checkDocker, 'tasks/a.ts');
  assert.throws(() => r.add({ ...checkDocker, id: 'mine' } as typeof checkDocker, 'tasks/b.ts'), /in tasks\/a\.ts and in tasks\/b\.ts/);
  assert.equal(r.ids(), ['check-docker', 'mine']);
  assert.is(r.source('mine'), 'tasks/a.ts');
});

test.run();
