import { test } from 'node:test';
import assert from 'node:assert/strict';
import { listeningPattern, startCanota } from '../../support/canota-process.ts';
import { Uploader, startOtaServer } from '../../support/ota-server.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';
import { carDir, firmware, pendingReports, startVehicle, waitForLog, writeCar, type VehicleHistory } from './support.ts';

const VIN = 'WCANTAREP0RTS0001';

test('a report made while the server is down waits in the state dir and reaches the server once it is back', async (t) => {
  const server = await startOtaServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  await server.upload('edt-2.0.0.bin', firmware(40_000), { ecu: 'EDT', firmware_version: '2.0.0' });
  const deployment = await server.deploy([1], { vins: [VIN] });
  const stateDir = await carDir(t);
  await writeCar(stateDir, VIN);
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'prompt', '--token', token]);
  await vehicle.waitFor(/^ {2}EDT: 1\.0\.0 -> 2\.0\.0 \(/, 15_000);

  // The server goes away while the driver thinks; the driver says no.
  assert.equal(await server.process.stop(), 0);
  vehicle.child.stdin.write('n\n');
  const kept = await waitForLog(vehicle, /^report kept for later \(1 waiting\): /);
  assert.equal(kept.failure, 'unreachable');
  await waitForLog(vehicle, new RegExp(`^campaign ${deployment} reported: declined$`));
  const [waiting] = await pendingReports(stateDir);
  assert.equal(waiting?.outcome, 'declined');

  // Back on the same address: the next poll sends it.
  const again = await startCanota(['server', '--port', String(server.port), '--data-dir', server.dataDir], { ready: listeningPattern });
  t.after(() => again.stop());
  const sent = await waitForLog(vehicle, /^report sent to the server$/, 15_000);
  assert.equal(sent.outcome, 'declined');
  assert.deepEqual(await pendingReports(stateDir), []);
  const admin = new Uploader(server.url);
  t.after(() => admin.close());
  const history = await admin.json<VehicleHistory>(`/api/v1/vehicles/${VIN}`);
  assert.deepEqual(history.reports.map((report) => [report.campaign_id, report.outcome]), [[waiting!.campaign_id, 'declined']]);
  assert.equal(history.vehicle.ecus.EDT?.version, '1.0.0');
  // The late report still counts: the deployment has its decline.
  const shown = await admin.json<{ status: string; counts: Record<string, number> }>(`/api/v1/deployments/${deployment}`);
  assert.deepEqual([shown.status, shown.counts.declined], ['finished', 1]);
});
