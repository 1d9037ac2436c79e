import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/index.ts';
import { TooManyTagsError } from '../storage/vehicle-tags.ts';
import { checkTag, checkTags, maxTagsPerVehicle, TagInputError } from './tags.ts';
import { checkVin } from './vin.ts';

/** A tag change for a VIN the server does not know (404 in the API, exit 2 in the CLI). */
export class UnknownVehicleError extends Error {
  override name = 'UnknownVehicleError';
}

export interface TagChangeRequest {
  vin: string;
  /** Replaces every tag (may be empty: no tags); cannot go with add or remove. */
  set?: readonly string[] | undefined;
  add?: readonly string[] | undefined;
  remove?: readonly string[] | undefined;
  /** Who: a username, `token:<name>` or `cli`. */
  by: string;
  ip?: string | null;
}

/**
 * Sets, adds or removes a vehicle's tags (API, admin UI, `canota vehicle tag`), audited as `vehicle.tags`
 * with the tags after the change and what was added and removed. A change that changes nothing is not
 * audited (as a repeated withdrawal is not): the log records what happened to the fleet.
 */
export async function changeVehicleTags(storage: Storage, audit: AuditLog, request: TagChangeRequest): Promise<{ vin: string; tags: string[]; before: string[] }> {
  const vin = checkVin(request.vin);
  if (request.set !== undefined && (request.add !== undefined || request.remove !== undefined)) {
    throw new TagInputError('give the whole list of tags (set) or tags to add and remove, not both');
  }
  const change = {
    ...(request.set !== undefined ? { set: checkTags(request.set) } : {}),
    ...(request.add !== undefined ? { add: request.add.map(checkTag) } : {}),
    ...(request.remove !== undefined ? { remove: request.remove.map(checkTag) } : {}),
  };
  const vehicle = await storage.vehicles.find(vin);
  if (!vehicle) throw new UnknownVehicleError(`no vehicle ${vin}: register it first`);
  let result;
  try {
    result = await storage.vehicleTags.change(vehicle.id, change, maxTagsPerVehicle);
  } catch (error) {
    if (error instanceof TooManyTagsError) throw new TagInputError(error.message);
    throw error;
  }
  const added = result.after.filter((tag) => !result.before.includes(tag));
  const removed = result.before.filter((tag) => !result.after.includes(tag));
  if (added.length > 0 || removed.length > 0) {
    await audit.record({
      event: 'vehicle.tags', outcome: 'ok', actor: request.by, ip: request.ip ?? null, subject: vin,
      details: { tags: result.after, added, removed },
    });
  }
  return { vin, tags: result.after, before: result.before };
}
