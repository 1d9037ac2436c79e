import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { factoryImage } from '../../../src/vehicle/ecu/factory-image.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';
import { carDir, logLines, serverKey, sha256, startVehicle, vehicleStatus, waitForLog, writeCar } from './support.ts';

const VIN = 'WCANTAE2E00000013';

/** EDT 1.0.0 as every car has it (the factory image), and 2.0.0: a few bytes changed and 2 KB added. */
function releases(): { v1: Buffer; v2: Buffer } {
  const v1 = Buffer.from(factoryImage('EDT', '1.0.0'));
  const v2 = Buffer.concat([v1.subarray(0, 8000), randomBytes(2000), v1.subarray(8000)]);
  v2.write('canota EDT 2.0.0', 0, 'latin1');
  return { v1, v2 };
}

test('delta end to end: the server makes 1.0.0 → 2.0.0 at upload, the TMU downloads and sends only the delta, EDT applies it against its running 1.0.0 and ends on 2.0.0', async (t) => {
  const server = await startOtaServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  const stateDir = await carDir(t);
  const key = await serverKey(server.dataDir);
  await writeCar(stateDir, VIN, (config) => { config.trustedKeys = [key]; });
  const { v1, v2 } = releases();
  await server.upload('edt-1.0.0.bin', v1, { ecu: 'EDT', firmware_version: '1.0.0' });
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto', '--token', token]);
  await waitForLog(vehicle, /^up to date$/);

  await server.upload('edt-2.0.0.bin', v2, { ecu: 'EDT', firmware_version: '2.0.0' });
  await server.deploy([2], { vins: [VIN] });
  const fetched = await waitForLog(vehicle, /^EDT: delta from 1\.0\.0 downloaded \(\d+ bytes\)$/, 15_000);
  const deltaBytes = fetched.delta_bytes as number;
  assert.ok(deltaBytes < v2.length / 4, `a ${deltaBytes}-byte delta for a ${v2.length}-byte image`);
  const done = await waitForLog(vehicle, /^campaign \d+ reported: success$/, 30_000);
  assert.equal(done.outcome, 'success');

  // EDT got the delta over the bus (0x30) and rebuilt exactly 2.0.0 from its running bank A.
  const download = logLines(vehicle, /^download complete$/).find((line) => line.ecu === 'EDT' || line.name === 'EDT' || line.bytes === v2.length);
  assert.ok(download, 'EDT logged its download');
  assert.equal(download.dataFormat, TransferFormat.Delta);
  assert.equal(download.transferred, deltaBytes);
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), v2);
  const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.sha256, edt.confirmed], ['2.0.0', 'B', sha256(v2), true]);
  assert.equal(edt.banks!.A.sha256, sha256(v1), 'the base bank was only read');
  // Over the air too: the TMU fetched the delta, never the image.
  const files = join(stateDir, 'tmu', 'downloads', 'EDT', 'files');
  assert.deepEqual(await readdir(files), [`edt-2.0.0.bin.from-${sha256(v1)}.vcdiff`]);
});

test('a car whose EDT runs other bytes than the published 1.0.0 gets the full image: the TMU does not send a delta for another base', async (t) => {
  const server = await startOtaServer(t);
  const token = await registerVehicle(server.dataDir, `${VIN.slice(0, -1)}4`);
  const stateDir = await carDir(t);
  await writeCar(stateDir, `${VIN.slice(0, -1)}4`);
  const { v2 } = releases();
  // Published as 1.0.0, but not the bytes this car's EDT runs (its factory image).
  await server.upload('edt-1.0.0.bin', randomBytes(16_384), { ecu: 'EDT', firmware_version: '1.0.0' });
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto', '--token', token]);
  await waitForLog(vehicle, /^up to date$/);

  await server.upload('edt-2.0.0.bin', v2, { ecu: 'EDT', firmware_version: '2.0.0' });
  await server.deploy([2], { vins: [`${VIN.slice(0, -1)}4`] });
  await waitForLog(vehicle, /^campaign \d+ reported: success$/, 30_000);
  const download = logLines(vehicle, /^download complete$/).find((line) => line.bytes === v2.length);
  assert.ok(download);
  assert.notEqual(download.dataFormat, TransferFormat.Delta);
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), v2);
  assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '2.0.0');
  // The delta named a base this EDT does not run: the image was fetched after all, before the flash.
  assert.deepEqual(await readFile(join(stateDir, 'tmu', 'downloads', 'EDT', 'files', 'edt-2.0.0.bin')), v2);
});
