import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateSigningKey, publicKeyToText } from '../../../src/crypto/ed25519.ts';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, logLines, pendingReports, serverKey, startVehicle, tmuState, vehicleStatus, waitForLog, writeCar } from './support.ts';

test('images the vehicle must not install, with trusted keys configured: refused by EDT\'s own check, or by the TMU before it downloads', async (t) => {
  const server = await startOtaServer(t);
  const trustedKey = await serverKey(server.dataDir);
  await server.upload('edt-2.0.0.bin', firmware(80_000), { ecu: 'EDT', firmware_version: '2.0.0' });

  await t.test('bytes corrupted on the TMU after the download: EDT\'s check refuses them, nothing is activated, the download is thrown away', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAC0RRVPT0001', (config) => { config.trustedKeys = [trustedKey]; });
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'prompt']);
    assert.doesNotMatch(vehicle.output.join('\n'), /trusts no release signing key/);
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

  await t.test('a release signed by a key the vehicle does not trust is refused before it is downloaded or offered', async (t) => {
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAKEYS0000001', (config) => { config.trustedKeys = [publicKeyToText(generateSigningKey().publicKey)]; });
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto']);
    const refused = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: refusing the release: /);
    assert.match(refused.msg as string, /EDT: edt-2\.0\.0\.bin: release manifest has no valid signature by a trusted key \(signed by: [0-9a-f]{12}\)$/);
    await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: failed$/);
    assert.deepEqual(logLines(vehicle, /^new release: downloading$|^cgw offer shown to the driver$/), []);
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '1.0.0');
    const [report] = await pendingReports(stateDir);
    assert.deepEqual([report?.outcome, report?.updates[0]?.result], ['failed', 'failed']);
    // Deferred: the next polls do not refuse (and report) it again.
    await sleep(1500);
    assert.equal((await pendingReports(stateDir)).length, 1);
  });

  await t.test('a server without the vehicle API (only the seed\'s routes): no manifest, so a vehicle that trusts keys installs nothing', async (t) => {
    // The same server behind a proxy that answers 404 for /api/v1/…: what a server of the seed's generation says.
    const seedOnly = await startFaultProxy({ host: server.host, port: server.port }, () => ({
      intercept: (line) => (/ \/api\/v1\//.test(line)
        ? { status: 404, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"error":"not found"}') }
        : undefined),
    }));
    t.after(() => seedOnly.close());
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTANVMAN1FEST1', (config) => { config.trustedKeys = [trustedKey]; });
    const vehicle = await startVehicle(seedOnly.url, stateDir, ['--approve', 'auto']);
    const refused = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16}: refusing the release: /);
    assert.match(refused.msg as string, /EDT: edt-2\.0\.0\.bin comes without a signed manifest, and this vehicle installs only releases signed by a trusted key$/);
    assert.ok(seedOnly.requests.some((line) => line.startsWith('GET /latest_version ')), 'it fell back to /latest_version');
    assert.ok(!seedOnly.requests.some((line) => line.startsWith('GET /get_nonce')), 'nothing was downloaded');
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '1.0.0');
  });

  await t.test('a signed release for other hardware (hardware_id) reaches EDT, whose check refuses it', async (t) => {
    // EDT comes in two hardware variants (the registry refuses releases for any other); this car's is A1.
    await server.put('/api/v1/ecus/EDT', { hardware_ids: ['EDT-HW-A1', 'EDT-HW-Z9'] });
    await server.upload('edt-2.1.0.bin', firmware(30_000), { ecu: 'EDT', firmware_version: '2.1.0', hardware_id: 'EDT-HW-Z9' });
    const stateDir = await carDir(t);
    await writeCar(stateDir, 'WCANTAHARDWARE001', (config) => { config.trustedKeys = [trustedKey]; });
    const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto']);
    const refused = await waitForLog(vehicle, /^image refused$/, 20_000);
    assert.equal(refused.reason, 'release is for hardware EDT-HW-Z9, this ECU is EDT-HW-A1');
    await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: failed$/);
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '1.0.0');
  });
});
