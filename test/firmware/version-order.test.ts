import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareFirmwareVersions, isDowngrade } from '../../src/firmware/version-order.ts';

const numericVersion = fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.'));
const version = fc.oneof(
  numericVersion,
  fc.tuple(numericVersion, fc.stringMatching(/^[0-9A-Za-z][0-9A-Za-z.-]{0,8}$/)).map(([v, pre]) => `${v}-${pre}`),
  numericVersion.map((v) => `v${v}`),
  fc.string({ maxLength: 12 }),
);

test('known orderings', () => {
  const ascending = ['0.9.9', '1.0.0-alpha', '1.0.0-alpha.2', '1.0.0-alpha.10', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2', '1.10.0', '2.0.0'];
  for (let i = 1; i < ascending.length; i++) {
    assert.equal(compareFirmwareVersions(ascending[i - 1]!, ascending[i]!), -1, `${ascending[i - 1]} < ${ascending[i]}`);
  }
  assert.equal(compareFirmwareVersions('v1.2', '1.2.0'), 0);
  assert.equal(compareFirmwareVersions('1.2.0+build7', '1.2.0'), 0);
  assert.equal(compareFirmwareVersions('18446744073709551617.0', '18446744073709551616.9'), 1, 'no precision loss');
  assert.ok(isDowngrade('1.9.0', '1.10.0'));
  assert.ok(!isDowngrade('1.10.0', '1.9.0'));
  assert.ok(!isDowngrade('2.0.0', '2.0.0'));
});

test('a total order: reflexive, antisymmetric, transitive', () => {
  fc.assert(fc.property(version, (a) => assert.equal(compareFirmwareVersions(a, a), 0)));
  fc.assert(fc.property(version, version, (a, b) => {
    assert.equal(compareFirmwareVersions(a, b), -compareFirmwareVersions(b, a) || 0);
  }));
  fc.assert(fc.property(version, version, version, (a, b, c) => {
    const sorted = [a, b, c].sort(compareFirmwareVersions);
    assert.ok(compareFirmwareVersions(sorted[0]!, sorted[2]!) <= 0);
    assert.ok(compareFirmwareVersions(sorted[0]!, sorted[1]!) <= 0 && compareFirmwareVersions(sorted[1]!, sorted[2]!) <= 0);
  }), { numRuns: 500 });
});

test('raising any numeric part is an upgrade, never a downgrade', () => {
  fc.assert(fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 50 }), (parts, n, by) => {
    const index = n % parts.length;
    const raised = parts.map((part, i) => i === index ? part + by : i > index ? 0 : part);
    assert.ok(isDowngrade(parts.join('.'), raised.join('.')));
    assert.ok(!isDowngrade(raised.join('.'), parts.join('.')));
  }));
});

test('a release sorts after its pre-releases whatever they are called; pre-releases compare both ways', () => {
  // Names that sort after the text "undefined": a missing pre-release must not be compared as text.
  assert.equal(compareFirmwareVersions('1.0.0', '1.0.0-zeta'), 1);
  assert.equal(compareFirmwareVersions('1.0.0-zeta', '1.0.0'), -1);
  assert.ok(isDowngrade('1.0.0-zeta', '1.0.0'));
  assert.ok(!isDowngrade('1.0.0', '1.0.0-zeta'));
  assert.equal(compareFirmwareVersions('1.0.0-rc.2', '1.0.0-rc.1'), 1);
  assert.equal(compareFirmwareVersions('1.0.0-rc.1', '1.0.0-rc.2'), -1);
  // The collator calls rc.01 and rc.1 equal; code-unit order still tells them apart, both ways.
  assert.equal(compareFirmwareVersions('1.0.0-rc.01', '1.0.0-rc.1'), -1);
  assert.equal(compareFirmwareVersions('1.0.0-rc.1', '1.0.0-rc.01'), 1);
});

test('a longer version with a non-zero tail is newer; a zero tail is the same version', () => {
  assert.equal(compareFirmwareVersions('1.2', '1.2.1'), -1);
  assert.equal(compareFirmwareVersions('1.2.0.1', '1.2'), 1);
  assert.equal(compareFirmwareVersions('1.2.0.0', '1.2'), 0);
  assert.ok(isDowngrade('1.2', '1.2.0.1'));
});

test('only a whole version string is read as a version; surrounding blanks are ignored', () => {
  assert.equal(compareFirmwareVersions(' 2.0.0\n', '2.0.0'), 0);
  // Text around a version makes it text, which sorts below every version.
  assert.equal(compareFirmwareVersions('release-9.0', '1.0'), -1);
  assert.equal(compareFirmwareVersions('9.0-', '1.0'), -1);
  assert.equal(compareFirmwareVersions('9.0 final', '1.0'), -1);
  assert.ok(isDowngrade('release-9.0', '1.0'));
});
