/**
 * The authenticator's and the Secured I-PDU layout's edges (found by mutation testing, docs/testing.md): the
 * accepted ranges end exactly where the types do, and the refusals say what was wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SecOcInputError, SecOcProfileError, buildSecuredPdu, computeMac, parseSecuredPdu, truncateMac, type SecOcProfile,
} from '../../../src/can/secoc/index.ts';

const key = Uint8Array.from({ length: 32 }, (_, i) => i * 3);
const MAX = (1n << 64n) - 1n;

test('data ids 0..0xFFFF and freshness 0..2^64 - 1 are accepted, nothing beyond, and the errors say so', () => {
  assert.equal(computeMac(key, 0, new Uint8Array(), 0n).length, 32);
  assert.equal(computeMac(key, 0xffff, new Uint8Array(), MAX).length, 32);
  assert.throws(() => computeMac(key, 1.5, new Uint8Array(), 1n), { name: 'SecOcInputError', message: 'data id must be 16-bit, got 1.5' });
  assert.throws(() => computeMac(key, 0x10000, new Uint8Array(), 1n), { message: 'data id must be 16-bit, got 65536' });
  assert.throws(() => computeMac(key, 1, new Uint8Array(), MAX + 1n), { message: `freshness must be 64-bit unsigned, got ${MAX + 1n}` });
  assert.throws(() => computeMac(key, 1, new Uint8Array(), -1n), SecOcInputError);
});

test('the data id is written big-endian in full, and the freshness is all 64 bits', () => {
  // Ids and freshness values that agree in their low byte give different MACs.
  assert.notDeepEqual(computeMac(key, 0x0130, Uint8Array.of(1), 5n), computeMac(key, 0x0230, Uint8Array.of(1), 5n));
  assert.notDeepEqual(computeMac(key, 0x30, Uint8Array.of(1), 5n), computeMac(key, 0x3000, Uint8Array.of(1), 5n));
  assert.notDeepEqual(computeMac(key, 0x30, Uint8Array.of(1), 5n), computeMac(key, 0x30, Uint8Array.of(1), (1n << 56n) + 5n));
  // Where the payload ends and the freshness begins is part of the MAC.
  assert.notDeepEqual(computeMac(key, 0x30, Uint8Array.of(1, 0), 5n), computeMac(key, 0x30, Uint8Array.of(1), 5n));
});

test('truncation: 1 bit keeps the top bit; fractional or out-of-range bit counts are refused with the reason', () => {
  const mac = Uint8Array.of(0xff, 0x00);
  assert.deepEqual([...truncateMac(mac, 1)], [0x80]);
  assert.deepEqual([...truncateMac(mac, 7)], [0xfe]);
  assert.deepEqual([...truncateMac(mac, 9)], [0xff, 0x00]);
  assert.deepEqual([...truncateMac(Uint8Array.of(0xab, 0xff), 9)], [0xab, 0x80]);
  assert.deepEqual([...truncateMac(Uint8Array.of(0xab, 0xff), 15)], [0xab, 0xfe]);
  assert.throws(() => truncateMac(mac, 8.5), { name: 'SecOcInputError', message: 'cannot truncate a 16-bit MAC to 8.5 bits' });
  assert.throws(() => truncateMac(mac, 17), { message: 'cannot truncate a 16-bit MAC to 17 bits' });
  // The input is left as it was.
  const full = Uint8Array.of(0xab, 0xff);
  truncateMac(full, 12);
  assert.deepEqual([...full], [0xab, 0xff]);
});

test('building with a profile that cannot be laid out on bytes is refused', () => {
  const profile: SecOcProfile = { name: 'odd', macBits: 24, freshnessBits: 12 };
  assert.throws(() => buildSecuredPdu(key, 1, new Uint8Array(4), 1n, profile), SecOcProfileError);
});

test('layout with 16 and 64 freshness bits: big-endian, most significant byte first', () => {
  const sixteen: SecOcProfile = { name: 'sixteen', macBits: 8, freshnessBits: 16 };
  const pdu = buildSecuredPdu(key, 1, Uint8Array.of(0xaa), 0x12_3456n, sixteen);
  assert.deepEqual([...pdu.subarray(0, 3)], [0xaa, 0x34, 0x56]);
  assert.equal(pdu.length, 4);
  assert.equal(parseSecuredPdu(pdu, sixteen)!.truncatedFreshness, 0x3456n);
  const full: SecOcProfile = { name: 'full', macBits: 8, freshnessBits: 64 };
  const long = buildSecuredPdu(key, 1, new Uint8Array(), 0x0102_0304_0506_0708n, full);
  assert.deepEqual([...long.subarray(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(parseSecuredPdu(long, full)!.truncatedFreshness, 0x0102_0304_0506_0708n);
  // No freshness transmitted at all (a profile with 0 bits): the PDU is payload ‖ MAC.
  const none: SecOcProfile = { name: 'none', macBits: 16, freshnessBits: 0 };
  const bare = buildSecuredPdu(key, 1, Uint8Array.of(7), 9n, none);
  assert.equal(bare.length, 3);
  assert.deepEqual(parseSecuredPdu(bare, none), { authenticPdu: Uint8Array.of(7), truncatedFreshness: 0n, truncatedMac: bare.subarray(1) });
});

test('parse: exactly freshness + MAC is an empty Authentic I-PDU; the requested authentic length is exact', () => {
  const profile: SecOcProfile = { name: 'p', macBits: 24, freshnessBits: 8 };
  assert.deepEqual(parseSecuredPdu(Uint8Array.of(1, 2, 3, 4), profile), {
    authenticPdu: new Uint8Array(), truncatedFreshness: 1n, truncatedMac: Uint8Array.of(2, 3, 4),
  });
  assert.equal(parseSecuredPdu(Uint8Array.of(1, 2, 3, 4), profile, 0)!.authenticPdu.length, 0);
  assert.equal(parseSecuredPdu(Uint8Array.of(1, 2, 3, 4, 5), profile, 0), null);
  assert.equal(parseSecuredPdu(Uint8Array.of(1, 2, 3), profile), null);
});
