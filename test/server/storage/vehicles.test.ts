import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import { AlreadyExistsError } from '../../../src/server/storage/errors.ts';
import type { NewVehicleReport } from '../../../src/server/storage/vehicle-reports.ts';
import { testStorage } from '../support/storage.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

const report = (vehicleId: number, reportedAt: number, version: string, fields: Partial<NewVehicleReport> = {}): NewVehicleReport => ({
  vehicleId, receivedAt: reportedAt + 5, reportedAt, campaignId: `c-${reportedAt}`, outcome: 'success', message: `to ${version}`,
  ip: '127.0.0.1', body: '{}',
  ecus: [
    { ecu: 'EDT', version, sha256: 'e'.repeat(64), active_bank: 'B', state: 'Running' },
    { ecu: 'CGW', version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running' },
  ],
  updates: [{ ecu: 'EDT', from_version: '1.0.0', to_version: version, release_id: '3', result: 'installed', error: null }],
  ...fields,
});

/** The same story on SQLite and on PostgreSQL. */
async function vehicleStory(storage: Storage): Promise<void> {
  const car = await storage.vehicles.add({ vin: 'WCANTA00000000001', tokenHash: 'a'.repeat(64), now: 1000 });
  const other = await storage.vehicles.add({ vin: 'WCANTA00000000002', tokenHash: 'b'.repeat(64), now: 1001 });
  assert.equal(typeof car.id, 'number');
  await assert.rejects(storage.vehicles.add({ vin: 'WCANTA00000000001', tokenHash: 'c'.repeat(64), now: 1 }), AlreadyExistsError);
  await assert.rejects(storage.vehicles.add({ vin: 'WCANTA00000000003', tokenHash: 'a'.repeat(64), now: 1 }), AlreadyExistsError,
    'two vehicles never share a token');
  assert.equal((await storage.vehicles.findByTokenHash('a'.repeat(64)))?.vin, car.vin);

  const rotated = await storage.vehicles.replaceToken(car.vin, 'd'.repeat(64), 2000);
  assert.deepEqual([rotated?.token_hash, rotated?.token_issued_at, rotated?.created_at], ['d'.repeat(64), 2000, 1000]);
  assert.equal(await storage.vehicles.findByTokenHash('a'.repeat(64)), undefined, 'the old token hash is gone');
  assert.equal(await storage.vehicles.replaceToken('WCANTA00000000009', 'e'.repeat(64), 1), undefined);
  await storage.vehicles.markSeen(car.id, 3000, '10.0.0.7');
  assert.deepEqual([(await storage.vehicles.find(car.vin))?.last_seen_at, (await storage.vehicles.find(car.vin))?.last_seen_ip], [3000, '10.0.0.7']);

  const first = await storage.vehicleReports.add(report(car.id, 10_000, '2.0.0'));
  const second = await storage.vehicleReports.add(report(car.id, 20_000, '2.1.0', {
    outcome: 'failed', updates: [{ ecu: 'EDT', from_version: '2.0.0', to_version: '2.1.0', release_id: '4', result: 'failed', error: 'check failed' }],
  }));
  const ecus = await storage.vehicles.ecus([car.id, other.id]);
  assert.deepEqual(ecus.map((e) => [e.ecu, e.version, e.active_bank, e.report_id]), [['CGW', '1.0.0', 'A', second.id], ['EDT', '2.1.0', 'B', second.id]]);
  // The vehicle's clock jumped back (an RTC reset): the report that arrives last still describes the ECUs.
  const late = await storage.vehicleReports.add(report(car.id, 5, '2.2.0'));
  assert.ok(first.id < second.id && second.id < late.id);
  const after = await storage.vehicles.ecus([car.id]);
  assert.deepEqual(after.map((e) => [e.ecu, e.version, e.reported_at, e.report_id]), [['CGW', '1.0.0', 5, late.id], ['EDT', '2.2.0', 5, late.id]]);
  assert.equal((await storage.vehicles.find(car.vin))?.last_seen_at, 10, 'a report counts as being seen');

  const list = await storage.vehicleReports.list(car.id, { limit: 2 });
  assert.deepEqual(list.map((r) => r.id), [late.id, second.id]);
  assert.deepEqual((await storage.vehicleReports.list(car.id, { limit: 10, beforeId: second.id })).map((r) => r.id), [first.id]);
  const updates = await storage.vehicleReports.updates([second.id]);
  assert.deepEqual(updates.map((u) => [u.ecu, u.from_version, u.to_version, u.result, u.error]), [['EDT', '2.0.0', '2.1.0', 'failed', 'check failed']]);
  await storage.vehicleReports.add(report(other.id, 1, '1.0.0', { updates: [] }));
  const latest = await storage.vehicleReports.latest([car.id, other.id]);
  assert.deepEqual(latest.map((r) => [r.vehicle_id, r.id]).sort(), [[car.id, late.id], [other.id, late.id + 1]].sort());
  assert.deepEqual(await storage.vehicleReports.latest([]), []);
  assert.deepEqual((await storage.vehicles.list()).map((v) => v.vin), ['WCANTA00000000001', 'WCANTA00000000002']);

  // Releases: the newest of each ECU (names compare without case), none for releases without an ECU.
  const add = (filename: string, ecu: string | null, version: string | null, hardware?: string) => storage.releases.add({
    filename, sha256: 'f'.repeat(64), size: 1, ecu, firmware_version: version, notes: null, uploaded_by: 'x', uploaded_at: 1,
    ...(hardware ? { hardware_id: hardware } : {}),
  });
  await add('edt-1.bin', 'EDT', '1.0.0');
  await add('cgw-1.bin', 'CGW', '1.0.0');
  const edt = await add('edt-2.bin', 'edt', '2.0.0', 'EDT-HW-A1');
  await add('other.bin', null, null);
  const newest = await storage.releases.newestPerEcu();
  assert.deepEqual(newest.map((r) => [r.filename, r.hardware_id]), [['cgw-1.bin', null], ['edt-2.bin', 'EDT-HW-A1']]);
  assert.equal((await storage.releases.find(edt.id))?.filename, 'edt-2.bin');
  assert.equal(await storage.releases.find(99_999), undefined);
}

test('vehicles, their reports and ECUs, and the newest release per ECU (SQLite)', async (t) => {
  await vehicleStory(await testStorage(t));
});

test('the same on a real PostgreSQL', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const storage = await openStorage(await postgres.createDatabase());
  try {
    await vehicleStory(storage);
  } finally {
    await storage.close();
  }
});
