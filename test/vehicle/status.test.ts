import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { factoryImage } from '../../src/vehicle/ecu/factory-image.ts';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import { tempDir } from '../support/temp-dir.ts';
import { ecuBench, manifestFor, sha256, VIN } from './ecu/support.ts';

test('status reads each ECU\'s boot record: version, image SHA-256, active bank, state, last boot', async (t) => {
  const bench = await ecuBench(t);
  await writeFile(join(bench.stateDir, 'vehicle.json'), JSON.stringify(bench.config));
  let status = await readVehicleStatus({ stateDir: bench.stateDir });
  assert.equal(status.vin, VIN);
  assert.deepEqual(Object.keys(status.ecus), ['TMU', 'CGW', 'EDT'], 'the config\'s ECUs, in its order');
  assert.equal(status.ecus.TMU!.state, 'not-started');
  assert.equal(status.ecus.TMU!.version, null);
  const factory = status.ecus.EDT!;
  assert.deepEqual([factory.version, factory.active_bank, factory.state, factory.sha256], ['1.0.0', 'A', 'ok', sha256(factoryImage('EDT', '1.0.0'))]);

  const image = randomBytes(3000);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '2.0.0' }));
  await bench.session.activate();
  status = await readVehicleStatus({ stateDir: bench.stateDir });
  const edt = status.ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.state, edt.sha256], ['2.0.0', 'B', 'ok', sha256(image)]);
  assert.equal(edt.last_boot?.outcome, 'booted');
  assert.equal(edt.banks?.A.version, '1.0.0', 'the previous image is kept');
  assert.equal(edt.boot_count, 2);

  // A bad image on the next try: rolled back at boot, and the status says so.
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '3.0.0' }));
  const bank = await readFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-A.img'));
  bank[0] = bank[0]! ^ 1;
  await writeFile(join(bench.stateDir, 'ecus', 'EDT', 'bank-A.img'), bank);
  await bench.session.activate();
  const rolledBack = (await readVehicleStatus({ stateDir: bench.stateDir })).ecus.EDT!;
  assert.deepEqual([rolledBack.version, rolledBack.active_bank, rolledBack.state], ['2.0.0', 'B', 'rolled-back']);
  assert.match(rolledBack.last_boot?.reason ?? '', /bank A/);
  assert.equal(rolledBack.banks?.A.state, 'invalid');
});

test('without vehicle.json the ECU directories found are listed, VIN unknown; damaged records are reported, not fatal', async (t) => {
  const stateDir = await tempDir(t);
  await mkdir(join(stateDir, 'ecus', 'EDT'), { recursive: true });
  await mkdir(join(stateDir, 'ecus', 'ABS'), { recursive: true });
  await writeFile(join(stateDir, 'ecus', 'EDT', 'boot-record.json'), '{"active": "C"}');
  const status = await readVehicleStatus({ stateDir });
  assert.equal(status.vin, null);
  assert.deepEqual(Object.keys(status.ecus), ['ABS', 'EDT']);
  assert.equal(status.ecus.ABS!.state, 'not-started');
  assert.equal(status.ecus.EDT!.state, 'unreadable');
  assert.match(status.ecus.EDT!.error ?? '', /boot record .* is unreadable: missing active bank/);
  await assert.rejects(readVehicleStatus({ stateDir: join(stateDir, 'nope') }), /no vehicle state in .*nope/);
});
