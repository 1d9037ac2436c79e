import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { factoryImage } from '../../src/vehicle/ecu/factory-image.ts';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import { formatStatus } from '../../src/cli/commands/vehicle.ts';
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
  assert.deepEqual([factory.confirmed, factory.floor], [true, '1.0.0'], 'the factory image is confirmed');
  assert.deepEqual([edt.confirmed, edt.floor], [false, '1.0.0'], 'the new image is on trial');
  assert.deepEqual([status.ecus.TMU!.confirmed, status.ecus.TMU!.floor], [null, null]);
  await bench.session.confirm();
  const confirmed = (await readVehicleStatus({ stateDir: bench.stateDir })).ecus.EDT!;
  assert.deepEqual([confirmed.confirmed, confirmed.floor], [true, '2.0.0']);

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

test('each ECU\'s status-frame counters (secoc.json) are reported, in JSON and in the table', async (t) => {
  const stateDir = await tempDir(t);
  await mkdir(join(stateDir, 'ecus', 'TMU'), { recursive: true });
  await mkdir(join(stateDir, 'ecus', 'EDT'), { recursive: true });
  const secoc = {
    ecu: 'TMU', updatedAt: '2026-12-01T10:00:00.000Z',
    senders: {
      EDT: { verified: 120, macFailures: 7, replays: 2, malformed: 0, lastRejection: { at: '2026-12-01T09:59:59.000Z', result: 'replay', reason: 'freshness 5 is not newer than 119' } },
      CGW: { verified: 118, macFailures: 0, replays: 0, malformed: 0 },
    },
  };
  await writeFile(join(stateDir, 'ecus', 'TMU', 'secoc.json'), JSON.stringify(secoc));
  const status = await readVehicleStatus({ stateDir });
  assert.deepEqual(status.ecus.TMU!.secoc, secoc);
  assert.equal(status.ecus.EDT!.secoc, null);
  const table = formatStatus(status);
  assert.match(table, /^TMU status frames received: EDT 120 verified, 7 MAC failures, 2 replays dropped; CGW 118 verified as of 2026-12-01T10:00:00.000Z$/m);
  assert.doesNotMatch(table, /^EDT status frames/m);
});
