import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/index.ts';
import type { VehicleRecord } from '../storage/vehicles.ts';
import { checkVin, VehicleInputError } from './vin.ts';
import { hashVehicleToken, newVehicleToken } from './vehicle-token.ts';

export interface RegisteredVehicle {
  vehicle: VehicleRecord;
  /** Shown once to whoever registered the vehicle; only its hash is stored. */
  token: string;
  rotated: boolean;
}

/**
 * Registers a vehicle and returns its token (CLI `canota vehicle register`, admin UI). Registering a VIN
 * that exists is refused (AlreadyExistsError) unless `rotate`: then the vehicle gets a new token and
 * the old one stops working at once.
 */
export async function registerVehicle(
  storage: Storage, audit: AuditLog,
  request: { vin: string; rotate?: boolean; by: string; ip?: string | null; now?: number },
): Promise<RegisteredVehicle> {
  const vin = checkVin(request.vin);
  const token = newVehicleToken();
  const tokenHash = hashVehicleToken(token)!;
  const now = request.now ?? Date.now();
  if (request.rotate) {
    const vehicle = await storage.vehicles.replaceToken(vin, tokenHash, now);
    if (!vehicle) throw new VehicleInputError(`no vehicle ${vin} to rotate the token of: register it first (without --rotate)`);
    await audit.record({ event: 'vehicle.rotate', outcome: 'ok', actor: request.by, ip: request.ip ?? null, subject: vin });
    return { vehicle, token, rotated: true };
  }
  const vehicle = await storage.vehicles.add({ vin, tokenHash, now });
  await audit.record({ event: 'vehicle.register', outcome: 'ok', actor: request.by, ip: request.ip ?? null, subject: vin });
  return { vehicle, token, rotated: false };
}
