import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import { startOtaServer } from '../support/ota-server.ts';
import { eventually } from './cgw/support.ts';
import { ScriptedDriver, messages, startCar } from './support/car-rig.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');


test('the car in one process against a real server', async (t) => {
  const server = await startOtaServer(t);

  await t.test('a newer release while the driver thinks withdraws the offer; CGW + EDT together; CGW fails its boot → EDT rolled back, both on their old versions', async (t) => {
    const driver = new ScriptedDriver((_offer, index) => (index === 0 ? new Promise<never>(() => {}) : { decision: 'approve' }));
    const { car, stateDir, logs, reports } = await startCar(t, server, driver);
    await server.upload('edt-2.0.0.bin', randomBytes(30_000), { ecu: 'EDT', firmware_version: '2.0.0' });
    await eventually(() => driver.offers.length === 1, 'the EDT offer', 10_000);
    assert.deepEqual(driver.offers[0]!.ecus.map((ecu) => ecu.name), ['EDT']);

    // The CGW's rot: its freshly checked bank is damaged before its reset.
    car.tmu.on('target-status', (ecu, status) => {
      if (ecu === 'CGW' && status === 'programmed') writeFileSync(join(stateDir, 'ecus', 'CGW', 'bank-B.img'), randomBytes(64));
    });
    await server.upload('cgw-2.0.0.bin', randomBytes(20_000), { ecu: 'CGW', firmware_version: '2.0.0' });
    // The newest release of each ECU now makes another campaign: the pending one is withdrawn, both are offered.
    await eventually(() => driver.offers.length === 2, 'the CGW + EDT offer', 10_000);
    assert.deepEqual(driver.offers[1]!.ecus.map((ecu) => `${ecu.name} ${ecu.from}→${ecu.to}`), ['EDT 1.0.0→2.0.0', 'CGW 1.0.0→2.0.0']);
    assert.equal(messages(logs, /: withdrawn, newer releases make campaign/).length, 1);

    await eventually(() => reports.length === 1, 'the report', 20_000);
    const [report] = reports;
    assert.equal(report!.outcome, 'rolled-back');
    assert.deepEqual(report!.updates.map((update) => [update.ecu, update.result]), [['EDT', 'rolled-back'], ['CGW', 'failed']]);
    assert.match(report!.updates[1]!.error!, /image bytes no longer match their SHA-256/);
    const status = await readVehicleStatus({ stateDir });
    assert.deepEqual([status.ecus.EDT!.version, status.ecus.EDT!.active_bank], ['1.0.0', 'A']);
    assert.deepEqual([status.ecus.CGW!.version, status.ecus.CGW!.active_bank], ['1.0.0', 'A']);
    assert.deepEqual(report!.ecus.EDT, { version: '1.0.0', sha256: status.ecus.EDT!.sha256, active_bank: 'A', state: 'Running', hardware_id: 'EDT-HW-A1' });
    // The HMI saw EDT's flash (its progress), was told the first offer was withdrawn, then the update's result,
    // which says what became of each ECU. (Progress is best effort: only the newest per ECU waits while a
    // request is on the bus, so a passing phase such as EDT's "rolled-back" may be overtaken by the reset that
    // follows it; the result is what the HMI is sure to get.)
    assert.ok(driver.shown.some((p) => p.ecu === 'EDT' && p.phase === 'programming'), 'EDT\'s flash was shown');
    await eventually(() => driver.results.length === 2, 'the result on the HMI');
    assert.match(driver.results[0]!.message ?? '', /^withdrawn: campaign c-[0-9a-f]{16} replaces it$/);
    assert.equal(driver.results[1]!.outcome, 'rolled-back');
    assert.deepEqual([driver.results[1]!.ecus.EDT?.outcome, driver.results[1]!.ecus.EDT?.version], ['rolled-back', '1.0.0']);
    assert.equal(driver.results[1]!.ecus.CGW?.outcome, 'failed');
    assert.equal(car.cgw.gateway.firewall.open, false);
  });

  await t.test('postponed for a second: offered again once the second is up, then installed (the TMU updating itself too)', async (t) => {
    const driver = new ScriptedDriver((_offer, index) => (index === 0 ? { decision: 'postpone', seconds: 1 } : { decision: 'approve' }));
    const tmuImage = randomBytes(25_000);
    await server.upload('tmu-1.1.0.bin', tmuImage, { ecu: 'TMU', firmware_version: '1.1.0' });
    const { car, stateDir, reports, logs } = await startCar(t, server, driver);
    await eventually(() => driver.offers.length === 1, 'the offer', 10_000);
    // A new car: the server's newest EDT and CGW releases (uploaded above) come along with the TMU's.
    assert.deepEqual(driver.offers[0]!.ecus.map((ecu) => ecu.name), ['EDT', 'CGW', 'TMU']);
    await eventually(() => driver.offers.length === 2, 'the offer again', 10_000);
    const waited = Date.parse(driver.offers[1]!.receivedAt) - Date.parse(driver.offers[0]!.receivedAt);
    assert.ok(waited >= 1000, `asked again after ${waited} ms`);
    assert.equal(driver.offers[1]!.campaignId, driver.offers[0]!.campaignId);
    assert.equal(messages(logs, /postponed by the driver for 1 s$/).length, 1);

    await eventually(() => reports.some((report) => report.outcome === 'success'), 'the success report', 20_000);
    assert.deepEqual(reports.map((report) => report.outcome), ['postponed', 'success']);
    assert.equal(car.local.version, '1.1.0');
    assert.deepEqual(reports[1]!.updates.map((update) => [update.ecu, update.result]), [['EDT', 'installed'], ['CGW', 'installed'], ['TMU', 'installed']]);
    const tmu = (await readVehicleStatus({ stateDir })).ecus.TMU!;
    assert.deepEqual([tmu.version, tmu.active_bank, tmu.sha256], ['1.1.0', 'B', sha256(tmuImage)]);
    assert.deepEqual(await readFile(join(stateDir, 'ecus', 'TMU', 'bank-B.img')), tmuImage);
  });
});
