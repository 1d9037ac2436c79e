import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import { TooManyTagsError, vehicleIdsWithAllTags } from '../../../src/server/storage/vehicle-tags.ts';
import { parseVehicleQuery, vehicleSearch } from '../../../src/server/vehicles/vehicle-query.ts';
import { testStorage } from '../support/storage.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

const now = 1_800_000_000_000;
const window = 300_000;

/** Seven vehicles: registered a minute apart, seen (or never) at different times, with EDT versions that text order gets wrong. */
const fleet = [
  { vin: 'WCANTA00000000001', edt: '1.0.0', hw: 'EDT-HW-A1', seen: now - 10_000, tags: ['pilot', 'fleet-berlin'] },
  { vin: 'WCANTA00000000002', edt: '1.10.0', hw: 'EDT-HW-A1', seen: now - 600_000, tags: ['fleet-berlin'] },
  { vin: 'WCANTA00000000003', edt: 'v1.2', hw: 'EDT-HW-B2', seen: null, tags: ['pilot'] },
  { vin: 'WCANTA00000000004', edt: '2.0.0-rc.1', hw: null, seen: now - 1000, tags: [] },
  { vin: 'WCANTA00000000005', edt: '2.0.0', hw: 'EDT-HW-A1', seen: now - 299_000, tags: ['pilot', 'fleet-berlin'] },
  { vin: 'WCANTA0000000ABC6', edt: '2.0', hw: null, seen: now - 20_000_000, tags: ['fleet-munich'] },
  { vin: 'WCANTA00000000007', edt: null, hw: null, seen: now - 50, tags: [] },
];

async function seed(storage: Storage): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const [i, car] of fleet.entries()) {
    const { id } = await storage.vehicles.add({ vin: car.vin, tokenHash: String(i).repeat(64), now: now - 10_000_000 + i * 60_000 });
    ids.set(car.vin, id);
    if (car.edt !== null) {
      await storage.vehicleReports.add({
        vehicleId: id, receivedAt: 1, reportedAt: 1, campaignId: null, outcome: 'success', message: '', ip: null, body: '{}', updates: [],
        ecus: [
          { ecu: 'EDT', version: car.edt, sha256: null, active_bank: 'A', state: 'Running', hardware_id: car.hw },
          { ecu: 'CGW', version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running', hardware_id: 'CGW-HW-1' },
        ],
      });
    }
    if (car.seen !== null) await storage.vehicles.markSeen(id, car.seen, '10.0.0.1');
    if (car.tags.length > 0) await storage.vehicleTags.change(id, { set: car.tags }, 16);
  }
  if (fleet[2]!.seen === null) {
    // A report counts as being seen; this one must stay "never seen" for the sort test.
    await storage.database.db.updateTable('vehicles').set({ last_seen_at: null, last_seen_ip: null }).where('id', '=', ids.get(fleet[2]!.vin)!).execute();
  }
  return ids;
}

async function vins(storage: Storage, query: Record<string, unknown>): Promise<{ vins: string[]; total: number }> {
  const { vehicles, total } = await storage.vehicles.search(vehicleSearch(parseVehicleQuery(query), now, window));
  return { vins: vehicles.map((v) => v.vin.slice(-3)), total };
}

async function searchStory(storage: Storage): Promise<void> {
  const ids = await seed(storage);

  // Tags: sorted, set/add/remove, the limit, and the lookup deployments use.
  const first = ids.get('WCANTA00000000001')!;
  assert.deepEqual((await storage.vehicleTags.of([first])).get(first), ['fleet-berlin', 'pilot']);
  assert.deepEqual(await storage.vehicleTags.change(first, { add: ['eu', 'pilot'], remove: ['fleet-berlin'] }, 16),
    { before: ['fleet-berlin', 'pilot'], after: ['eu', 'pilot'] });
  assert.deepEqual(await storage.vehicleTags.change(first, { set: ['pilot', 'fleet-berlin'] }, 16), { before: ['eu', 'pilot'], after: ['fleet-berlin', 'pilot'] });
  await assert.rejects(storage.vehicleTags.change(first, { add: Array.from({ length: 15 }, (_, i) => `t${i}`) }, 16), TooManyTagsError);
  assert.deepEqual((await storage.vehicleTags.of([first])).get(first), ['fleet-berlin', 'pilot'], 'a refused change changes nothing');
  const idsOf = (...vinsWanted: string[]) => vinsWanted.map((vin) => ids.get(vin)!).sort((a, b) => a - b);
  assert.deepEqual(await storage.vehicleTags.vehicleIds(['pilot', 'fleet-berlin']), idsOf('WCANTA00000000001', 'WCANTA00000000005'));
  assert.deepEqual(await vehicleIdsWithAllTags(storage.database.db, ['pilot']), idsOf('WCANTA00000000001', 'WCANTA00000000003', 'WCANTA00000000005'));
  assert.deepEqual(await storage.vehicleTags.vehicleIds(['nobody']), []);
  assert.deepEqual(await storage.vehicleTags.vehicleIds([]), []);
  assert.deepEqual(await storage.vehicleTags.counts(), [
    { tag: 'fleet-berlin', vehicles: 3 }, { tag: 'fleet-munich', vehicles: 1 }, { tag: 'pilot', vehicles: 3 },
  ]);

  // Concurrent additions to one vehicle: the limit holds (each change sees the one before).
  const seventh = ids.get('WCANTA00000000007')!;
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => storage.vehicleTags.change(seventh, { add: [`c${i}`] }, 16)));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 16);
  assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof TooManyTagsError));
  assert.equal((await storage.vehicleTags.of([seventh])).get(seventh)?.length, 16);
  await storage.vehicleTags.change(seventh, { set: [] }, 16);
  assert.equal((await storage.vehicleTags.of([seventh])).get(seventh), undefined);

  // Search, filters, sort.
  assert.deepEqual(await vins(storage, {}), { vins: ['001', '002', '003', '004', '005', '007', 'BC6'], total: 7 });
  assert.deepEqual(await vins(storage, { q: 'abc' }), { vins: ['BC6'], total: 1 }, 'VIN part, any case');
  assert.deepEqual(await vins(storage, { tag: ['pilot', 'fleet-berlin'] }), { vins: ['001', '005'], total: 2 }, 'all tags given');
  assert.deepEqual(await vins(storage, { tag: 'pilot,fleet-berlin' }), { vins: ['001', '005'], total: 2 });
  assert.deepEqual(await vins(storage, { ecu: 'edt', version_below: '2.0.0' }), { vins: ['001', '002', '003', '004'], total: 4 },
    'the firmware order: 1.10.0 and v1.2 and 2.0.0-rc.1 are below 2.0.0; 2.0 is not');
  assert.deepEqual(await vins(storage, { ecu: 'EDT', version_below: '1.3', sort: '-vin' }), { vins: ['003', '001'], total: 2 }, 'v1.2 is below 1.3, 1.10.0 is not');
  assert.deepEqual(await vins(storage, { ecu: 'EDT', version: '2.0.0' }), { vins: ['005', 'BC6'], total: 2 }, '2.0 = 2.0.0');
  assert.deepEqual(await vins(storage, { ecu: 'CGW' }), { vins: ['001', '002', '003', '004', '005', 'BC6'], total: 6 });
  assert.deepEqual(await vins(storage, { hardware_id: 'EDT-HW-A1' }), { vins: ['001', '002', '005'], total: 3 });
  assert.deepEqual(await vins(storage, { hardware_id: 'CGW-HW-1', ecu: 'EDT' }), { vins: [], total: 0 }, 'the hardware of that ECU');
  assert.deepEqual(await vins(storage, { online: 'true' }), { vins: ['001', '004', '005', '007'], total: 4 });
  assert.deepEqual(await vins(storage, { online: 'false' }), { vins: ['002', '003', 'BC6'], total: 3 }, 'never seen is offline');
  assert.deepEqual(await vins(storage, { sort: '-last_seen' }), { vins: ['007', '004', '001', '005', '002', 'BC6', '003'], total: 7 }, 'never seen last');
  assert.deepEqual((await vins(storage, { sort: 'last_seen' })).vins, ['003', 'BC6', '002', '005', '001', '004', '007']);
  assert.deepEqual((await vins(storage, { sort: '-registered' })).vins, ['007', 'BC6', '005', '004', '003', '002', '001']);
  assert.deepEqual(await vins(storage, { tag: 'pilot', ecu: 'EDT', version_below: '2.0.0', online: 'false' }), { vins: ['003'], total: 1 });

  // Deployments (rows as the deployment service writes them): the newest deployment a vehicle is in decides its state.
  const db = storage.database.db;
  const set = await db.insertInto('software_sets').values({ name: 'set', created_by: 't', created_at: 1 }).returning('id').executeTakeFirstOrThrow();
  const deployment = (name: string) => db.insertInto('deployments').values({
    name, set_id: set.id, status: 'running', status_reason: null, target: '{}', waves: '[]', current_wave: 1, failure_threshold: 10,
    require_approval: 0, start_at: 1, created_by: 't', created_at: 1, updated_at: 1,
  }).returning('id').executeTakeFirstOrThrow();
  const older = await deployment('older');
  const newer = await deployment('newer');
  const row = (deploymentId: number, vin: string, state: string, percent: number | null = null) => ({
    deployment_id: deploymentId, vehicle_id: ids.get(vin)!, wave: 1, state, percent, ecu: percent === null ? null : 'EDT', reason: null, updated_at: 5,
  });
  await db.insertInto('deployment_vehicles').values([
    row(older.id, 'WCANTA00000000001', 'failed'), row(newer.id, 'WCANTA00000000001', 'downloading', 40),
    row(older.id, 'WCANTA00000000002', 'downloading', 10), row(newer.id, 'WCANTA00000000003', 'offered'),
  ]).execute();
  assert.deepEqual(await vins(storage, { state: 'downloading' }), { vins: ['001', '002'], total: 2 });
  assert.deepEqual(await vins(storage, { state: 'failed' }), { vins: [], total: 0 }, 'an older deployment\'s state is history');
  assert.deepEqual(await vins(storage, { state: 'offered', tag: 'pilot' }), { vins: ['003'], total: 1 });
  const states = await storage.vehicles.deploymentStates([...ids.values()]);
  assert.deepEqual(states.get(ids.get('WCANTA00000000001')!), {
    deploymentId: newer.id, name: 'newer', status: 'running', state: 'downloading', percent: 40, ecu: 'EDT', reason: null, updatedAt: 5,
  });
  assert.equal(states.get(ids.get('WCANTA00000000002')!)?.name, 'older');
  assert.equal(states.has(ids.get('WCANTA00000000004')!), false, 'in no deployment');

  // Paging, with and without the version filter that runs in JavaScript: pages cover the list exactly once.
  for (const query of [{ sort: '-last_seen' }, { ecu: 'EDT', version_below: '3', sort: '-registered' }]) {
    const all = await vins(storage, query);
    const pages: string[] = [];
    for (let page = 1; page <= 4; page++) {
      const got = await vins(storage, { ...query, page: String(page), limit: '2' });
      assert.equal(got.total, all.total, `total on page ${page}`);
      pages.push(...got.vins);
    }
    assert.deepEqual(pages, all.vins, JSON.stringify(query));
  }
}

test('vehicle tags and the fleet search (SQLite)', async (t) => {
  await searchStory(await testStorage(t));
});

test('the same on a real PostgreSQL', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const storage = await openStorage(await postgres.createDatabase());
  try {
    await searchStory(storage);
  } finally {
    await storage.close();
  }
});
