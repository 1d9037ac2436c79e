import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLog } from '../../../src/server/audit/audit-log.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import {
  DeploymentConflictError, DeploymentInputError, DeploymentService, toldToInstall,
} from '../../../src/server/deployments/deployment-service.ts';
import { TargetError } from '../../../src/server/deployments/target.ts';
import { testStorage } from '../support/storage.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

const vin = (n: number) => `KMHDEPLY${String(n).padStart(9, '0')}`;

/** A server's storage with `vehicles` registered (EDT at 1.0.0), releases EDT 2.0.0 and CGW 1.1.0, and a settable clock. */
async function fleet(storage: Storage, vehicles: number) {
  let now = 1_800_000_000_000;
  const audit = new AuditLog(storage.audit, createLogger({ name: 'test', level: 'silent' }));
  const service = new DeploymentService(storage, audit, () => now);
  const ids: number[] = [];
  for (let n = 1; n <= vehicles; n++) {
    const vehicle = await storage.vehicles.add({ vin: vin(n), tokenHash: `${n}`.padStart(64, '0'), now });
    ids.push(vehicle.id);
    await storage.vehicleReports.add({
      vehicleId: vehicle.id, receivedAt: now, reportedAt: now, campaignId: null, outcome: 'success', message: '', ip: null, body: '{}',
      ecus: [{ ecu: 'EDT', version: n % 2 === 0 ? '1.0.0' : '2.0.0', sha256: null, active_bank: 'A', state: 'running' }], updates: [],
    });
  }
  const release = (ecu: string, version: string) => storage.releases.add({
    filename: `${ecu}-${version}.bin`, sha256: `${ecu}${version}`.padEnd(64, '0'), size: 1000, ecu, firmware_version: version,
    notes: null, uploaded_by: 'alice', uploaded_at: now,
  });
  const edt = await release('EDT', '2.0.0');
  const cgw = await release('CGW', '1.1.0');
  const states = async (id: number) => Object.fromEntries((await storage.deployments.vehicles(id, { limit: 1000, offset: 0 })).map((v) => [v.vin, `${v.wave}:${v.state}`]));
  return {
    service, ids, edt, cgw, states, audit,
    tick: (ms: number) => { now += ms; },
    at: () => now,
  };
}

async function withStorage(t: TestContext): Promise<Storage> {
  return testStorage(t);
}

test('a deployment in two waves: the second starts when the first is done; a decline counts as done; it finishes', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 4);
  const deployment = await f.service.create({
    name: 'EDT 2.0.0 pilot', releaseIds: [f.edt.id, f.cgw.id], target: { vins: [vin(3), vin(1), vin(2), vin(4)] }, waves: [{ count: 2 }, { percent: 100 }],
  }, 'alice');
  assert.equal(deployment.status, 'running');
  assert.equal(deployment.current_wave, 1);
  assert.deepEqual(await f.states(deployment.id), { [vin(3)]: '1:assigned', [vin(1)]: '1:assigned', [vin(2)]: '2:waiting', [vin(4)]: '2:waiting' },
    'given VINs keep their order: the first two make the first wave');

  await f.service.recordVehicleState(deployment.id, f.ids[2]!, { state: 'downloading', percent: 40 });
  await f.service.recordVehicleState(deployment.id, f.ids[2]!, { state: 'succeeded' });
  assert.equal((await storage.deployments.find(deployment.id))!.current_wave, 1, 'one of two done: still wave 1');
  await f.service.recordVehicleState(deployment.id, f.ids[0]!, { state: 'declined' });
  const second = (await storage.deployments.find(deployment.id))!;
  assert.equal(second.current_wave, 2);
  assert.equal(second.status, 'running');
  assert.deepEqual(await f.states(deployment.id), { [vin(3)]: '1:succeeded', [vin(1)]: '1:declined', [vin(2)]: '2:assigned', [vin(4)]: '2:assigned' });

  // A late progress message does not undo an end.
  assert.equal(await f.service.recordVehicleState(deployment.id, f.ids[2]!, { state: 'installing', percent: 90 }), 'succeeded');
  await f.service.recordVehicleState(deployment.id, f.ids[1]!, { state: 'succeeded' });
  await f.service.recordVehicleState(deployment.id, f.ids[3]!, { state: 'succeeded' });
  const done = (await storage.deployments.find(deployment.id))!;
  assert.equal(done.status, 'finished');
  assert.equal(done.status_reason, 'all 2 waves done');
  const history = (await storage.deployments.events(deployment.id)).filter((e) => e.vehicle_id === null).map((e) => e.state);
  assert.deepEqual(history, ['running', 'running', 'finished']);
  const audited = (await f.audit.list({ limit: 100 })).map((e) => e.event).reverse();
  assert.deepEqual(audited.filter((e) => e.startsWith('deployment.') || e.startsWith('software')), [
    'software-set.create', 'deployment.create', 'deployment.vehicle', 'deployment.vehicle', 'deployment.vehicle', 'deployment.status',
    'deployment.vehicle', 'deployment.vehicle', 'deployment.status',
  ]);
});

test('failures past the threshold pause the deployment; an operator resumes, approves the next wave, cancels', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 6);
  const deployment = await f.service.create({
    name: 'careful', releaseIds: [f.edt.id], target: { all: true }, waves: [{ count: 4 }, { count: 2 }], failureThresholdPercent: 25, requireApproval: true,
  }, 'alice');
  const vehicles = await storage.deployments.vehicles(deployment.id, { limit: 10, offset: 0 });
  const wave1 = vehicles.filter((v) => v.wave === 1).map((v) => v.vehicle_id);
  const wave2 = vehicles.filter((v) => v.wave === 2).map((v) => v.vehicle_id);
  assert.equal(wave1.length, 4);

  await f.service.recordVehicleState(deployment.id, wave1[0]!, { state: 'failed', reason: 'EDT: boot check failed' });
  assert.equal((await storage.deployments.find(deployment.id))!.status, 'running', '1 of 4 = 25 %: at the threshold, not over it');
  await f.service.recordVehicleState(deployment.id, wave1[1]!, { state: 'rolled-back' });
  const paused = (await storage.deployments.find(deployment.id))!;
  assert.equal(paused.status, 'paused');
  assert.equal(paused.status_reason, 'wave 1: 2 of 4 vehicles failed, over the 25% threshold');
  assert.equal(toldToInstall('paused', 'assigned'), false, 'paused: nothing new is offered');
  assert.equal(toldToInstall('paused', 'installing'), true, 'but a car that is installing finishes');

  await assert.rejects(f.service.act(deployment.id, 'pause', 'bob'), (error: unknown) => error instanceof DeploymentConflictError && /it is paused/.test(error.message));
  const resumed = await f.service.act(deployment.id, 'resume', 'bob', null, 'root cause found: bad batch');
  assert.equal(resumed.status, 'running', 'resuming accepts the failures so far');
  assert.equal(resumed.accepted_failures, 2);
  await f.service.recordVehicleState(deployment.id, wave1[2]!, { state: 'refused', reason: 'EDT: 1.5.0 is older than the installed 2.0.0' });
  const again = (await storage.deployments.find(deployment.id))!;
  assert.equal(again.status, 'paused', 'a new failure past the threshold pauses it again');
  assert.equal(again.status_reason, 'wave 1: 3 of 4 vehicles failed, over the 25% threshold');

  // The operator decides to go on anyway: advance starts wave 2 whatever wave 1 did.
  const advanced = await f.service.act(deployment.id, 'advance', 'bob');
  assert.equal(advanced.status, 'running');
  assert.equal(advanced.current_wave, 2);
  assert.equal(advanced.accepted_failures, 0, 'a new wave starts with none accepted');
  await assert.rejects(f.service.act(deployment.id, 'advance', 'bob'), /wave 2 is its last/);
  await f.service.recordVehicleState(deployment.id, wave2[0]!, { state: 'installing', ecu: 'EDT', percent: 10 });
  const cancelled = await f.service.act(deployment.id, 'cancel', 'bob', null, 'superseded');
  assert.equal(cancelled.status, 'cancelled');
  const states = Object.fromEntries((await storage.deployments.vehicles(deployment.id, { limit: 10, offset: 0 })).map((v) => [v.vehicle_id, v.state]));
  assert.equal(states[wave2[0]!], 'installing', 'the car installing finishes');
  assert.equal(states[wave2[1]!], 'cancelled', 'the car that had not started is told nothing more');
  assert.equal(states[wave1[3]!], 'cancelled');
  await assert.rejects(f.service.act(deployment.id, 'resume', 'bob'), DeploymentConflictError);
  await f.service.recordVehicleState(deployment.id, wave2[0]!, { state: 'succeeded' });
  assert.equal((await storage.deployments.find(deployment.id))!.status, 'cancelled', 'a cancelled deployment stays cancelled');
});

test('a car an operator left behind by advancing is still waited for: the deployment finishes when every started wave is done', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 2);
  const deployment = await f.service.create({ name: 'stragglers', releaseIds: [f.edt.id], target: { vins: [vin(1), vin(2)] }, waves: [{ count: 1 }, { count: 1 }] }, 'alice');
  await f.service.act(deployment.id, 'advance', 'bob');
  await f.service.recordVehicleState(deployment.id, f.ids[1]!, { state: 'succeeded' });
  const waiting = (await storage.deployments.find(deployment.id))!;
  assert.equal(waiting.status, 'running', 'wave 2 is done, but the car of wave 1 is not');
  assert.equal(toldToInstall(waiting.status, 'assigned'), true, 'and it is still told to install');
  await f.service.recordVehicleState(deployment.id, f.ids[0]!, { state: 'succeeded' });
  assert.equal((await storage.deployments.find(deployment.id))!.status, 'finished');
});

test('waiting for approval between waves; a scheduled start; an inventory filter', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 6);
  const later = await f.service.create({
    name: 'tonight', releaseIds: [f.edt.id], target: { filter: { ecu: 'edt', version_below: '2.0.0' } }, waves: [{ count: 1 }, { percent: 100 }],
    requireApproval: true, startAt: f.at() + 60_000,
  }, 'alice');
  assert.equal(later.status, 'scheduled');
  assert.deepEqual(Object.keys(await f.states(later.id)).sort(), [vin(2), vin(4), vin(6)], 'only the cars whose EDT is below 2.0.0');
  assert.ok(Object.values(await f.states(later.id)).every((s) => s.endsWith(':waiting')));
  await f.service.startDue();
  assert.equal((await storage.deployments.find(later.id))!.status, 'scheduled', 'not before its time');
  f.tick(60_000);
  await f.service.startDue();
  const started = (await storage.deployments.find(later.id))!;
  assert.equal(started.status, 'running');
  const first = (await storage.deployments.vehicles(later.id, { state: 'assigned', limit: 10, offset: 0 }));
  assert.equal(first.length, 1);
  await f.service.recordVehicleState(later.id, first[0]!.vehicle_id, { state: 'succeeded' });
  const waiting = (await storage.deployments.find(later.id))!;
  assert.equal(waiting.status, 'waiting');
  assert.equal(waiting.status_reason, 'wave 1 done: waiting for an operator to advance');
  assert.equal((await storage.deployments.vehicles(later.id, { state: 'assigned', limit: 10, offset: 0 })).length, 0);
  const second = await f.service.act(later.id, 'advance', 'bob');
  assert.equal(second.current_wave, 2);
  assert.equal((await storage.deployments.vehicles(later.id, { state: 'assigned', limit: 10, offset: 0 })).length, 2);
});

test('a target by tags: vehicles carrying every tag given', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 4);
  await storage.vehicleTags.change(f.ids[0]!, { set: ['berlin', 'pilot'] }, 16);
  await storage.vehicleTags.change(f.ids[1]!, { set: ['pilot'] }, 16);
  await storage.vehicleTags.change(f.ids[2]!, { set: ['berlin'] }, 16);
  const both = await f.service.create({ name: 'pilots in berlin', releaseIds: [f.edt.id], target: { tags: ['pilot', 'berlin'] } }, 'alice');
  assert.deepEqual(Object.keys(await f.states(both.id)), [vin(1)]);
  const pilots = await f.service.create({ name: 'pilots', releaseIds: [f.edt.id], target: { tags: ['pilot'], filter: { ecu: 'EDT', version: '1.0.0' } } }, 'alice');
  assert.deepEqual(Object.keys(await f.states(pilots.id)), [vin(2)], 'tags and a filter narrow each other (vehicle 1 runs EDT 2.0.0)');
  await assert.rejects(f.service.create({ name: 'x', releaseIds: [f.edt.id], target: { tags: ['Pilot'] } }, 'alice'), /tags: bad tag "Pilot"/);
  await assert.rejects(f.service.create({ name: 'x', releaseIds: [f.edt.id], target: { tags: ['nobody'] } }, 'alice'), /matches no registered vehicle/);
});

test('bad deployments are refused with the reason, nothing stored', async (t) => {
  const storage = await withStorage(t);
  const f = await fleet(storage, 2);
  const base = { name: 'x', releaseIds: [f.edt.id], target: { all: true } };
  const refusals: [object, RegExp][] = [
    [{ name: ' ' }, /needs a name/],
    [{ name: 'a\u0007b' }, /plain text/],
    [{ releaseIds: [] }, /1 to 32 release ids/],
    [{ releaseIds: [999] }, /no release 999/],
    [{ releaseIds: [f.edt.id, f.edt.id, f.cgw.id] }, /^$/],
    [{ releaseIds: undefined }, /give release_ids or software_set_id/],
    [{ softwareSetId: 5 }, /give release_ids or software_set_id/],
    [{ target: {} }, /a target needs/],
    [{ target: { all: true, vins: [vin(1)] } }, /cannot be combined/],
    [{ target: { vins: ['KMHUNKNWN00000001'] } }, /not registered: KMHUNKNWN00000001/],
    [{ target: { vins: ['short'] } }, /vins: bad VIN/],
    [{ target: { filter: { ecu: 'EDT', version_below: '1.0.0' } } }, /matches no registered vehicle/],
    [{ target: { filter: { ecu: 'EDT' } } }, /version_below or version/],
    [{ waves: [{ count: 0 }] }, /count must be/],
    [{ failureThresholdPercent: 101 }, /failure_threshold_percent/],
  ];
  for (const [change, message] of refusals) {
    if (message.source === '^$') {
      // The same release twice is one release: accepted.
      const ok = await f.service.create({ ...base, ...change } as never, 'alice');
      assert.equal(ok.status, 'running');
      continue;
    }
    await assert.rejects(f.service.create({ ...base, ...change } as never, 'alice'),
      (error: unknown) => (error instanceof DeploymentInputError || error instanceof TargetError) && message.test(error.message), `${JSON.stringify(change)}`);
  }
  await storage.releases.withdraw({ id: f.cgw.id, by: 'alice', at: f.at(), reason: null });
  await assert.rejects(f.service.create({ ...base, releaseIds: [f.cgw.id] }, 'alice'), /was withdrawn/);
  assert.equal(await storage.deployments.count(), 1, 'only the accepted one');
});

test('the same on a real PostgreSQL: waves, threshold, several servers settling at once', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const url = await postgres.createDatabase();
  const storage = await openStorage(url);
  const other = await openStorage(url);
  const f = await fleet(storage, 4);
  const deployment = await f.service.create({ name: 'pg', releaseIds: [f.edt.id], target: { all: true }, waves: [{ count: 2 }, { count: 2 }] }, 'alice');
  const there = new DeploymentService(other, new AuditLog(other.audit, createLogger({ name: 'test', level: 'silent' })), f.at);
  const wave1 = (await storage.deployments.vehicles(deployment.id, { state: 'assigned', limit: 10, offset: 0 })).map((v) => v.vehicle_id);
  // The wave's two last reports reach two servers at the same moment: wave 2 starts once.
  await Promise.all([
    f.service.recordVehicleState(deployment.id, wave1[0]!, { state: 'succeeded' }),
    there.recordVehicleState(deployment.id, wave1[1]!, { state: 'succeeded' }),
  ]);
  const after = (await storage.deployments.find(deployment.id))!;
  assert.equal(after.current_wave, 2);
  assert.equal((await storage.deployments.vehicles(deployment.id, { state: 'assigned', limit: 10, offset: 0 })).length, 2);
  const starts = (await storage.deployments.events(deployment.id)).filter((e) => e.vehicle_id === null && e.detail?.includes('wave 2 started'));
  assert.ok(starts.length <= 1, 'wave 2 started once');
  await storage.close();
  await other.close();
});
