// Templates: strict, typed whole values, helpers, no escape hatch into JS internals.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { renderString, renderValue, templateRefs, TemplateError } from '../../runner/model/template.js';

const scope = {
  n: 3, list: ['a', 'b'], obj: { k: 'v', deep: { x: 1 } }, flag: false, name: 'node1',
  pem: '-----BEGIN CERTIFICATE-----\n' + 'A'.repeat(200) + '\n-----END CERTIFICATE-----\n',
};
const pos = { file: 'p.yml', line: 7, col: 12 };

function templateError(f: () => unknown): TemplateError {
  try {
    f();
  } catch (e) {
    assert.instance(e, TemplateError);
    return e as TemplateError;
  }
  assert.unreachable('expected a TemplateError');
  throw new Error('unreachable');
}

test('a whole-value template keeps the type of what it refers to', () => {
  assert.is(renderValue('{{ n }}', scope), 3);
  assert.equal(renderValue('{{list}}', scope), ['a', 'b']);
  assert.equal(renderValue('{{ obj.deep }}', scope), { x: 1 });
  assert.is(renderValue('{{ flag }}', scope), false);
  assert.is(renderValue('{{ list.[1] }}', scope), 'b');
  assert.is(renderValue('n={{ n }}', scope), 'n=3');
  assert.equal(renderValue({ a: ['{{n}}', 'x{{name}}'], b: 'plain' }, scope), { a: [3, 'xnode1'], b: 'plain' });
});

test('strict: a missing variable is an error naming it, the position and the key', () => {
  const e = templateError(() => renderValue({ cmd: 'echo {{ fqdn }}' }, scope, { pos, key: 'command' }));
  assert.is(e.message, 'missing variable "fqdn" in "echo {{ fqdn }}"');
  assert.equal(e.pos, pos);
  assert.is(e.key, 'command.cmd');
  assert.match(templateError(() => renderString('{{obj.nope}}', scope)).message, 'missing variable "obj.nope"');
  assert.match(templateError(() => renderValue('{{ obj.deep.y }}', scope)).message, 'missing variable "obj.deep.y"');
  assert.is(renderString('{{#if missing}}yes{{else}}no{{/if}}', scope), 'no');
  assert.is(renderString('{{default missing "fallback"}}', scope), 'fallback');
});

test('b64 has no line breaks; b64file reads relative to the playbook dir', () => {
  const long = renderString('{{b64 pem}}', scope);
  assert.ok(long.length > 76);
  assert.not.ok(/\s/.test(long));
  assert.is(Buffer.from(long, 'base64').toString(), scope.pem);
  const dir = mkdtempSync(join(tmpdir(), 'rp-tpl-'));
  writeFileSync(join(dir, 'ca.pem'), scope.pem);
  const out = renderString('cacerts: {{b64file "ca.pem"}}', { __dir: dir });
  assert.is(out, `cacerts: ${Buffer.from(scope.pem).toString('base64')}`);
  assert.match(templateError(() => renderString('{{b64file "nope.pem"}}', { __dir: dir })).message, 'b64file: cannot read "nope.pem"');
});

test('indent: value and block forms indent every line but the first', () => {
  assert.is(renderString('key: |\n    {{indent 4 pem}}', scope).split('\n')[2], '    ' + 'A'.repeat(200));
  assert.is(renderString('{{#indent 2}}a\nb\nc{{/indent}}', scope), 'a\n  b\n  c');
  const doc = parse(renderString('cert: |\n  {{indent 2 pem}}', scope)) as { cert: string };
  assert.is(doc.cert, scope.pem);
});

test('yaml quoting round-trips hostile strings through the YAML parser', () => {
  const nasty = ['a: b', '#comment', "it's \"quoted\"", '- list', '{x: 1}', 'multi\nline\ttab', '*alias', '!tag', 'yes', '0x1F', '', '  lead', 'é ✓'];
  for (const s of nasty) {
    const text = renderString('value: {{yaml v}}', { v: s });
    assert.equal((parse(text) as { value: unknown }).value, s, text);
  }
  assert.is(renderString('{{yaml n}}', scope), '3');
});

test('json, join, default, eq, ne', () => {
  assert.is(renderString('{{json obj}}', scope), '{"k":"v","deep":{"x":1}}');
  assert.is(renderString('{{join list ", "}}', scope), 'a, b');
  assert.is(renderString('{{#if (eq name "node1")}}first{{/if}}{{#if (ne n 3)}}x{{/if}}', scope), 'first');
  assert.is(renderString('<{{name}}&>', scope), '<node1&>'); // no HTML escaping
});

test('template injection attempts cannot reach JS internals', () => {
  const attacks = [
    '{{constructor}}',
    '{{constructor.constructor}}',
    '{{obj.constructor.name}}',
    '{{obj.__proto__}}',
    '{{lookup this "constructor"}}',
    '{{lookup obj "__proto__"}}',
    '{{#with "s" as |string|}}{{#with string.constructor}}{{this}}{{/with}}{{/with}}',
    '{{#with this}}{{#with (lookup this "constructor")}}{{this}}{{/with}}{{/with}}',
    '{{#each obj}}{{@key.constructor}}{{/each}}',
    '{{> evil}}',
    '{{name.toString}}',
    '{{#with "x"}}{{split}}{{/with}}',
  ];
  for (const a of attacks) {
    const e = templateError(() => renderValue(a, scope));
    assert.not.match(e.message, /\n\s+at /); // never a stack
    assert.ok(e.message.length < 400);
  }
});

test('templateRefs lists the top-level names a template needs (not tested/defaulted ones)', () => {
  assert.equal(templateRefs('{{a.b}} {{b64 c}} {{#each d}}{{e}}{{../f}}{{/each}} {{#if g}}{{g.h}}{{/if}} {{default i "x"}}').sort(), ['a', 'c', 'd', 'f']);
  assert.equal(templateRefs('plain'), []);
});

test.run();
