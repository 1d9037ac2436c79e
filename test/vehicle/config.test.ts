import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  loadVehicleConfig, parseVehicleConfig, standardVehicleConfig, VehicleConfigError,
} from '../../src/vehicle/config.ts';
import { tempDir } from '../support/temp-dir.ts';

const VIN = 'WDB12345678901234';

test('the standard car: TMU and CGW on CAN-T, EDT on CAN-B, docs/architecture.md ids, EDT as motion source, no secrets', () => {
  const config = standardVehicleConfig(VIN);
  const byName = Object.fromEntries(config.ecus.map((ecu) => [ecu.name, ecu]));
  assert.deepEqual([byName.CGW?.requestId, byName.CGW?.responseId], [0x710, 0x718]);
  assert.deepEqual([byName.TMU?.requestId, byName.TMU?.responseId], [0x720, 0x728]);
  assert.deepEqual([byName.EDT?.requestId, byName.EDT?.responseId], [0x730, 0x738]);
  assert.equal(byName.EDT?.bus, 'canb');
  assert.equal(config.buses.cant?.fd, true);
  assert.equal(config.motionSource, 'EDT');
  assert.ok(config.ecus.every((ecu) => ecu.securitySecret === undefined), 'ECU keys live in each ECU\'s own state dir, not in vehicle.json');
});

test('ids may be written as "0x…" strings', () => {
  const config = standardVehicleConfig(VIN);
  const json = JSON.parse(JSON.stringify(config));
  json.ecus[2].requestId = '0x731';
  assert.equal(parseVehicleConfig(json).ecus[2]!.requestId, 0x731);
});

test('bad configs are refused with the path and the reason', async (t) => {
  const base = JSON.parse(JSON.stringify(standardVehicleConfig(VIN)));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the cases poke at raw JSON
  const cases: [string, (c: any) => void, RegExp][] = [
    ['bad VIN', (c) => { c.vin = 'IOQ'; }, /17-character VIN[\s\S]*at vin/],
    ['unknown bus', (c) => { c.ecus[2].bus = 'canx'; }, /unknown bus "canx"/],
    ['duplicate id', (c) => { c.ecus[2].requestId = 0x720; }, /already used by TMU/],
    ['29-bit id', (c) => { c.ecus[2].statusId = 0x1234567; }, /11-bit/],
    ['short secret', (c) => { c.ecus[0].securitySecret = 'abcd'; }, /16 to 64 bytes/],
    ['unknown key', (c) => { c.turbo = true; }, /turbo/],
    ['missing gateway ECU', (c) => { c.gateway.ecu = 'BCM'; }, /no ECU named BCM/],
    ['unknown motion source', (c) => { c.motionSource = 'ABS'; }, /no ECU named ABS[\s\S]*motionSource/],
  ];
  for (const [name, mutate, message] of cases) {
    const config = structuredClone(base);
    mutate(config);
    assert.throws(() => parseVehicleConfig(config), (error: Error) => {
      assert.ok(error instanceof VehicleConfigError, name);
      assert.match(error.message, message, name);
      return true;
    });
  }
  const dir = await tempDir(t);
  await writeFile(join(dir, 'broken.json'), '{ not json');
  await assert.rejects(loadVehicleConfig(join(dir, 'broken.json')), /is not JSON/);
  await assert.rejects(loadVehicleConfig(join(dir, 'missing.json')), /cannot read vehicle config/);
});
