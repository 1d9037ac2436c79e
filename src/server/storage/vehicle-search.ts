import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Schema } from './schema.ts';
import type { VehicleRecord } from './vehicles.ts';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';

export type VehicleSortKey = 'vin' | 'last_seen' | 'registered';

/** One page of the fleet: filters (all must hold), an order and a window. Values arrive checked (`vehicles/vehicle-query.ts`). */
export interface VehicleSearch {
  /** Part of the VIN, upper case (VINs are stored upper case). */
  vinContains?: string | undefined;
  /** The vehicle carries every one of these. */
  tags: readonly string[];
  /** The vehicle has reported this ECU (upper case, as ECUs name themselves). */
  ecu?: string | undefined;
  /** That ECU's version, in the firmware version order (`src/firmware/version-order.ts`); needs `ecu`. */
  version?: { below: string } | { equals: string } | undefined;
  /** An ECU (`ecu`'s, when given) reported this hardware id. */
  hardwareId?: string | undefined;
  /** The vehicle's state in the newest deployment it belongs to (`deployments/vehicle-states.ts`). */
  deploymentState?: string | undefined;
  /** Last contact at or after `since` (online), or never / before it (offline). */
  online?: { value: boolean; since: number } | undefined;
  sort: VehicleSortKey;
  descending: boolean;
  offset: number;
  limit: number;
}

export interface VehicleSearchResult {
  vehicles: VehicleRecord[];
  /** How many vehicles match, all pages together. */
  total: number;
}

type VehicleQuery = SelectQueryBuilder<Schema, 'vehicles', object>;

/**
 * Searches the fleet. Every filter but the version runs in SQL; the version order (SemVer with pre-releases,
 * `v` prefixes, missing parts) is not something SQL can sort by, so with a version filter the matching ids
 * and that ECU's versions come back in the page's order, JavaScript keeps those in range, and the page is cut
 * from that list: the total and every page stay exact, at the cost of one narrow row per candidate vehicle.
 */
export async function searchVehicles(db: Kysely<Schema>, search: VehicleSearch): Promise<VehicleSearchResult> {
  const filtered = applyFilters(db.selectFrom('vehicles'), search);
  if (search.version === undefined) {
    const [count, vehicles] = await Promise.all([
      filtered.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
      ordered(filtered.selectAll('vehicles'), search).limit(search.limit).offset(search.offset).execute(),
    ]);
    return { vehicles, total: Number(count.n) };
  }
  const version = search.version;
  const candidates = await ordered(filtered.innerJoin('vehicle_ecus as v_ecu', 'v_ecu.vehicle_id', 'vehicles.id')
    .where('v_ecu.ecu', '=', search.ecu!).where('v_ecu.version', 'is not', null)
    .select(['vehicles.id as id', 'v_ecu.version as version']), search).execute();
  const matching = candidates.filter(({ version: running }) => ('below' in version
    ? compareFirmwareVersions(running!, version.below) < 0
    : compareFirmwareVersions(running!, version.equals) === 0)).map((row) => Number(row.id));
  const pageIds = matching.slice(search.offset, search.offset + search.limit);
  if (pageIds.length === 0) return { vehicles: [], total: matching.length };
  const rows = await db.selectFrom('vehicles').selectAll().where('id', 'in', pageIds).execute();
  const byId = new Map(rows.map((row) => [Number(row.id), row]));
  return { vehicles: pageIds.map((id) => byId.get(id)!).filter(Boolean), total: matching.length };
}

function applyFilters<Q extends VehicleQuery>(query: Q, search: VehicleSearch): Q {
  let q = query as VehicleQuery;
  // The alphabet of a VIN fragment is checked before (letters and digits): no LIKE wildcard can be in it.
  if (search.vinContains) q = q.where('vehicles.vin', 'like', `%${search.vinContains}%`);
  const tags = [...new Set(search.tags)];
  if (tags.length > 0) {
    q = q.where('vehicles.id', 'in', (eb) => eb.selectFrom('vehicle_tags').select('vehicle_tags.vehicle_id')
      .where('vehicle_tags.tag', 'in', tags).groupBy('vehicle_tags.vehicle_id')
      .having((h) => h.fn.count('vehicle_tags.tag'), '=', tags.length));
  }
  if (search.ecu !== undefined || search.hardwareId !== undefined) {
    q = q.where((eb) => eb.exists(eb.selectFrom('vehicle_ecus').select(sql<number>`1`.as('one'))
      .whereRef('vehicle_ecus.vehicle_id', '=', 'vehicles.id')
      .$if(search.ecu !== undefined, (sub) => sub.where('vehicle_ecus.ecu', '=', search.ecu!))
      .$if(search.hardwareId !== undefined, (sub) => sub.where('vehicle_ecus.hardware_id', '=', search.hardwareId!))));
  }
  if (search.deploymentState !== undefined) {
    // Its row in the newest deployment it belongs to (the one the list shows) is in that state.
    q = q.where('vehicles.id', 'in', (eb) => eb.selectFrom('deployment_vehicles as dv').select('dv.vehicle_id')
      .where('dv.state', '=', search.deploymentState!)
      .where('dv.deployment_id', '=', (sub) => sub.selectFrom('deployment_vehicles as newest')
        .select((m) => m.fn.max('newest.deployment_id').as('newest_id')).whereRef('newest.vehicle_id', '=', 'dv.vehicle_id')));
  }
  if (search.online) {
    const { since } = search.online;
    q = search.online.value
      ? q.where('vehicles.last_seen_at', '>=', since)
      : q.where((eb) => eb.or([eb('vehicles.last_seen_at', 'is', null), eb('vehicles.last_seen_at', '<', since)]));
  }
  return q as Q;
}

/** The page's order, the VIN breaking ties (it is unique), so pages never overlap or skip. A vehicle never seen sorts as the oldest. */
function ordered<DB, TB extends keyof DB, O>(query: SelectQueryBuilder<DB, TB, O>, search: VehicleSearch): SelectQueryBuilder<DB, TB, O> {
  const direction = search.descending ? 'desc' : 'asc';
  const key = {
    vin: sql`vehicles.vin`,
    registered: sql`vehicles.created_at`,
    last_seen: sql`coalesce(vehicles.last_seen_at, -1)`,
  }[search.sort];
  const byKey = query.orderBy(key, direction);
  return search.sort === 'vin' ? byKey : byKey.orderBy(sql`vehicles.vin`, 'asc');
}
