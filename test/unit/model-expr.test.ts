// `when:` expressions: evaluation, errors with columns, no way out to JS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evalExpr, evalWhen, parseExpr, ExprError } from '../../runner/model/expr.js';

const scope = {
  proxy: 'http://proxy:3128', n: 3, empty: [], none: null, os: { family: 'RedHat', version: '7.9' },
  nodes: ['node1', 'node2'], r: { rc: 0, stdout: 'Docker 20.10', changed: true }, zero: 0, blank: '',
};

function exprError(f: () => unknown): ExprError {
  try {
    f();
  } catch (e) {
    assert.instance(e, ExprError);
    return e as ExprError;
  }
  assert.unreachable('expected an ExprError');
  throw new Error('unreachable');
}

test('comparisons, membership, boolean logic, precedence', () => {
  const cases: [string, boolean][] = [
    ['n == 3', true], ['n != 3', false], ['n > 2 and n <= 3', true], ['n < 1 or n >= 3', true],
    ["os.family == 'RedHat'", true], ['os.version >= "7.0"', true],
    ["'node1' in nodes", true], ["'node9' not in nodes", true], ["'Docker' in r.stdout", true], ["'family' in os", true],
    ['nodes[1] == "node2"', true], ['nodes.0 == "node1"', true],
    ['not n == 3', false], ['!(n == 3) || true', true], ['n == 3 and not r.changed', false],
    ['true and false or true', true], ['true and (false or false)', false],
    ['[1, 2] == [1, 2]', true], ['n == -3', false], ['none is none', true],
  ];
  for (const [src, want] of cases) assert.is(evalWhen(src, scope), want, src);
});

test('truthiness like Jinja: empty list, empty string, 0 and null are false', () => {
  for (const f of ['empty', 'blank', 'zero', 'none']) assert.is(evalWhen(f, scope), false, f);
  assert.is(evalWhen('proxy', scope), true);
  assert.is(evalWhen('nodes is truthy', scope), true);
  assert.is(evalWhen('empty is not truthy', scope), true);
});

test('is defined / is not defined are the only ways to touch an unknown variable', () => {
  assert.is(evalWhen('missing is defined', scope), false);
  assert.is(evalWhen('missing is not defined', scope), true);
  assert.is(evalWhen('os.missing.deeper is defined', scope), false);
  assert.is(evalWhen('missing is defined and missing == 1', scope), false);
  const e = exprError(() => evalWhen('missing == 1', scope));
  assert.is(e.message, '"missing" is not defined (use "is defined" to test for it)');
  assert.is(e.col, 1);
  assert.match(exprError(() => evalWhen('n == 3 and os.nope', scope)).message, '"os.nope" is not defined');
});

test('syntax errors carry the column', () => {
  const cases: [string, number, string][] = [
    ['n ==', 5, 'unexpected end of expression'],
    ['(n == 3', 8, 'expected ")"'],
    ["'open", 1, 'unterminated string'],
    ['n = 3', 3, 'unexpected character "="'],
    ['n is weird', 6, 'expected defined, undefined, truthy or none'],
    ['', 1, 'empty expression'],
    ['n 3', 3, 'unexpected "3"'],
  ];
  for (const [src, col, msg] of cases) {
    const e = exprError(() => parseExpr(src));
    assert.is(e.col, col, src);
    assert.match(e.message, msg, src);
  }
});

test('no function calls, no prototype access, no constructor', () => {
  const attacks = [
    'proxy.toString()', 'constructor', 'proxy.constructor', "os['__proto__']", 'os.__proto__.polluted is defined',
    "nodes['constructor']['constructor']('return process')()", 'n.valueOf', 'process', 'globalThis is defined and globalThis',
    'require', "os['hasOwnProperty']",
  ];
  for (const a of attacks) {
    let result: unknown;
    try {
      result = evalExpr(a, scope);
    } catch (e) {
      assert.instance(e, ExprError, a);
      continue;
    }
    // The only non-error outcome allowed: "not defined" (e.g. `globalThis is defined` is false).
    assert.is(result, false, a);
  }
  assert.is(({} as Record<string, unknown>).polluted, undefined);
  const e = exprError(() => evalExpr('proxy.toString()', scope));
  assert.is(e.message, 'function calls are not allowed');
});

test('deep nesting is refused, not a stack overflow', () => {
  const deep = '('.repeat(2000) + '1' + ')'.repeat(2000);
  assert.match(exprError(() => parseExpr(deep)).message, 'nested too deeply');
  const nots = 'not '.repeat(1000) + 'true';
  assert.match(exprError(() => parseExpr(nots)).message, 'nested too deeply');
});

test.run();
