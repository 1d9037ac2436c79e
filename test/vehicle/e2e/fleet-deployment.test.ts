import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOtaServer } from '../../support/ota-server.ts';
import type { CanotaProcess } from '../../support/canota-process.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';
import { carDir, firmware, logLines, startVehicle, vehicleStatus, waitForLog, writeCar } from './support.ts';

const vin = (n: number) => `WCANTAFLT0000000${n}`;

interface Deployment { status: string; status_reason: string | null; current_wave: number; counts: Record<string, number> }

/**
 * Five real `canota vehicle` processes (each its TMU, CGW and EDT on its own in-process buses) against one
 * real server: a deployment in three waves reaches exactly the wave's cars, pauses when a car's install fails
 * past the threshold, goes on when resumed, counts a driver's decline, and finishes; a cancelled deployment
 * offers nothing more. The car with other EDT hardware fails; the fifth car's driver declines.
 */
test('a deployment to five real vehicles in waves: exactly each wave\'s cars update, a failure pauses it, resume, a decline, finished; cancel stops new offers', async (t) => {
  const server = await startOtaServer(t);
  const cars: { vin: string; stateDir: string; process: CanotaProcess }[] = [];
  for (let n = 1; n <= 5; n++) {
    const token = await registerVehicle(server.dataDir, vin(n));
    const stateDir = await carDir(t);
    await writeCar(stateDir, vin(n), (config) => {
      // Car 3's EDT is other hardware: the release (for EDT-HW-A1) fails on it.
      if (n === 3) config.ecus.find((ecu) => ecu.name === 'EDT')!.hardwareId = 'EDT-HW-B2';
    });
    const process = await startVehicle(server.url, stateDir, ['--approve', n === 5 ? 'decline' : 'auto', '--token', token]);
    cars.push({ vin: vin(n), stateDir, process });
  }
  await Promise.all(cars.map((car) => waitForLog(car.process, /^up to date$/)));
  const edt = await server.upload('edt-2.0.0.bin', firmware(30_000), { ecu: 'EDT', firmware_version: '2.0.0', hardware_id: 'EDT-HW-A1' });
  const offered = (n: number) => logLines(cars[n - 1]!.process, /^new releases: campaign/).length > 0;
  const deployment = (id: number) => server.adminJson<Deployment>(`/api/v1/deployments/${id}`);
  const until = async (id: number, check: (d: Deployment) => boolean, what: string, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    let last = await deployment(id);
    while (!check(last)) {
      if (Date.now() > deadline) throw new Error(`deployment ${id}: ${what} did not happen: ${JSON.stringify(last)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      last = await deployment(id);
    }
    return last;
  };

  const id = await server.deploy([(edt.release as { id: number }).id], { vins: cars.map((car) => car.vin) }, {
    waves: [{ count: 2 }, { count: 2 }, { count: 1 }], failure_threshold_percent: 30,
  });

  await t.test('wave 1: cars 1 and 2 update; cars 3 to 5 are offered nothing meanwhile', async () => {
    await until(id, (d) => d.counts.succeeded === 2, 'wave 1 succeeding');
    for (const n of [1, 2]) assert.equal((await vehicleStatus(cars[n - 1]!.stateDir)).ecus.EDT!.version, '2.0.0', `car ${n}`);
    assert.equal(offered(5), false, 'car 5 is in wave 3');
  });

  await t.test('wave 2: car 3 fails (other hardware), one of two is over 30 %: paused, car 5 still offered nothing', async () => {
    const paused = await until(id, (d) => d.status === 'paused', 'the pause');
    assert.equal(paused.status_reason, 'wave 2: 1 of 2 vehicles failed, over the 30% threshold');
    assert.equal((await vehicleStatus(cars[2]!.stateDir)).ecus.EDT!.version, '1.0.0', 'car 3 stays on its old version');
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(offered(5), false, 'paused: wave 3 does not start');
  });

  await t.test('resumed: car 4 finishes wave 2, wave 3 starts, car 5\'s driver declines, the deployment finishes', async () => {
    await server.post(`/api/v1/deployments/${id}/resume`, { reason: 'car 3 is a prototype' });
    const done = await until(id, (d) => d.status === 'finished', 'the end');
    assert.deepEqual({ succeeded: done.counts.succeeded, failed: done.counts.failed, declined: done.counts.declined },
      { succeeded: 3, failed: 1, declined: 1 });
    assert.equal((await vehicleStatus(cars[3]!.stateDir)).ecus.EDT!.version, '2.0.0', 'car 4');
    assert.equal((await vehicleStatus(cars[4]!.stateDir)).ecus.EDT!.version, '1.0.0', 'car 5 declined');
    await waitForLog(cars[4]!.process, new RegExp(`^campaign ${id} reported: declined$`));
  });

  await t.test('cancel stops new offers: wave 2 of a CGW deployment waiting for approval is never offered', async () => {
    const cgw = await server.upload('cgw-1.1.0.bin', firmware(20_000), { ecu: 'CGW', firmware_version: '1.1.0' });
    const second = await server.deploy([(cgw.release as { id: number }).id], { vins: [vin(1), vin(2), vin(4)] }, {
      waves: [{ count: 1 }, { count: 2 }], require_approval: true,
    });
    await until(second, (d) => d.status === 'waiting', 'wave 1 done, waiting for an operator');
    await server.post(`/api/v1/deployments/${second}/cancel`, { reason: 'changed our mind' });
    const cancelled = await deployment(second);
    assert.deepEqual([cancelled.status, cancelled.counts.succeeded, cancelled.counts.cancelled], ['cancelled', 1, 2]);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const n of [2, 4]) {
      assert.equal(logLines(cars[n - 1]!.process, new RegExp(`^new releases: campaign ${second} `)).length, 0, `car ${n} was never offered`);
      assert.equal((await vehicleStatus(cars[n - 1]!.stateDir)).ecus.CGW!.version, '1.0.0');
    }
  });

  await t.test('every state change is in the audit log', async () => {
    const { entries } = await server.adminJson<{ entries: { event: string; subject: string; actor: string; details: { to?: string } }[] }>('/api/v1/audit?event=deployment.vehicle');
    const changes = entries.filter((e) => e.subject === `deployment ${id}`).map((e) => `${e.actor}:${e.details.to}`);
    for (const expected of [`${vin(1)}:succeeded`, `${vin(3)}:failed`, `${vin(4)}:succeeded`, `${vin(5)}:declined`, `${vin(5)}:offered`, `${vin(2)}:installing`]) {
      assert.ok(changes.includes(expected), `${expected} is audited`);
    }
    const operator = await server.adminJson<{ entries: { event: string }[] }>('/api/v1/audit?event=deployment.resume');
    assert.equal(operator.entries.length, 1);
  });
});
