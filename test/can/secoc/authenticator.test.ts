import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DIAGNOSTIC_PROFILE, STATUS_FRAME_PROFILE, SecOcInputError, SecOcProfileError, buildSecuredPdu, checkProfile, computeMac,
  macEquals, parseSecuredPdu, securityOverheadBytes, truncateFreshness, truncateMac,
} from '../../../src/can/secoc/index.ts';

const key = Uint8Array.from({ length: 32 }, (_, i) => i);

test('the MAC is HMAC-SHA256 over data id (BE16) ‖ payload ‖ freshness (BE64), as Python\'s hmac computes it', () => {
  // python3: hmac.new(bytes(range(32)), (0x530).to_bytes(2,'big') + bytes([2,0,1,0x10]) + (0x1234).to_bytes(8,'big'), hashlib.sha256)
  const mac = computeMac(key, 0x530, Uint8Array.of(2, 0, 1, 0x10), 0x1234n);
  assert.equal(Buffer.from(mac).toString('hex'), '0ef4887d81587f875c97bda2636f401109574ebf70eef22744beae688e2c54b3');
});

test('every input changes the MAC: data id, payload, freshness, key', () => {
  const base = computeMac(key, 0x530, Uint8Array.of(1, 2, 3), 7n);
  assert.ok(!macEquals(base, computeMac(key, 0x531, Uint8Array.of(1, 2, 3), 7n)));
  assert.ok(!macEquals(base, computeMac(key, 0x530, Uint8Array.of(1, 2, 4), 7n)));
  assert.ok(!macEquals(base, computeMac(key, 0x530, Uint8Array.of(1, 2, 3), 8n)));
  assert.ok(!macEquals(base, computeMac(Uint8Array.of(...key.subarray(1), 99), 0x530, Uint8Array.of(1, 2, 3), 7n)));
  assert.ok(macEquals(base, computeMac(key, 0x530, Uint8Array.of(1, 2, 3), 7n)));
});

test('out-of-range data ids and freshness values are programming errors', () => {
  assert.throws(() => computeMac(key, 0x10000, new Uint8Array(), 1n), SecOcInputError);
  assert.throws(() => computeMac(key, -1, new Uint8Array(), 1n), SecOcInputError);
  assert.throws(() => computeMac(key, 1, new Uint8Array(), 1n << 64n), SecOcInputError);
  assert.throws(() => computeMac(key, 1, new Uint8Array(), -1n), SecOcInputError);
});

test('truncation keeps the leading bits; a partial byte keeps its high bits', () => {
  const mac = Uint8Array.of(0xab, 0xcd, 0xef, 0x12);
  assert.deepEqual([...truncateMac(mac, 24)], [0xab, 0xcd, 0xef]);
  assert.deepEqual([...truncateMac(mac, 12)], [0xab, 0xc0]);
  assert.deepEqual([...truncateMac(mac, 32)], [...mac]);
  assert.throws(() => truncateMac(mac, 33), SecOcInputError);
  assert.throws(() => truncateMac(mac, 0), SecOcInputError);
  assert.equal(truncateFreshness(0x1234n, 8), 0x34n);
  assert.equal(truncateFreshness(0x1234n, 64), 0x1234n);
});

test('macEquals: equal only for the same bytes and the same length', () => {
  assert.equal(macEquals(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3)), true);
  assert.equal(macEquals(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4)), false);
  assert.equal(macEquals(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2)), false);
});

test('profiles: status frames add 4 bytes (8-byte classic frame with a 4-byte payload), diagnostics 24', () => {
  assert.equal(securityOverheadBytes(STATUS_FRAME_PROFILE), 4);
  assert.equal(securityOverheadBytes(DIAGNOSTIC_PROFILE), 24);
  assert.throws(() => checkProfile({ name: 'odd', macBits: 20, freshnessBits: 8 }), SecOcProfileError);
  assert.throws(() => checkProfile({ name: 'long', macBits: 24, freshnessBits: 72 }), SecOcProfileError);
  assert.throws(() => checkProfile({ name: 'none', macBits: 0, freshnessBits: 8 }), SecOcProfileError);
});

test('a status-frame Secured I-PDU is payload ‖ low freshness byte ‖ 3 MAC bytes', () => {
  const payload = Uint8Array.of(2, 0, 1, 0x10);
  const pdu = buildSecuredPdu(key, 0x530, payload, 0x1234n, STATUS_FRAME_PROFILE);
  assert.equal(Buffer.from(pdu).toString('hex'), `02000110340ef488`);
  assert.deepEqual(parseSecuredPdu(pdu, STATUS_FRAME_PROFILE, 4), {
    authenticPdu: payload, truncatedFreshness: 0x34n, truncatedMac: Uint8Array.of(0x0e, 0xf4, 0x88),
  });
  assert.equal(parseSecuredPdu(pdu, STATUS_FRAME_PROFILE, 5), null, 'wrong authentic length');
  assert.equal(parseSecuredPdu(pdu.subarray(0, 3), STATUS_FRAME_PROFILE), null, 'shorter than freshness + MAC');
});

test('Secured I-PDUs of any profile round-trip through parse', () => {
  fc.assert(fc.property(
    fc.uint8Array({ maxLength: 64 }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.constantFrom(STATUS_FRAME_PROFILE, DIAGNOSTIC_PROFILE),
    (payload, freshness, profile) => {
      const pdu = buildSecuredPdu(key, 0x7ff, payload, freshness, profile);
      assert.equal(pdu.length, payload.length + securityOverheadBytes(profile));
      const parts = parseSecuredPdu(pdu, profile, payload.length)!;
      assert.deepEqual(parts.authenticPdu, payload);
      assert.equal(parts.truncatedFreshness, truncateFreshness(freshness, profile.freshnessBits));
      assert.deepEqual(parts.truncatedMac, truncateMac(computeMac(key, 0x7ff, payload, freshness), profile.macBits));
    },
  ));
});
