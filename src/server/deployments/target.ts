import { randomInt } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Schema } from '../storage/schema.ts';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';
import { checkVin } from '../vehicles/vin.ts';
import { vehicleIdsWithAllTags } from '../storage/vehicle-tags.ts';
import { checkTags } from '../vehicles/tags.ts';
import { DeploymentInputError } from './deployment-errors.ts';

/**
 * Which registered vehicles a deployment goes to: explicit VINs, vehicles carrying tags, an inventory filter
 * ("EDT below 2.0.0"), or all. Several criteria narrow each other (all must hold).
 */
export interface DeploymentTarget {
  all?: boolean;
  vins?: string[];
  tags?: string[];
  filter?: { ecu: string; version_below?: string; version?: string };
}

export class TargetError extends DeploymentInputError {}

const maxVins = 10_000;

export function checkTarget(target: DeploymentTarget): DeploymentTarget {
  const given = [target.all === true, target.vins !== undefined, target.tags !== undefined, target.filter !== undefined];
  if (!given.some(Boolean)) throw new TargetError('a target needs vins, tags, a filter, or all: true');
  if (target.all === true && given.filter(Boolean).length > 1) throw new TargetError('all: true cannot be combined with vins, tags or a filter');
  const checked: DeploymentTarget = {};
  if (target.all === true) checked.all = true;
  if (target.vins !== undefined) {
    if (target.vins.length === 0 || target.vins.length > maxVins) throw new TargetError(`vins: give 1 to ${maxVins} VINs`);
    try {
      checked.vins = [...new Set(target.vins.map((vin) => checkVin(vin)))];
    } catch (error) {
      throw new TargetError(`vins: ${(error as Error).message}`);
    }
  }
  if (target.tags !== undefined) {
    if (target.tags.length === 0) throw new TargetError('tags: give at least one tag');
    try {
      checked.tags = checkTags(target.tags);
    } catch (error) {
      throw new TargetError(`tags: ${(error as Error).message}`);
    }
  }
  if (target.filter !== undefined) {
    const { ecu, version_below: below, version } = target.filter;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,15}$/.test(ecu ?? '')) throw new TargetError('filter.ecu must be an ECU name');
    if ((below === undefined) === (version === undefined)) throw new TargetError('filter: give version_below or version');
    checked.filter = { ecu: ecu.toUpperCase(), ...(below !== undefined ? { version_below: below } : { version: version! }) };
  }
  return checked;
}

/**
 * The registered vehicles the target names, as ids: given VINs in the order given (an operator picks the
 * pilot cars for the first wave), anything else shuffled, so each wave is a fair sample of the fleet.
 * Unknown VINs are refused by name.
 */
export async function resolveTarget(db: Kysely<Schema>, target: DeploymentTarget): Promise<number[]> {
  let candidates: { id: number; vin: string }[] = await db.selectFrom('vehicles').select(['id', 'vin']).orderBy('vin').execute();
  if (target.vins) {
    const byVin = new Map(candidates.map((vehicle) => [vehicle.vin, vehicle]));
    const unknown = target.vins.filter((vin) => !byVin.has(vin));
    if (unknown.length > 0) throw new TargetError(`not registered: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`);
    candidates = target.vins.map((vin) => byVin.get(vin)!);
  }
  if (target.tags) {
    const tagged = await vehiclesWithAllTags(db, target.tags);
    candidates = candidates.filter((vehicle) => tagged.has(vehicle.id));
  }
  if (target.filter) {
    const { ecu, version_below: below, version } = target.filter;
    const rows = await db.selectFrom('vehicle_ecus').select(['vehicle_id', 'ecu', 'version']).execute();
    const matching = new Set(rows.filter((row) => row.ecu.toUpperCase() === ecu && row.version !== null
      && (below !== undefined ? compareFirmwareVersions(row.version, below) < 0 : compareFirmwareVersions(row.version, version!) === 0))
      .map((row) => Number(row.vehicle_id)));
    candidates = candidates.filter((vehicle) => matching.has(vehicle.id));
  }
  const ids = candidates.map((vehicle) => Number(vehicle.id));
  return target.vins ? ids : shuffled(ids);
}

/** Vehicles that carry every one of `tags` (src/server/storage/vehicle-tags.ts). */
async function vehiclesWithAllTags(db: Kysely<Schema>, tags: readonly string[]): Promise<Set<number>> {
  return new Set(await vehicleIdsWithAllTags(db, tags));
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
