import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, logLines, pendingReports, startVehicle, vehicleStatus, waitForLog, writeCar } from './support.ts';

test('CGW and EDT in one campaign, EDT\'s transfer failing every try: nothing is activated, both stay on their old versions', async (t) => {
  const server = await startOtaServer(t);
  const stateDir = await carDir(t);
  // EDT's banks hold 64 KiB: its 0x34 for the 100 kB image is refused on every try.
  await writeCar(stateDir, 'WCANTATW0ECVS0001', (config) => {
    config.ecus.find((ecu) => ecu.name === 'EDT')!.flash = { eraseBytesPerSecond: 0, programBytesPerSecond: 0, bankSize: 65_536 };
  });
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'prompt']);

  await server.upload('edt-2.0.0.bin', firmware(100_000), { ecu: 'EDT', firmware_version: '2.0.0' });
  await vehicle.waitFor(/^ {2}EDT: 1\.0\.0 -> 2\.0\.0 \(/, 15_000);
  // While the driver reads it, a CGW release arrives: the offer is withdrawn and both come in one campaign.
  await server.upload('cgw-1.1.0.bin', firmware(40_000), { ecu: 'CGW', firmware_version: '1.1.0' });
  await vehicle.waitFor(/^The offer was withdrawn\.$/, 15_000);
  await vehicle.waitFor(/^ {2}CGW: 1\.0\.0 -> 1\.1\.0 \(/, 15_000);
  const offers = logLines(vehicle, /^cgw offer shown to the driver$/);
  assert.deepEqual(offers.map((offer) => offer.ecus), [['EDT 1.0.0→2.0.0'], ['EDT 1.0.0→2.0.0', 'CGW 1.0.0→1.1.0']]);
  vehicle.child.stdin.write('y\n');

  const done = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: failed$/, 30_000);
  assert.equal(done.campaign, offers[1]!.campaign);
  // Three tries for EDT, each from the erase; the CGW never got as far as being flashed, nothing was reset.
  assert.equal(logLines(vehicle, /^inactive bank erased$/).filter((line) => line.ecu === 'EDT').length, 3);
  assert.deepEqual(logLines(vehicle, /^EDT: try \d of 3 failed; starting again from the erase$/).map((line) => line.attempt), [1, 2]);
  assert.deepEqual(logLines(vehicle, /^ECU reset: restarting$/), []);
  const status = await vehicleStatus(stateDir);
  assert.deepEqual([status.ecus.EDT!.version, status.ecus.EDT!.active_bank], ['1.0.0', 'A']);
  assert.deepEqual([status.ecus.CGW!.version, status.ecus.CGW!.active_bank, status.ecus.CGW!.banks!.B.state], ['1.0.0', 'A', 'empty']);
  const report = (await pendingReports(stateDir)).at(-1)!;
  assert.equal(report.outcome, 'failed');
  assert.deepEqual(report.updates.map((update) => [update.ecu, update.result]), [['EDT', 'failed'], ['CGW', 'not-attempted']]);
  assert.equal(report.updates[0]!.error, 'EDT: download failed: RequestDownload refused: requestOutOfRange (0x31)');
  // The driver sees the result at the prompt.
  await vehicle.waitFor(/failed/i);
});
