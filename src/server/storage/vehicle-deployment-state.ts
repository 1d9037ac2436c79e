import type { Kysely } from 'kysely';
import type { DeploymentStatus, Schema } from './schema.ts';

/** Where a vehicle is in its newest deployment (the deployments' own tables; this only reads them). */
export interface VehicleDeploymentState {
  deploymentId: number;
  name: string;
  /** The deployment's own status (running, paused, …). */
  status: DeploymentStatus;
  /** The vehicle's state in it (`deployments/vehicle-states.ts`). */
  state: string;
  percent: number | null;
  ecu: string | null;
  reason: string | null;
  updatedAt: number;
}

/**
 * Each vehicle's state in the newest deployment it belongs to (highest id), for the vehicles list: a car
 * waiting for its driver shows "offered", one downloading its percent, although none has reported yet. Few
 * deployments per vehicle, so all of these vehicles' rows are read and the newest kept here.
 */
export async function newestDeploymentStates(db: Kysely<Schema>, vehicleIds: readonly number[]): Promise<Map<number, VehicleDeploymentState>> {
  const states = new Map<number, VehicleDeploymentState>();
  for (const { vehicleId, state } of await deploymentRows(db, vehicleIds)) {
    const known = states.get(vehicleId);
    if (!known || known.deploymentId < state.deploymentId) states.set(vehicleId, state);
  }
  return states;
}

/** Every deployment one vehicle is in, with its state there, newest first (the vehicle's page links them). */
export async function deploymentStatesOf(db: Kysely<Schema>, vehicleId: number): Promise<VehicleDeploymentState[]> {
  return (await deploymentRows(db, [vehicleId])).map(({ state }) => state).sort((a, b) => b.deploymentId - a.deploymentId);
}

async function deploymentRows(db: Kysely<Schema>, vehicleIds: readonly number[]): Promise<{ vehicleId: number; state: VehicleDeploymentState }[]> {
  if (vehicleIds.length === 0) return [];
  const rows = await db.selectFrom('deployment_vehicles').innerJoin('deployments', 'deployments.id', 'deployment_vehicles.deployment_id')
    .select([
      'deployment_vehicles.vehicle_id as vehicleId', 'deployment_vehicles.deployment_id as deploymentId', 'deployments.name as name',
      'deployments.status as status', 'deployment_vehicles.state as state', 'deployment_vehicles.percent as percent',
      'deployment_vehicles.ecu as ecu', 'deployment_vehicles.reason as reason', 'deployment_vehicles.updated_at as updatedAt',
    ])
    .where('deployment_vehicles.vehicle_id', 'in', vehicleIds).execute();
  return rows.map(({ vehicleId, ...row }) => ({
    vehicleId: Number(vehicleId), state: { ...row, deploymentId: Number(row.deploymentId), updatedAt: Number(row.updatedAt) },
  }));
}
