import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { canFrame } from '../../../src/can/bus/index.ts';
import { TrafficDecoder } from '../../../src/can/log/traffic-decoder.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { provisionVehicleKeys, loadEcuKeys } from '../../../src/vehicle/keys/ecu-keys.ts';
import { statusKeyName } from '../../../src/vehicle/keys/key-plan.ts';
import { statusFreshnessPath } from '../../../src/vehicle/ecu/status-broadcast.ts';
import { StatusFrameDescriber, vehicleStatusDescriber } from '../../../src/vehicle/ecu/status-frame-describer.ts';
import { EcuState, encodeStatusFrame, type EcuStatus } from '../../../src/vehicle/ecu/status-frame.ts';
import { tempDir } from '../../support/temp-dir.ts';

const status: EcuStatus = { version: [2, 0, 1], state: EcuState.Running, activeBank: 'B', trialPending: false, lastBootRolledBack: false, vehicleMoving: true };
const key = Uint8Array.from({ length: 32 }, (_, i) => i + 3);
const edt = (data: Uint8Array) => canFrame({ id: 0x530, data });

test('status frames are decoded with their MAC verdict: ok, replay, bad; without a key unverified', () => {
  const decoder = new TrafficDecoder(undefined, [new StatusFrameDescriber([{ ecu: 'EDT', statusId: 0x530, key }, { ecu: 'CGW', statusId: 0x510 }])]);
  const first = encodeStatusFrame(key, 0x530, status, 300n);
  assert.deepEqual(decoder.describe(edt(first)), ['EDT_Status 2.0.1 Running bank=B moving fv=44/300 mac=ok']);
  assert.deepEqual(decoder.describe(edt(encodeStatusFrame(key, 0x530, { ...status, vehicleMoving: false }, 301n))), ['EDT_Status 2.0.1 Running bank=B stopped fv=45/301 mac=ok']);
  assert.deepEqual(decoder.describe(edt(first)), ['EDT_Status 2.0.1 Running bank=B moving fv=44/300 mac=replay']);
  const forged = encodeStatusFrame(key, 0x530, { ...status, version: [9, 9, 9] }, 302n);
  forged.set([1, 2, 3], 5);
  assert.deepEqual(decoder.describe(edt(forged)), ['EDT_Status 9.9.9 Running bank=B moving fv=46 mac=bad']);
  assert.deepEqual(decoder.describe(edt(new Uint8Array(3))), ['EDT_Status: not a status frame (3 bytes) mac=bad']);
  assert.deepEqual(decoder.describe(canFrame({ id: 0x510, data: encodeStatusFrame(key, 0x510, status, 1n) })), ['CGW_Status 2.0.1 Running bank=B moving fv=1 mac=unverified']);
  assert.deepEqual(decoder.describe(canFrame({ id: 0x530, extended: true, data: first })), [], 'an extended id is another frame');
  assert.deepEqual(decoder.describe(canFrame({ id: 0x531, data: first })), []);
});

test('decoding never throws, whatever a frame on a status id carries', () => {
  const decoder = new TrafficDecoder(undefined, [new StatusFrameDescriber([{ ecu: 'EDT', statusId: 0x530, key }])]);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 8 }), fc.boolean(), (data, fd) => {
    const notes = decoder.describe(canFrame({ id: 0x530, data, fd, brs: fd }));
    assert.equal(notes.length, 1);
    assert.doesNotMatch(notes[0]!, /mac=ok/);
  }));
});

test('a describer that throws becomes a note, not a crash', () => {
  const decoder = new TrafficDecoder(undefined, [{ describe: () => { throw new Error('boom'); } }]);
  assert.deepEqual(decoder.describe(canFrame({ id: 0x123, data: [1] })), ['not decoded: boom']);
});

test('from a state dir: each ECU\'s own status key, and a start near the sender\'s freshness (a monitor started late)', async (t) => {
  const stateDir = await tempDir(t);
  const config = standardVehicleConfig('WCANTA10000000042');
  await provisionVehicleKeys(config, stateDir);
  const edtKey = (await loadEcuKeys(config, stateDir, 'EDT')).get(statusKeyName('EDT'));
  await writeFile(statusFreshnessPath(stateDir, 'EDT'), JSON.stringify({ reservedUpTo: '1000000' }));
  const describer = await vehicleStatusDescriber({ config, stateDir });
  assert.deepEqual(describer.verifying.sort(), ['CGW', 'EDT', 'TMU']);
  // The sender is somewhere below its reservation: 998,700 is 5 wraps and more past where a monitor starting from 0 could reach.
  assert.deepEqual(describer.describe(edt(encodeStatusFrame(edtKey, 0x530, status, 998_700n))), ['EDT_Status 2.0.1 Running bank=B moving fv=44/998700 mac=ok']);
  const blind = await vehicleStatusDescriber({});
  assert.deepEqual(blind.verifying, []);
  assert.match(blind.describe(edt(encodeStatusFrame(edtKey, 0x530, status, 998_701n)))![0]!, /mac=unverified$/);
});
