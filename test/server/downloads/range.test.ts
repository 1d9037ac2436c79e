import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseRange } from '../../../src/server/downloads/range.ts';

test('Range headers (RFC 9110)', () => {
  assert.equal(parseRange(undefined, 100), undefined);
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=90-1000', 100), { start: 90, end: 99 }, 'an end past the file is clamped');
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined, 'several ranges: the whole file');
  assert.equal(parseRange('items=0-1', 100), undefined);
  assert.equal(parseRange('bytes=5-1', 100), undefined, 'invalid: ignored');
  assert.equal(parseRange('bytes=-', 100), undefined);
});

test('any satisfiable range lies inside the file', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.option(fc.nat()), fc.option(fc.nat()), (size, first, last) => {
    const header = `bytes=${first ?? ''}-${last ?? ''}`;
    const range = parseRange(header, size);
    if (range === undefined || range === 'unsatisfiable') return;
    assert.ok(range.start >= 0 && range.start <= range.end && range.end < size, `${header} of ${size}: ${JSON.stringify(range)}`);
  }));
});
