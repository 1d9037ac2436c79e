import type { VehicleSearch, VehicleSortKey } from '../storage/vehicle-search.ts';
import { checkTag, splitTagList } from './tags.ts';
import { vehicleStates } from '../deployments/vehicle-states.ts';

/** A search of the fleet as `GET /api/v1/vehicles` and the `/vehicles` form take it (docs/server.md, Vehicles). */
export interface VehicleListQuery {
  q?: string | undefined;
  tags: string[];
  ecu?: string | undefined;
  versionBelow?: string | undefined;
  version?: string | undefined;
  hardwareId?: string | undefined;
  online?: boolean | undefined;
  /** The vehicle's state in its newest deployment. */
  state?: string | undefined;
  sort: VehicleSortKey;
  descending: boolean;
  page: number;
  limit: number;
}

export const defaultVehicleLimit = 50;
export const maxVehicleLimit = 500;
const sortKeys: readonly VehicleSortKey[] = ['vin', 'last_seen', 'registered'];
const parameters = ['q', 'tag', 'ecu', 'version_below', 'version', 'hardware_id', 'online', 'state', 'sort', 'page', 'limit'] as const;

/** A query string `GET /api/v1/vehicles` or `/vehicles` cannot answer: 400 with this message. */
export class VehicleQueryError extends Error {
  override name = 'VehicleQueryError';
}

/**
 * Checks a query string (as Fastify parsed it: repeated keys are arrays) and says exactly what is wrong.
 * Empty values count as absent, so the page's form, which sends every field, needs no JavaScript to drop
 * the unused ones. Unknown parameters are refused: a typo (`tags=`) must not silently list the whole fleet.
 */
export function parseVehicleQuery(raw: Record<string, unknown>): VehicleListQuery {
  const unknown = Object.keys(raw).filter((key) => !(parameters as readonly string[]).includes(key));
  if (unknown.length > 0) throw new VehicleQueryError(`unknown parameter ${unknown.map((k) => `"${k.slice(0, 40)}"`).join(', ')}: use ${parameters.join(', ')}`);
  const one = (name: string): string | undefined => {
    const value = raw[name];
    if (Array.isArray(value)) throw new VehicleQueryError(`${name} given ${value.length} times: give it once`);
    const text = typeof value === 'string' ? value.trim() : undefined;
    return text === '' ? undefined : text;
  };

  const q = one('q');
  if (q !== undefined && !/^[A-Za-z0-9]{1,17}$/.test(q)) throw new VehicleQueryError(`q: "${q.slice(0, 40)}" is not part of a VIN (up to 17 letters and digits)`);
  const tagValues = raw.tag === undefined ? [] : Array.isArray(raw.tag) ? raw.tag as unknown[] : [raw.tag];
  const tags = [...new Set(tagValues.flatMap((value) => splitTagList(String(value))))];
  for (const tag of tags) {
    try {
      checkTag(tag);
    } catch (error) {
      throw new VehicleQueryError(`tag: ${(error as Error).message}`);
    }
  }
  const ecu = one('ecu');
  if (ecu !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(ecu)) throw new VehicleQueryError(`ecu: "${ecu.slice(0, 40)}" is not an ECU name (a letter, then letters, digits or _; up to 32)`);
  const versionBelow = one('version_below');
  const version = one('version');
  for (const [name, value] of [['version_below', versionBelow], ['version', version]] as const) {
    if (value === undefined) continue;
    if (ecu === undefined) throw new VehicleQueryError(`${name} needs ecu: whose version? (e.g. ecu=EDT&${name}=${value.slice(0, 20)})`);
    if (value.length > 64) throw new VehicleQueryError(`${name}: a version has at most 64 characters`);
  }
  if (versionBelow !== undefined && version !== undefined) throw new VehicleQueryError('give version_below or version, not both');
  const hardwareId = one('hardware_id');
  if (hardwareId !== undefined && hardwareId.length > 32) throw new VehicleQueryError('hardware_id: a hardware id has at most 32 characters');
  const onlineText = one('online');
  if (onlineText !== undefined && onlineText !== 'true' && onlineText !== 'false') throw new VehicleQueryError(`online: "${onlineText.slice(0, 20)}" is not true or false`);
  const state = one('state');
  if (state !== undefined && !(vehicleStates as readonly string[]).includes(state)) {
    throw new VehicleQueryError(`state: "${state.slice(0, 20)}" is not a deployment state (${vehicleStates.join(', ')})`);
  }
  const sortText = one('sort') ?? 'vin';
  const sortKey = sortText.replace(/^-/, '') as VehicleSortKey;
  if (!sortKeys.includes(sortKey)) throw new VehicleQueryError(`sort: "${sortText.slice(0, 20)}" is not one of ${sortKeys.join(', ')} (a leading - sorts descending)`);
  const page = integer(one('page'), 'page', 1, 1_000_000, 1);
  const limit = integer(one('limit'), 'limit', 1, maxVehicleLimit, defaultVehicleLimit);
  return {
    q: q?.toUpperCase(), tags, ecu: ecu?.toUpperCase(), versionBelow, version, hardwareId,
    online: onlineText === undefined ? undefined : onlineText === 'true', state,
    sort: sortKey, descending: sortText.startsWith('-'), page, limit,
  };
}

function integer(text: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new VehicleQueryError(`${name}: "${text.slice(0, 20)}" is not a whole number from ${min} to ${max}`);
  return Number(text);
}

/** The storage search for a query; `online` means a contact within `onlineWindowMs` before `now`. */
export function vehicleSearch(query: VehicleListQuery, now: number, onlineWindowMs: number): VehicleSearch {
  return {
    vinContains: query.q, tags: query.tags, ecu: query.ecu, hardwareId: query.hardwareId,
    version: query.versionBelow !== undefined ? { below: query.versionBelow } : query.version !== undefined ? { equals: query.version } : undefined,
    online: query.online === undefined ? undefined : { value: query.online, since: now - onlineWindowMs },
    deploymentState: query.state,
    sort: query.sort, descending: query.descending, offset: (query.page - 1) * query.limit, limit: query.limit,
  };
}

/** The query string of a query (another `page`, or the same search again): only what differs from the defaults. */
export function vehicleQueryString(query: VehicleListQuery, changes: Partial<VehicleListQuery> = {}): string {
  const q = { ...query, ...changes };
  const params = new URLSearchParams();
  if (q.q) params.set('q', q.q);
  for (const tag of q.tags) params.append('tag', tag);
  if (q.ecu) params.set('ecu', q.ecu);
  if (q.versionBelow) params.set('version_below', q.versionBelow);
  if (q.version) params.set('version', q.version);
  if (q.hardwareId) params.set('hardware_id', q.hardwareId);
  if (q.online !== undefined) params.set('online', String(q.online));
  if (q.state) params.set('state', q.state);
  if (q.sort !== 'vin' || q.descending) params.set('sort', `${q.descending ? '-' : ''}${q.sort}`);
  if (q.page !== 1) params.set('page', String(q.page));
  if (q.limit !== defaultVehicleLimit) params.set('limit', String(q.limit));
  const text = params.toString();
  return text ? `?${text}` : '';
}
