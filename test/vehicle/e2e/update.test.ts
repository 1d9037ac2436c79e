import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCandump } from '../../../src/can/log/index.ts';
import { runCanota } from '../../support/canota-process.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';
import {
  carDir, firmware, logLines, pendingReports, sha256, startVehicle, tmuState, vehicleStatus, waitForLog, writeCar, type VehicleHistory,
} from './support.ts';

const VIN = 'WCANTAE2E00000001';

test('canota vehicle --approve auto: a deployment of EDT is detected within one poll, offered, flashed into the inactive bank, activated and reported', async (t) => {
  const server = await startOtaServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  const stateDir = await carDir(t);
  await writeCar(stateDir, VIN);
  const logCan = join(stateDir, 'bus.log');
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'auto', '--log-can', logCan, '--token', token]);
  assert.match(vehicle.output.join('\n'), /WARNING: driver approval policy "auto"/);
  await waitForLog(vehicle, /^up to date$/);

  const image = firmware(200_000);
  await server.upload('edt-2.0.0.bin', image, { ecu: 'EDT', firmware_version: '2.0.0', notes: 'Smoother torque.' });
  // A registered car is told what its deployments assign: the upload alone changes nothing for it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal(logLines(vehicle, /^new releases/).length, 0, 'not deployed yet: nothing offered');
  const deployedAt = performance.now();
  const deployment = await server.deploy([1], { vins: [VIN] });

  // Detected at the next poll (--interval 1, ±10 %), then downloaded, offered and approved by the policy.
  const planned = await waitForLog(vehicle, /^new releases: campaign \d+ \(EDT 1\.0\.0→2\.0\.0\)$/, 10_000);
  assert.ok(performance.now() - deployedAt < 1100 + 2000, `detected ${Math.round(performance.now() - deployedAt)} ms after the deployment`);
  const campaign = planned.campaign as string;
  assert.equal(campaign, String(deployment), 'the deployment\'s id is the campaign id');
  const offer = await waitForLog(vehicle, /^cgw offer shown to the driver$/);
  assert.equal(offer.campaign, campaign);
  assert.deepEqual(offer.ecus, ['EDT 1.0.0→2.0.0']);
  await waitForLog(vehicle, /^cgw firewall open$/);
  const done = await waitForLog(vehicle, new RegExp(`^campaign ${campaign} reported: success$`), 30_000);
  assert.equal(done.outcome, 'success');

  // EDT: the new image in bank B, byte for byte, and running.
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), image);
  const status = await vehicleStatus(stateDir);
  assert.equal(status.vin, VIN);
  const edt = status.ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.sha256, edt.state], ['2.0.0', 'B', sha256(image), 'ok']);
  // Confirmed once every target ran its new image: 2.0.0 is the floor, 1.0.0 (still in bank A) is out of reach.
  assert.deepEqual([edt.confirmed, edt.floor, edt.banks!.A.version], [true, '2.0.0', '1.0.0']);
  assert.equal(status.ecus.CGW!.version, '1.0.0');
  assert.equal(status.ecus.TMU!.version, '1.0.0');
  // The firewall closed again at the end (the TMU's stop).
  await waitForLog(vehicle, /^cgw firewall closed$/);
  // `vehicle status` shows the gateway's counters too (flushed when the firewall closes): the flash crossed it.
  let gateway = (await vehicleStatus(stateDir)).gateway;
  for (let tries = 0; gateway?.firewall.open !== false && tries < 50; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    gateway = (await vehicleStatus(stateDir)).gateway;
  }
  assert.equal(gateway?.firewall.open, false);
  assert.equal(gateway.firewall.closeReason, 'stop');
  assert.ok((gateway.segments.cant?.forwarded['0x730'] ?? 0) > 200_000 / 64, 'the image crossed the gateway');
  // What the CGW was not told to route stays on its segment, counted: the TMU's own status frame (0x520).
  assert.ok((gateway.segments.cant?.dropped['0x520'] ?? 0) > 0, 'TMU_Status is dropped at the gateway');
  assert.equal(gateway.segments.canb?.forwarded['0x520'], undefined);

  // The HMI heard the progress; the TMU logged each step of the flash.
  const phases = new Set(logLines(vehicle, /^flashing$/).filter((line) => line.ecu === 'EDT').map((line) => line.phase));
  assert.deepEqual([...phases], ['erasing', 'programming', 'checking', 'resetting']);

  // The report reached the server under the vehicle's token: nothing waits in tmu/reports/.
  assert.equal(logLines(vehicle, /^report sent to the server$/).length, 1);
  assert.deepEqual(await pendingReports(stateDir), []);
  const history = await server.adminJson<VehicleHistory>(`/api/v1/vehicles/${VIN}`);
  const [report] = history.reports;
  assert.equal(report?.campaign_id, campaign);
  assert.equal(report?.outcome, 'success');
  assert.deepEqual(report?.updates, [{ ecu: 'EDT', from: '1.0.0', to: '2.0.0', release_id: '1', result: 'installed', error: null }]);
  assert.deepEqual(history.vehicle.ecus.EDT && { ...history.vehicle.ecus.EDT, reported_at: undefined },
    { version: '2.0.0', sha256: sha256(image), active_bank: 'B', state: 'Running', hardware_id: 'EDT-HW-A1', reported_at: undefined });
  assert.equal(history.vehicle.ecus.CGW?.version, '1.0.0');
  assert.equal(history.vehicle.ecus.TMU?.version, '1.0.0');
  assert.equal((await tmuState(stateDir)).phase, 'idle');
  // The deployment followed the car: offered, downloading, installing, then its report's success.
  const shown = await server.adminJson<{ status: string; counts: Record<string, number> }>(`/api/v1/deployments/${deployment}`);
  assert.equal(shown.status, 'finished');
  assert.equal(shown.counts.succeeded, 1);
  const steps = (await server.adminJson<{ events: { vin: string | null; state: string }[] }>(`/api/v1/deployments/${deployment}/history`))
    .events.filter((e) => e.vin === VIN).map((e) => e.state);
  assert.deepEqual(steps, ['downloading', 'offered', 'installing', 'succeeded']);

  await t.test('up to date afterwards; a deployment of a lower version is refused by the car as a downgrade, and the deployment says so', async () => {
    await waitForLog(vehicle, /^up to date$/);
    await server.upload('edt-1.5.0.bin', firmware(50_000), { ecu: 'EDT', firmware_version: '1.5.0' });
    const downgrade = await server.deploy([2], { vins: [VIN] });
    const refused = await waitForLog(vehicle, /^refusing downgrade of EDT from 2\.0\.0 to 1\.5\.0 \(possible rollback attack\)$/, 10_000);
    assert.equal(refused.level, 40);
    await waitForLog(vehicle, new RegExp(`^deployment ${downgrade}: nothing installable: EDT: 1\\.5\\.0 is older than the installed 2\\.0\\.0`));
    let shown = await server.adminJson<{ status: string; status_reason: string; counts: Record<string, number> }>(`/api/v1/deployments/${downgrade}`);
    for (let tries = 0; shown.counts.refused !== 1 && tries < 50; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      shown = await server.adminJson(`/api/v1/deployments/${downgrade}`);
    }
    assert.equal(shown.counts.refused, 1, 'the car\'s refusal reached the deployment');
    assert.equal(shown.status, 'paused', 'one refusal of one car is over the 5 % threshold');
    const [row] = (await server.adminJson<{ vehicles: { reason: string }[] }>(`/api/v1/deployments/${downgrade}/vehicles`)).vehicles;
    assert.match(row!.reason, /older than the installed 2\.0\.0 \(refused as a possible rollback attack\)/);
    // Another poll later: still nothing planned.
    const polls = vehicle.output.length;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(vehicle.output.slice(polls).filter((line) => /new releases|offer shown/.test(line)).length, 0);
    assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.version, '2.0.0');
  });

  await t.test('a second canota vehicle on the same state dir is refused (exit 1), the first runs on', async () => {
    const second = await runCanota(['vehicle', '--server', server.url, '--state-dir', stateDir, '--approve', 'auto']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /is in use by another canota vehicle: another client \(pid \d+\) is using the state dir/);
    assert.equal(vehicle.child.exitCode, null);
  });

  await t.test('SIGTERM stops the car cleanly; the candump log holds the update\'s traffic on both segments', async () => {
    assert.equal(await vehicle.stop(), 0);
    await waitForLog(vehicle, new RegExp(`^vehicle ${VIN} stopped$`));
    assert.ok((await stat(logCan)).size > 0);
    const frames = parseCandump(await readFile(logCan, 'utf8'));
    const seen = (channel: string, id: number) => frames.some((frame) => frame.channel === channel && frame.id === id);
    assert.ok(seen('cant', 0x710) && seen('cant', 0x718), 'TMU ↔ CGW approval on CAN-T');
    assert.ok(seen('cant', 0x730) && seen('canb', 0x730) && seen('canb', 0x738) && seen('cant', 0x738), 'EDT flashed through the gateway');
    assert.ok(seen('canb', 0x530) && seen('cant', 0x530), 'EDT_Status forwarded to CAN-T');
    assert.ok(seen('cant', 0x510) && seen('cant', 0x520) && !seen('canb', 0x520), 'CGW_Status and TMU_Status on CAN-T, the TMU\'s not forwarded');
  });
});

test('canota vehicle usage errors exit 2; vehicle status keeps its own options', async (t) => {
  const stateDir = await carDir(t);
  const missing = await runCanota(['vehicle', '--state-dir', stateDir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs --server/);
  const approve = await runCanota(['vehicle', '--server', 'http://127.0.0.1:9', '--approve', 'maybe', '--state-dir', stateDir]);
  assert.equal(approve.code, 2);
  assert.match(approve.stderr, /unknown --approve "maybe"/);
  const external = await runCanota(['vehicle', '--server', 'http://127.0.0.1:9', '--external', 'EDT', '--state-dir', stateDir]);
  assert.equal(external.code, 2);
  assert.match(external.stderr, /--bus udp-multicast/);
  const driving = await runCanota(['vehicle', '--server', 'http://127.0.0.1:9', '--driving', '--bus', 'udp-multicast', '--external', 'EDT', '--state-dir', stateDir]);
  assert.equal(driving.code, 2);
  assert.match(driving.stderr, /--driving is the drive input of EDT, which does not run in this process \(give it to canota ecu EDT\)/);
  const interval = await runCanota(['vehicle', '--server', 'http://127.0.0.1:9', '--interval', 'soon']);
  assert.equal(interval.code, 2);
  const downgrade = await runCanota(['vehicle', '--server', 'http://127.0.0.1:9', '--allow-downgrade', '--state-dir', stateDir]);
  assert.equal(downgrade.code, 2);
  assert.match(downgrade.stderr, /do not apply to canota vehicle/);
  // `status --state-dir` is status's own option, not the car's.
  await writeCar(stateDir, VIN);
  const status = await runCanota(['vehicle', 'status', '--state-dir', stateDir, '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { vin: string }).vin, VIN);
});
