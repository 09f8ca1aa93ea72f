// renderString joins text and plain `{{ a.b }}`s itself instead of having Handlebars generate and
// compile a function: for every template and scope, it must give what Handlebars gives (strict,
// no escaping), and fail where Handlebars fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import Handlebars from 'handlebars';
import { parsedForTests, renderString, renderValue, templateRefs, TemplateError } from '../../runner/model/template.js';

// Handlebars' own helpers only: the templates below use no helper of ours. Stock Handlebars
// *adds* a template's first two values when neither is a string (`{{a}}{{b}}` with 1 and 2
// renders 3, false and false 0); renderString joins them as text, as Jinja would. So the
// reference renders the template after a line of text of its own, which makes Handlebars join,
// and takes that line off again (a `{{~` at the start, after blanks or not, strips its newline).
const reference = Handlebars.create();
const hbRender = (t: string, scope: object): { out: string } | { error: true } => {
  try {
    const out = reference.compile(`#\n${t}`, { strict: true, noEscape: true })(scope, { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false });
    return { out: out.slice(/^\s*\{\{~/.test(t) ? 1 : 2) };
  } catch {
    return { error: true };
  }
};
const ours = (t: string, scope: object): { out: string } | { error: true } => {
  try {
    return { out: renderString(t, scope as Record<string, unknown>) };
  } catch (e) {
    assert.instance(e, TemplateError);
    return { error: true };
  }
};

const leaf = fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.double({ noNaN: false }), fc.boolean(), fc.constant(null), fc.constant(undefined));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'x', '0', 'n-1'), tie('v'), { maxKeys: 3 })),
})).v;
const scope = fc.dictionary(fc.constantFrom('a', 'b', 'host', 'port', 'list', 'n-1', 'x', 'lookup'), value, { maxKeys: 6 });

const path = fc.constantFrom('a', 'b', 'host', 'port', 'x', 'n-1', 'lookup', 'a.b', 'a.x', 'list.0', 'list.1', 'a.0.b', 'missing', 'a.missing.b',
  'this.a', './a', 'this', 'a.[b]', 'list.[0]', '@root.a', '../a', 'a/b',
  // Names Handlebars' lexer reads as keywords or literals, refused names, odd spellings.
  'true', 'false', 'null', 'undefined', 'else', 'as', 'a.this', 'a.true', 'a.-b', 'a.-1', 'a.1b', 'list.0.x', '_a', 'a_1', 'a-', 'a..b', 'a.');
const mustache = fc.tuple(fc.constantFrom('{{ %s }}', '{{%s}}', '{{{%s}}}', '{{& %s}}', '{{~ %s ~}}', '{{~%s}}', '{{%s~}}'), path).map(([f, p]) => f.replace('%s', p));
const other = fc.constantFrom('{{! a comment }}', '{{!-- long --}}', '{{#if a}}A{{/if}}', '{{#each list}}[{{this}}]{{/each}}', '{{ lookup a "b" }}', '{{#with a}}{{b}}{{/with}}', '{{ a b }}', '{{ true }}', '{{ 1 }}', '{{ "s" }}');
const text = fc.string({ unit: fc.constantFrom('x', ' ', '\n', '\t', '-', ':', '/', '}', '{', '.', 'é', '\\', '~'), maxLength: 5 });
const inner = fc.array(fc.oneof({ weight: 3, arbitrary: mustache }, { weight: 2, arbitrary: text }), { maxLength: 3 }).map((xs) => xs.join(''));
// `{{#if}}` / `{{#unless}}` blocks, well formed or not, with text (newlines too: Handlebars strips
// the lines of block tags that stand alone) and mustaches inside.
const block = fc.tuple(
  fc.constantFrom('{{#if %s}}', '{{#unless %s}}', '{{#if  %s  }}', '{{# if %s}}', '{{#if %s~}}'), path, inner,
  fc.constantFrom('', '{{else}}', '{{ else }}', '{{^}}', '{{else if b}}', '{{else}}{{else}}'), inner,
  fc.constantFrom('{{/if}}', '{{/unless}}', '{{/ if }}', ''),
).map(([open, p, a, e, b, close]) => `${open.replace('%s', p)}${a}${e}${e ? b : ''}${close || (open.includes('unless') ? '{{/unless}}' : '{{/if}}')}`);
const template = fc.array(fc.oneof({ weight: 3, arbitrary: mustache }, { weight: 2, arbitrary: text }, { weight: 1, arbitrary: other }, { weight: 2, arbitrary: block }), { minLength: 1, maxLength: 6 }).map((xs) => xs.join(''));

test('any template, any scope: the same output as Handlebars, or an error where it fails', () => {
  fc.assert(fc.property(template, scope, (t, s) => {
    if (!t.includes('{{')) return;
    assert.equal(ours(t, s), hbRender(t, s), JSON.stringify({ t, s }));
  }), { numRuns: 4000 });
});

test('the names a template reads are those Handlebars\' parser finds, for plain templates too', () => {
  fc.assert(fc.property(template, (t) => {
    let want: string[] | 'error';
    try {
      want = parsedForTests(t).refs;
    } catch {
      want = 'error';
    }
    let got: string[] | 'error';
    try {
      got = templateRefs(t);
    } catch {
      got = 'error';
    }
    if (want === 'error' || got === 'error') assert.is(got === 'error' || !t.includes('{{'), want === 'error' || !t.includes('{{'), t);
    else if (t.includes('{{')) assert.equal(got, want, t);
  }), { numRuns: 4000 });
});

test('if and unless blocks read without the parser: Handlebars\' truth, branches, guarded names, standalone lines', () => {
  const templates = ['{{#if a}}X{{else}}Y{{/if}}', '{{#unless a}}X{{else}}Y{{/unless}}', '[{{#if a.b}}{{ a.b }}{{/if}}]', '{{#if a}}{{ c }}{{else}}-{{/if}}',
    '{{#unless a}}{{ c }}{{/unless}}', 'x\n{{#if a}}\nX\n{{/if}}\ny', 'x\n  {{#unless a}}\n  X\n  {{else}}\n  Y\n  {{/unless}}\n', '{{#if a}}{{#if c}}AC{{else}}A{{/if}}{{/if}}'];
  const scopes = [{}, { a: [] }, { a: [0] }, { a: 0 }, { a: '' }, { a: 'x' }, { a: null }, { a: {} }, { a: { b: [] } }, { a: { b: 'q' } }, { a: 'str', c: 1 }, { a: true, c: 'C' }, { a: Number.NaN }];
  for (const t of templates) for (const s of scopes) assert.equal(ours(t, s), hbRender(t, s), JSON.stringify({ t, s }));
  // A name that only a test guards is not required; `unless` guards its else-branch.
  assert.equal(templateRefs('{{#if a}}{{ a }}{{ c }}{{/if}}'), ['c']);
  assert.equal(templateRefs('{{#unless a}}{{ a }}{{else}}{{ a }}{{/unless}}'), ['a']);
  assert.equal(templateRefs('{{#unless a}}{{ a }}{{else}}{{ a }}{{/unless}}'), parsedForTests('{{#unless a}}{{ a }}{{else}}{{ a }}{{/unless}}').refs);
});

test('plain templates render from the scope, keep number and boolean spellings, and refuse what is not there', () => {
  const s = { host: 'rancher.lab.test', port: 8443, on: false, list: ['a', 'b'], n: { x: 1.5 }, nothing: null, obj: { a: 1 } };
  assert.is(renderString('https://{{ host }}:{{ port }}/ {{~ n.x }} {{n.x}} {{{on}}}', s), 'https://rancher.lab.test:8443/1.5 1.5 false');
  assert.is(renderString('{{! note }}[{{ nothing }}]', s), '[]');
  // Two values side by side are text side by side (Handlebars alone gives 3 and 0 here).
  assert.is(renderString('{{ a }}{{ b }}', { a: 1, b: 2 }), '12');
  assert.is(renderString('{{ a }}{{ a }}', { a: false }), 'falsefalse');
  assert.is(renderString('{{ default a 1 }}{{ b }}{{#if b}}{{ b }}{{ b }}{{/if}}', { b: 2 }), '1222');
  assert.throws(() => renderString('x{{ nowhere }}', s), (e: unknown) => e instanceof TemplateError && /missing variable "nowhere"/.test(e.message));
  assert.throws(() => renderString('x{{ obj.b }}', s), (e: unknown) => e instanceof TemplateError);
  // A helper's name is still the helper, not a variable of that name.
  assert.is(renderString('{{ json obj }}', { ...s, json: 'no' }), '{"a":1}');
  assert.is(renderValue('{{ port }}', s), 8443);
});

test.run();
