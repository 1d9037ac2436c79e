import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSigningKey, publicKeyToText } from '../../../src/crypto/ed25519.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, logLines, pendingReports, startVehicle, tmuState, vehicleStatus, waitForLog, writeCar } from './support.ts';

test('images the vehicle must not install: a corrupted download is refused by EDT itself; an unsigned release by a vehicle that trusts keys', async (t) => {
  const server = await startOtaServer(t);
  const image = firmware(80_000);
  await server.upload('edt-2.0.0.bin', image, { ecu: 'EDT', firmware_version: '2.0.0' });

  await t.test('bytes corrupted on the TMU after the download: EDT\'s check refuses them, nothing is activated, the download is thrown away', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAC0RRVPT0001');
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'prompt']);
    await vehicle.waitFor(/^ {2}EDT: 1\.0\.0 -> 2\.0\.0 \(/, 15_000);
    // While the driver reads the offer, the verified download rots on the TMU's storage.
    const path = join(stateDir, 'tmu', 'downloads', 'EDT', 'files', 'edt-2.0.0.bin');
    const rotten = Buffer.from(await readFile(path));
    rotten.writeUInt8(rotten.readUInt8(40_000) ^ 0x01, 40_000);
    await writeFile(path, rotten);
    vehicle.child.stdin.write('y\n');

    const refused = await waitForLog(vehicle, /^image refused$/);
    assert.equal(refused.ecu, 'EDT');
    assert.match(refused.reason as string, /^image SHA-256 [0-9a-f]{64} does not match [0-9a-f]{64}$/);
    const failed = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: failed$/, 20_000);
    // A refusal is the ECU's verdict on these bytes: not sent again in this attempt.
    assert.equal(logLines(vehicle, /^inactive bank erased$/).filter((line) => line.ecu === 'EDT').length, 1);
    const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
    assert.deepEqual([edt.version, edt.active_bank, edt.state, edt.banks!.B.state], ['1.0.0', 'A', 'ok', 'invalid']);
    const [report] = await pendingReports(stateDir);
    assert.equal(report?.outcome, 'failed');
    assert.equal(report?.updates[0]?.result, 'failed');
    assert.match(report?.updates[0]?.error ?? '', /^EDT: check failed: the ECU refused the image: image SHA-256/);
    // The rotten file is gone, so the next attempt downloads the release again; the failed campaign waits.
    assert.deepEqual(await readdir(join(stateDir, 'tmu', 'downloads', 'EDT', 'files')), []);
    assert.equal((await tmuState(stateDir)).deferred[failed.campaign as string]?.reason, 'failed');
    await sleep(1500);
    assert.equal(logLines(vehicle, /^cgw offer shown to the driver$/).length, 1);
  });

  await t.test('a vehicle with trusted keys refuses a release without a signed manifest before downloading or offering it', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAKEYS0000001', (config) => {
      config.trustedKeys = [publicKeyToText(generateSigningKey().publicKey)];
    });
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto']);
    assert.doesNotMatch(vehicle.output.join('\n'), /trusts no release signing key/);
    const refused = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: refusing the release: /);
    assert.match(refused.msg as string, /EDT: edt-2\.0\.0\.bin comes without a signed manifest, and this vehicle installs only releases signed by a trusted key$/);
    await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: failed$/);
    assert.deepEqual(logLines(vehicle, /^new release: downloading$|^cgw offer shown to the driver$/), []);
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '1.0.0');
    const [report] = await pendingReports(stateDir);
    assert.deepEqual([report?.outcome, report?.updates[0]?.result], ['failed', 'failed']);
    // Deferred: the next polls do not refuse (and report) it again.
    await sleep(1500);
    assert.equal((await pendingReports(stateDir)).length, 1);
  });
});
