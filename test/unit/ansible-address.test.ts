// parse_address's quick path for plain ASCII names must accept exactly what the full (Unicode,
// case-insensitive) patterns accept.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { isAddress, parseAddress } from '../../runner/model/ansible/address.js';

// Strings of the quick path's characters (no `:`, so no port is taken off), biased to dots.
const plain = fc.string({ unit: fc.constantFrom(...'aZ09_-...'.split('')), maxLength: 12 });

test('plain names: the quick path agrees with the full patterns', () => {
  fc.assert(fc.property(fc.oneof(plain, fc.stringMatching(/^[A-Za-z0-9_.-]{0,12}$/)), (s) => {
    assert.is(parseAddress(s) !== undefined, isAddress(s), JSON.stringify(s));
  }), { numRuns: 5000 });
});

test('examples', () => {
  for (const ok of ['node1', 'a', '10.0.0.11', 'rancher.lab.test', 'a_b.c-d', '1.2.3.999', 'x1']) assert.ok(parseAddress(ok), ok);
  for (const bad of ['', '_', 'a-', 'a_', '.a', 'a..b', 'a.', '-a']) assert.is(parseAddress(bad), undefined, bad);
  assert.equal(parseAddress('node1:2222'), { host: 'node1', port: 2222 });
});

test.run();
