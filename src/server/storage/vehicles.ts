import type { Kysely, Selectable } from 'kysely';
import type { Schema, VehicleEcusTable, VehiclesTable } from './schema.ts';
import { AlreadyExistsError } from './errors.ts';
import { isUniqueViolation } from './unique-violation.ts';
import { searchVehicles, type VehicleSearch, type VehicleSearchResult } from './vehicle-search.ts';
import { newestDeploymentStates, deploymentStatesOf, type VehicleDeploymentState } from './vehicle-deployment-state.ts';

export type VehicleRecord = Selectable<VehiclesTable>;
export type VehicleEcuRecord = Selectable<VehicleEcusTable>;

/** Registered vehicles and their credentials (a token's hash, never the token). */
export class VehicleStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async add(vehicle: { vin: string; tokenHash: string; now: number }): Promise<VehicleRecord> {
    try {
      return await this.db.insertInto('vehicles').values({
        vin: vehicle.vin, token_hash: vehicle.tokenHash, created_at: vehicle.now, token_issued_at: vehicle.now,
      }).returningAll().executeTakeFirstOrThrow();
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`vehicle ${vehicle.vin} is already registered`);
      throw error;
    }
  }

  /** Gives the vehicle a new token hash, so the old token stops working at once; undefined for an unknown VIN. */
  async replaceToken(vin: string, tokenHash: string, now: number): Promise<VehicleRecord | undefined> {
    return this.db.updateTable('vehicles').set({ token_hash: tokenHash, token_issued_at: now })
      .where('vin', '=', vin).returningAll().executeTakeFirst();
  }

  async find(vin: string): Promise<VehicleRecord | undefined> {
    return this.db.selectFrom('vehicles').selectAll().where('vin', '=', vin).executeTakeFirst();
  }

  async findByTokenHash(tokenHash: string): Promise<VehicleRecord | undefined> {
    return this.db.selectFrom('vehicles').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  }

  async list(): Promise<VehicleRecord[]> {
    return this.db.selectFrom('vehicles').selectAll().orderBy('vin').execute();
  }

  /** One page of the vehicles matching a search, and how many match in all. */
  async search(search: VehicleSearch): Promise<VehicleSearchResult> {
    return searchVehicles(this.db, search);
  }

  /** Each vehicle's state in the newest deployment it belongs to; vehicles in none are absent. */
  async deploymentStates(vehicleIds: readonly number[]): Promise<Map<number, VehicleDeploymentState>> {
    return newestDeploymentStates(this.db, vehicleIds);
  }

  /** Every deployment the vehicle is in, newest first. */
  async deploymentsOf(vehicleId: number): Promise<VehicleDeploymentState[]> {
    return deploymentStatesOf(this.db, vehicleId);
  }

  async markSeen(id: number, now: number, ip: string): Promise<void> {
    await this.db.updateTable('vehicles').set({ last_seen_at: now, last_seen_ip: ip }).where('id', '=', id).execute();
  }

  /** The ECUs of these vehicles as last reported, by vehicle id then ECU name. */
  async ecus(vehicleIds: readonly number[]): Promise<VehicleEcuRecord[]> {
    if (vehicleIds.length === 0) return [];
    return this.db.selectFrom('vehicle_ecus').selectAll().where('vehicle_id', 'in', vehicleIds)
      .orderBy('vehicle_id').orderBy('ecu').execute();
  }
}
