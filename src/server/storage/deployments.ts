import type { Kysely, Selectable, Transaction } from 'kysely';
import type { DeploymentStatus, DeploymentsTable, DeploymentVehiclesTable, Schema, SoftwareSetsTable } from './schema.ts';
import type { ReleaseRecord } from './releases.ts';
import { AlreadyExistsError } from './errors.ts';
import { isUniqueViolation } from './unique-violation.ts';

export type SoftwareSetRecord = Selectable<SoftwareSetsTable>;
export type DeploymentRecord = Selectable<DeploymentsTable>;
export type DeploymentVehicleRecord = Selectable<DeploymentVehiclesTable> & { vin: string };

export interface NewDeployment {
  name: string;
  setId: number;
  status: DeploymentStatus;
  target: string;
  waves: string;
  currentWave: number;
  failureThreshold: number;
  requireApproval: boolean;
  startAt: number;
  by: string;
  now: number;
  /** Every targeted vehicle with its wave; those in waves up to currentWave start `assigned`, the others `waiting`. */
  vehicles: readonly { vehicleId: number; wave: number }[];
}

export interface VehicleStateChange {
  state: string;
  percent?: number | null;
  ecu?: string | null;
  reason?: string | null;
}

type Db = Kysely<Schema> | Transaction<Schema>;

/** Software sets, deployments, and each targeted vehicle's state; every change also goes to deployment_events. */
export class DeploymentStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** Runs `work` in one transaction (a state change and what it causes: the next wave, a pause). */
  transaction<T>(work: (store: DeploymentStore, trx: Transaction<Schema>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => work(new DeploymentStore(trx), trx));
  }

  async addSet(set: { name: string; releases: readonly { ecu: string; releaseId: number }[]; by: string; now: number }): Promise<SoftwareSetRecord> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const record = await trx.insertInto('software_sets').values({ name: set.name, created_by: set.by, created_at: set.now })
          .returningAll().executeTakeFirstOrThrow();
        await trx.insertInto('software_set_releases')
          .values(set.releases.map((release) => ({ set_id: record.id, ecu: release.ecu, release_id: release.releaseId }))).execute();
        return record;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new AlreadyExistsError(`a software set named "${set.name}" already exists`);
      throw error;
    }
  }

  async findSet(id: number): Promise<SoftwareSetRecord | undefined> {
    return this.db.selectFrom('software_sets').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async listSets(): Promise<SoftwareSetRecord[]> {
    return this.db.selectFrom('software_sets').selectAll().orderBy('id', 'desc').execute();
  }

  /** The releases of each set, by ECU. */
  async setReleases(setIds: readonly number[]): Promise<Map<number, ReleaseRecord[]>> {
    const bySet = new Map<number, ReleaseRecord[]>(setIds.map((id) => [id, []]));
    if (setIds.length === 0) return bySet;
    const rows = await this.db.selectFrom('software_set_releases').innerJoin('releases', 'releases.id', 'software_set_releases.release_id')
      .selectAll('releases').select('software_set_releases.set_id as set_id')
      .where('software_set_releases.set_id', 'in', setIds).orderBy('software_set_releases.ecu').execute();
    for (const { set_id: setId, ...release } of rows) bySet.get(Number(setId))?.push(release);
    return bySet;
  }

  async add(deployment: NewDeployment): Promise<DeploymentRecord> {
    return this.db.transaction().execute(async (trx) => {
      const record = await trx.insertInto('deployments').values({
        name: deployment.name, set_id: deployment.setId, status: deployment.status, status_reason: null,
        target: deployment.target, waves: deployment.waves, current_wave: deployment.currentWave,
        failure_threshold: deployment.failureThreshold, require_approval: deployment.requireApproval ? 1 : 0,
        start_at: deployment.startAt, created_by: deployment.by, created_at: deployment.now, updated_at: deployment.now,
      }).returningAll().executeTakeFirstOrThrow();
      // Inserted in slices: a statement has a bounded number of parameters (SQLite: 32766).
      for (let i = 0; i < deployment.vehicles.length; i += 1000) {
        await trx.insertInto('deployment_vehicles').values(deployment.vehicles.slice(i, i + 1000).map(({ vehicleId, wave }) => ({
          deployment_id: record.id, vehicle_id: vehicleId, wave,
          state: wave <= deployment.currentWave ? 'assigned' : 'waiting', percent: null, ecu: null, reason: null, updated_at: deployment.now,
        }))).execute();
      }
      await event(trx, record.id, null, deployment.now, deployment.status, `created by ${deployment.by}: ${deployment.vehicles.length} vehicles`);
      return record;
    });
  }

  async find(id: number): Promise<DeploymentRecord | undefined> {
    return this.db.selectFrom('deployments').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Newest first. */
  async list(options: { limit: number; offset: number }): Promise<DeploymentRecord[]> {
    return this.db.selectFrom('deployments').selectAll().orderBy('id', 'desc').limit(options.limit).offset(options.offset).execute();
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('deployments').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Deployments whose start time has come while they are still scheduled. */
  async dueToStart(now: number): Promise<DeploymentRecord[]> {
    return this.db.selectFrom('deployments').selectAll().where('status', '=', 'scheduled').where('start_at', '<=', now).execute();
  }

  /**
   * Sets the status (a new current wave starts with no accepted failures); only when it still is `from`
   * (another server may have moved it).
   */
  async changeStatus(id: number, from: DeploymentStatus,
    to: { status: DeploymentStatus; reason: string | null; currentWave?: number; acceptedFailures?: number }, now: number): Promise<boolean> {
    const result = await this.db.updateTable('deployments')
      .set({
        status: to.status, status_reason: to.reason, updated_at: now,
        ...(to.currentWave !== undefined ? { current_wave: to.currentWave, accepted_failures: 0 } : {}),
        ...(to.acceptedFailures !== undefined ? { accepted_failures: to.acceptedFailures } : {}),
      })
      .where('id', '=', id).where('status', '=', from).executeTakeFirst();
    const changed = Number(result.numUpdatedRows) === 1;
    if (changed) await event(this.db, id, null, now, to.status, to.reason);
    return changed;
  }

  /** Moves the vehicles of `wave` that wait into `assigned`. */
  async startWave(id: number, wave: number, now: number): Promise<void> {
    const started = await this.db.updateTable('deployment_vehicles').set({ state: 'assigned', updated_at: now })
      .where('deployment_id', '=', id).where('wave', '=', wave).where('state', '=', 'waiting').returning('vehicle_id').execute();
    for (const { vehicle_id: vehicleId } of started) await event(this.db, id, vehicleId, now, 'assigned', `wave ${wave}`);
  }

  /** Every vehicle in one of `states` goes to `to` (a cancel: those that did not start). */
  async moveVehicles(id: number, states: readonly string[], to: string, now: number, reason: string): Promise<number> {
    const moved = await this.db.updateTable('deployment_vehicles').set({ state: to, reason, percent: null, updated_at: now })
      .where('deployment_id', '=', id).where('state', 'in', states).returning('vehicle_id').execute();
    for (const { vehicle_id: vehicleId } of moved) await event(this.db, id, vehicleId, now, to, reason);
    return moved.length;
  }

  async vehicle(id: number, vehicleId: number): Promise<DeploymentVehicleRecord | undefined> {
    return this.db.selectFrom('deployment_vehicles').innerJoin('vehicles', 'vehicles.id', 'deployment_vehicles.vehicle_id')
      .selectAll('deployment_vehicles').select('vehicles.vin')
      .where('deployment_id', '=', id).where('vehicle_id', '=', vehicleId).executeTakeFirst();
  }

  /** Records a vehicle's new state; the event is written only when the state (not just the percent) changed. */
  async updateVehicle(id: number, vehicleId: number, change: VehicleStateChange, now: number, previous: string): Promise<void> {
    await this.db.updateTable('deployment_vehicles').set({
      state: change.state, percent: change.percent ?? null, ecu: change.ecu ?? null, reason: change.reason ?? null, updated_at: now,
    }).where('deployment_id', '=', id).where('vehicle_id', '=', vehicleId).execute();
    if (change.state !== previous) await event(this.db, id, vehicleId, now, change.state, change.reason ?? null);
  }

  async vehicles(id: number, options: { state?: string; limit: number; offset: number }): Promise<DeploymentVehicleRecord[]> {
    let query = this.db.selectFrom('deployment_vehicles').innerJoin('vehicles', 'vehicles.id', 'deployment_vehicles.vehicle_id')
      .selectAll('deployment_vehicles').select('vehicles.vin').where('deployment_id', '=', id);
    if (options.state) query = query.where('deployment_vehicles.state', '=', options.state);
    return query.orderBy('wave').orderBy('vehicles.vin').limit(options.limit).offset(options.offset).execute();
  }

  /** How many vehicles of each wave are in each state. */
  async counts(id: number): Promise<{ wave: number; state: string; n: number }[]> {
    const rows = await this.db.selectFrom('deployment_vehicles').select(['wave', 'state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deployment_id', '=', id).groupBy(['wave', 'state']).orderBy('wave').orderBy('state').execute();
    return rows.map((row) => ({ wave: Number(row.wave), state: row.state, n: Number(row.n) }));
  }

  /** The vehicle's rows in deployments that are not over, newest deployment first. */
  async openForVehicle(vehicleId: number): Promise<{ deployment: DeploymentRecord; vehicle: DeploymentVehicleRecord }[]> {
    const rows = await this.db.selectFrom('deployment_vehicles')
      .innerJoin('deployments', 'deployments.id', 'deployment_vehicles.deployment_id')
      .innerJoin('vehicles', 'vehicles.id', 'deployment_vehicles.vehicle_id')
      .selectAll('deployments')
      .select(['deployment_vehicles.wave as v_wave', 'deployment_vehicles.state as v_state', 'deployment_vehicles.percent as v_percent',
        'deployment_vehicles.ecu as v_ecu', 'deployment_vehicles.reason as v_reason', 'deployment_vehicles.updated_at as v_updated_at', 'vehicles.vin as vin'])
      .where('deployment_vehicles.vehicle_id', '=', vehicleId).where('deployments.status', 'not in', ['finished', 'scheduled'])
      .orderBy('deployments.id', 'desc').execute();
    return rows.map(({ v_wave: wave, v_state: state, v_percent: percent, v_ecu: ecu, v_reason: reason, v_updated_at: updatedAt, vin, ...deployment }) => ({
      deployment,
      vehicle: { deployment_id: deployment.id, vehicle_id: vehicleId, vin, wave, state, percent, ecu, reason, updated_at: updatedAt },
    }));
  }

  /** The deployment's history: its own changes and each vehicle's, oldest first. */
  async events(id: number, limit = 10_000): Promise<Selectable<Schema['deployment_events']>[]> {
    return this.db.selectFrom('deployment_events').selectAll().where('deployment_id', '=', id).orderBy('id').limit(limit).execute();
  }
}

async function event(db: Db, deploymentId: number, vehicleId: number | null, at: number, state: string, detail: string | null): Promise<void> {
  await db.insertInto('deployment_events').values({ deployment_id: deploymentId, vehicle_id: vehicleId, at, state, detail }).execute();
}
