import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VehicleConfigError, standardVehicleConfig } from '../../src/vehicle/config.ts';
import { randomVin, resolveVehicleConfig } from '../../src/vehicle/config-file.ts';
import { tempDir } from '../support/temp-dir.ts';

const VIN = 'WCANTA1C0NF1G0001';

test('the first process on a state dir creates the standard car there (0600); later ones share it', async (t) => {
  const stateDir = join(await tempDir(t), 'nested', 'state');
  const first = await resolveVehicleConfig({ stateDir, vin: VIN });
  assert.equal(first.created, true);
  assert.equal(first.path, join(stateDir, 'vehicle.json'));
  assert.equal(first.config.vin, VIN);
  assert.equal((await stat(first.path)).mode & 0o777, 0o600);
  const again = await resolveVehicleConfig({ stateDir });
  assert.equal(again.created, false);
  assert.deepEqual(again.config, first.config, 'the same car');
  await assert.rejects(resolveVehicleConfig({ stateDir, vin: 'WCANTA1C0NF1G0002' }), /--vin WCANTA1C0NF1G0002 does not match the VIN WCANTA1C0NF1G0001/);
});

test('processes racing to create the car agree on one car (one random VIN)', async (t) => {
  const stateDir = await tempDir(t);
  const results = await Promise.all(Array.from({ length: 12 }, () => resolveVehicleConfig({ stateDir })));
  assert.equal(results.filter((result) => result.created).length, 1);
  const vins = new Set(results.map((result) => result.config.vin));
  assert.equal(vins.size, 1);
  const onDisk = JSON.parse(await readFile(join(stateDir, 'vehicle.json'), 'utf8')) as { vin: string; ecus: object[] };
  assert.equal(onDisk.vin, [...vins][0]);
  assert.ok(onDisk.ecus.every((ecu) => !('securitySecret' in ecu)), 'vehicle.json holds no ECU secret');
});

test('--bus overrides every segment\'s driver for this process only', async (t) => {
  const stateDir = await tempDir(t);
  await resolveVehicleConfig({ stateDir, vin: VIN });
  const resolved = await resolveVehicleConfig({ stateDir, driver: 'udp-multicast' });
  assert.deepEqual(Object.values(resolved.config.buses).map((bus) => bus.driver), ['udp-multicast', 'udp-multicast']);
  const onDisk = JSON.parse(await readFile(join(stateDir, 'vehicle.json'), 'utf8')) as { buses: Record<string, { driver: string }> };
  assert.deepEqual(Object.values(onDisk.buses).map((bus) => bus.driver), ['virtual', 'virtual']);
});

test('--config wins over the state dir and is never written; bad files get clear errors', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'car.json');
  await writeFile(path, JSON.stringify(standardVehicleConfig(VIN)));
  const resolved = await resolveVehicleConfig({ configPath: path, stateDir: join(dir, 'state') });
  assert.equal(resolved.config.vin, VIN);
  await assert.rejects(stat(join(dir, 'state', 'vehicle.json')), /ENOENT/);

  await assert.rejects(resolveVehicleConfig({ configPath: join(dir, 'missing.json'), stateDir: dir }), /cannot read vehicle config .*missing\.json/);
  await writeFile(path, '{"vin": ');
  await assert.rejects(resolveVehicleConfig({ configPath: path, stateDir: dir }), /car\.json is not JSON/);
  await writeFile(path, JSON.stringify({ ...standardVehicleConfig(VIN), vin: 'short' }));
  await assert.rejects(resolveVehicleConfig({ configPath: path, stateDir: dir }), (error: unknown) =>
    error instanceof VehicleConfigError && /car\.json is invalid/.test(error.message) && /17-character VIN/.test(error.message));
  await writeFile(path, JSON.stringify({ ...standardVehicleConfig(VIN), trustedKeys: ['ed25519:AAAA'] }));
  await assert.rejects(resolveVehicleConfig({ configPath: path, stateDir: dir }), /trustedKeys\[0\]: an Ed25519 public key is 32 bytes/);
  // A damaged vehicle.json is reported, never silently replaced by a new car.
  await writeFile(join(dir, 'vehicle.json'), '{}');
  await assert.rejects(resolveVehicleConfig({ stateDir: dir }), /vehicle\.json is invalid/);
});

test('random VINs are well-formed', () => {
  for (let i = 0; i < 200; i += 1) assert.match(randomVin(), /^CNT[A-HJ-NPR-Z0-9]{14}$/);
});
