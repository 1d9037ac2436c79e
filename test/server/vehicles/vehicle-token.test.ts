import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { hashVehicleToken, newVehicleToken, sameTokenHash } from '../../../src/server/vehicles/vehicle-token.ts';
import { checkVin, VehicleInputError } from '../../../src/server/vehicles/vin.ts';

test('vehicle tokens: 256 random bits with a prefix, stored as their SHA-256', () => {
  const tokens = new Set(Array.from({ length: 200 }, newVehicleToken));
  assert.equal(tokens.size, 200);
  for (const token of tokens) assert.match(token, /^cvt_[A-Za-z0-9_-]{43}$/);
  const token = [...tokens][0]!;
  assert.equal(hashVehicleToken(token), createHash('sha256').update(token).digest('hex'));
  for (const bad of ['', 'cvt_', `${token}x`, token.slice(4), `Bearer ${token}`, 'cvt_' + '!'.repeat(43)]) {
    assert.equal(hashVehicleToken(bad), undefined, bad);
  }
  const hash = hashVehicleToken(token)!;
  assert.equal(sameTokenHash(hash, hash), true);
  assert.equal(sameTokenHash(hash, hashVehicleToken(newVehicleToken())!), false);
  assert.equal(sameTokenHash(hash, hash.slice(2)), false, 'different lengths are simply unequal');
});

test('VINs: 17 characters without I, O, Q; case is normalised', () => {
  assert.equal(checkVin('wcantaap100000001'), 'WCANTAAP100000001');
  assert.equal(checkVin(' WCANTAAP100000001 '), 'WCANTAAP100000001');
  for (const bad of ['', 'WCANTAAP10000000', 'WCANTAAP1000000011', 'WCANTAAO100000001', 'WCANTA<P100000001', 'WCANTA/P100000001']) {
    assert.throws(() => checkVin(bad), VehicleInputError, bad);
  }
  fc.assert(fc.property(fc.string({ maxLength: 40 }), (text) => {
    try {
      const vin = checkVin(text);
      return /^[A-HJ-NPR-Z0-9]{17}$/.test(vin);
    } catch (error) {
      return error instanceof VehicleInputError;
    }
  }));
});
