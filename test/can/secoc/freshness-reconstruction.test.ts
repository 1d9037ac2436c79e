import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { freshnessCandidates, replayCandidate } from '../../../src/can/secoc/index.ts';

test('AUTOSAR\'s rule: received low bits greater than the latest\'s keep the upper part, otherwise upper + 1', () => {
  assert.deepEqual(freshnessCandidates(0x1210n, 0x20n, 8), [0x1220n]);
  assert.deepEqual(freshnessCandidates(0x1210n, 0x10n, 8), [0x1310n], 'equal low bits: the next wrap');
  assert.deepEqual(freshnessCandidates(0x12ffn, 0x00n, 8), [0x1300n]);
  assert.deepEqual(freshnessCandidates(0n, 1n, 8), [1n]);
  assert.deepEqual(freshnessCandidates(0x1210n, 0x05n, 8, 3), [0x1305n, 0x1405n, 0x1505n], 'further attempts: the next upper parts');
});

test('full 64-bit freshness: the received value, only when newer', () => {
  assert.deepEqual(freshnessCandidates(10n, 11n, 64), [11n]);
  assert.deepEqual(freshnessCandidates(10n, 10n, 64), []);
  assert.deepEqual(freshnessCandidates(10n, 3n, 64, 17), []);
});

test('candidates never pass the 64-bit maximum', () => {
  const max = (1n << 64n) - 1n;
  assert.deepEqual(freshnessCandidates(max - 1n, 0xffn, 8, 5), [max]);
  assert.deepEqual(freshnessCandidates(max, 0x00n, 8, 5), []);
});

test('every value up to one wrap ahead is found by the first candidate, up to k wraps by k + 1 attempts', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 1n << 60n }), fc.bigInt({ min: 1n, max: 256n }), (latest, ahead) => {
    const value = latest + ahead;
    assert.deepEqual(freshnessCandidates(latest, value & 0xffn, 8), [value]);
  }));
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 1n << 60n }), fc.bigInt({ min: 1n, max: 16n * 256n }), (latest, ahead) => {
    const value = latest + ahead;
    const candidates = freshnessCandidates(latest, value & 0xffn, 8, 17);
    assert.ok(candidates.includes(value));
    assert.ok(candidates.every((candidate) => candidate > latest), 'never a value already accepted');
  }));
});

test('the replay candidate is the value at or below the latest with the same low bits', () => {
  fc.assert(fc.property(fc.bigInt({ min: 0n, max: 1n << 60n }), fc.bigInt({ min: 0n, max: 255n }), (latest, behind) => {
    const value = latest - behind;
    if (value < 0n) return;
    assert.equal(replayCandidate(latest, value & 0xffn, 8), value);
  }));
  assert.equal(replayCandidate(5n, 9n, 8), null, 'nothing that old');
  assert.equal(replayCandidate(10n, 3n, 64), 3n);
  assert.equal(replayCandidate(10n, 11n, 64), null);
});
