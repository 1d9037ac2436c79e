import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressionMethods, parseVehicleConfig, standardVehicleConfig, VehicleConfigError } from '../../src/vehicle/config.ts';

const VIN = 'WDB12345678901234';

/** The standard car's JSON with EDT's `transfer` replaced (or dropped, for undefined). */
function withTransfer(transfer: unknown): unknown {
  const json = JSON.parse(JSON.stringify(standardVehicleConfig(VIN)));
  if (transfer === undefined) delete json.ecus[2].transfer;
  else json.ecus[2].transfer = transfer;
  return json;
}
const edtTransfer = (transfer: unknown) => parseVehicleConfig(withTransfer(transfer)).ecus[2]!.transfer;

test('older vehicle.json files load unchanged: "deflate" and "none" mean what they meant; without transfer, the bootloader has both methods', () => {
  assert.deepEqual(compressionMethods(edtTransfer(undefined)), ['xz', 'deflate']);
  assert.deepEqual(compressionMethods(edtTransfer({ window: 8192 })), ['xz', 'deflate']);
  assert.deepEqual(compressionMethods(edtTransfer({ compression: 'deflate', window: 4096 })), ['deflate']);
  assert.deepEqual(compressionMethods(edtTransfer({ compression: 'none' })), []);
});

test('a bootloader states its methods as a list, in the order the TMU tries them, or as one name', () => {
  assert.deepEqual(compressionMethods(edtTransfer({ compression: ['xz', 'deflate'] })), ['xz', 'deflate']);
  assert.deepEqual(compressionMethods(edtTransfer({ compression: ['deflate', 'xz'] })), ['deflate', 'xz']);
  assert.deepEqual(compressionMethods(edtTransfer({ compression: 'xz', window: 8192 })), ['xz']);
});

test('unknown methods, an empty or repeated list, and xz with a window below LZMA2\'s 4 KiB are refused with the path', () => {
  const refuse = (transfer: unknown, pattern: RegExp) => assert.throws(() => parseVehicleConfig(withTransfer(transfer)), (error: unknown) =>
    error instanceof VehicleConfigError && pattern.test(error.message) && /ecus\[2\]\.transfer/.test(error.message));
  refuse({ compression: 'lz4' }, /"xz", "deflate", "none", or a list of methods/);
  refuse({ compression: [] }, /at least one method, or "none"/);
  refuse({ compression: ['xz', 'xz'] }, /each method once/);
  refuse({ compression: ['xz', 'none'] }, /or a list of methods/);
  refuse({ compression: ['xz', 'deflate'], window: 2048 }, /xz needs a window of at least 4096 bytes/);
  assert.deepEqual(compressionMethods(edtTransfer({ compression: 'deflate', window: 2048 })), ['deflate'], 'deflate alone keeps its 512-byte minimum');
});
