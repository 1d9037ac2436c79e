import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVehicleQuery, vehicleQueryString, vehicleSearch, VehicleQueryError } from '../../../src/server/vehicles/vehicle-query.ts';
import { checkTag, checkTags, splitTagList, TagInputError } from '../../../src/server/vehicles/tags.ts';

test('tags: 1-32 characters of a-z 0-9 - _ ., at most 16, sorted without duplicates; lists split on commas and spaces', () => {
  for (const good of ['pilot', 'fleet-berlin', 'eu_2026.q1', 'a', 'x'.repeat(32), '0']) assert.equal(checkTag(good), good);
  for (const [bad, message] of [
    ['', /1 to 32 characters/], ['x'.repeat(33), /1 to 32 characters/], ['Pilot', /only lower-case letters/], ['a b', /only lower-case/],
    ['a,b', /only lower-case/], ['ä', /only lower-case/], ['a/b', /only lower-case/], ['<b>', /only lower-case/],
  ] as const) assert.throws(() => checkTag(bad), (error: Error) => error instanceof TagInputError && message.test(error.message), bad);
  assert.deepEqual(checkTags(['pilot', 'eu', 'pilot']), ['eu', 'pilot']);
  assert.deepEqual(checkTags([]), []);
  assert.equal(checkTags(Array.from({ length: 16 }, (_, i) => `t${i}`)).length, 16);
  assert.throws(() => checkTags(Array.from({ length: 17 }, (_, i) => `t${i}`)), /17 tags: a vehicle has at most 16/);
  assert.deepEqual(splitTagList(' pilot, fleet-berlin  eu,,'), ['pilot', 'fleet-berlin', 'eu']);
  assert.deepEqual(splitTagList(''), []);
});

test('vehicle queries: defaults, empty fields as absent, the storage search, and back to a query string', () => {
  const defaults = parseVehicleQuery({});
  assert.deepEqual(defaults, {
    q: undefined, tags: [], ecu: undefined, versionBelow: undefined, version: undefined, hardwareId: undefined, online: undefined,
    state: undefined, sort: 'vin', descending: false, page: 1, limit: 50,
  });
  assert.deepEqual(parseVehicleQuery({ q: '', tag: '', ecu: '', version_below: '', online: '', sort: '', page: '', limit: '' }), defaults,
    'the form sends every field; empty ones are not filters');
  const full = parseVehicleQuery({
    q: ' abc1 ', tag: ['pilot', 'eu,pilot'], ecu: 'edt', version_below: '2.0.0', hardware_id: 'EDT-HW-A1', online: 'false',
    state: 'downloading', sort: '-last_seen', page: '3', limit: '20',
  });
  assert.deepEqual(full, {
    q: 'ABC1', tags: ['pilot', 'eu'], ecu: 'EDT', versionBelow: '2.0.0', version: undefined, hardwareId: 'EDT-HW-A1', online: false,
    state: 'downloading', sort: 'last_seen', descending: true, page: 3, limit: 20,
  });
  assert.deepEqual(vehicleSearch(full, 1_000_000, 300_000), {
    vinContains: 'ABC1', tags: ['pilot', 'eu'], ecu: 'EDT', hardwareId: 'EDT-HW-A1', version: { below: '2.0.0' },
    online: { value: false, since: 700_000 }, deploymentState: 'downloading', sort: 'last_seen', descending: true, offset: 40, limit: 20,
  });
  assert.equal(vehicleQueryString(defaults), '');
  const text = vehicleQueryString(full, { page: 4 });
  assert.equal(text, '?q=ABC1&tag=pilot&tag=eu&ecu=EDT&version_below=2.0.0&hardware_id=EDT-HW-A1&online=false&state=downloading&sort=-last_seen&page=4&limit=20');
  const again = Object.fromEntries([...new URLSearchParams(text.slice(1))].reduce((map, [key, value]) => {
    map.set(key, map.has(key) ? [map.get(key)!, value].flat() : value);
    return map;
  }, new Map<string, string | string[]>()));
  assert.deepEqual(parseVehicleQuery(again), { ...full, page: 4 }, 'a page link is the same search');
  assert.deepEqual(parseVehicleQuery({ ecu: 'EDT', version: '2.0' }).version, '2.0');
});

test('vehicle queries: every refusal names the parameter', () => {
  for (const [query, message] of [
    [{ limit: '0' }, /^limit: "0" is not a whole number from 1 to 500$/], [{ limit: '501' }, /limit/], [{ limit: '1.5' }, /limit/],
    [{ page: '0' }, /^page/], [{ page: '-1' }, /^page/], [{ sort: 'name' }, /^sort: "name" is not one of vin, last_seen, registered/],
    [{ sort: '--vin' }, /^sort/], [{ online: 'yes' }, /^online: "yes" is not true or false$/], [{ tag: 'Pilot' }, /^tag: bad tag "Pilot"/],
    [{ version_below: '2' }, /^version_below needs ecu/], [{ version: '2' }, /^version needs ecu/],
    [{ ecu: 'EDT', version: '1', version_below: '2' }, /not both/], [{ ecu: 'EDT', version: 'x'.repeat(65) }, /at most 64/],
    [{ ecu: '1EDT' }, /^ecu: "1EDT" is not an ECU name/], [{ hardware_id: 'h'.repeat(33) }, /^hardware_id/],
    [{ q: 'WCANTA%' }, /^q: "WCANTA%" is not part of a VIN/], [{ q: 'x'.repeat(18) }, /^q/],
    [{ tags: 'pilot', filter: 'x' }, /^unknown parameter "tags", "filter"/], [{ limit: ['1', '2'] }, /^limit given 2 times/],
  ] as const) {
    assert.throws(() => parseVehicleQuery(query), (error: Error) => error instanceof VehicleQueryError && message.test(error.message), JSON.stringify(query));
  }
});
