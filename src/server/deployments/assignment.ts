import type { ManifestSigner } from '../releases/manifest-signer.ts';
import type { Storage } from '../storage/index.ts';
import { vehicleReleaseOf } from '../releases/latest-per-ecu.ts';
import { toldToInstall } from './deployment-service.ts';
import type { VehicleState } from './vehicle-states.ts';

/** What a registered vehicle is told to install: one deployment's releases, with its id as the campaign id. */
export interface Assignment {
  campaign_id: string | null;
  releases: ReturnType<typeof vehicleReleaseOf>[];
}

/**
 * The director's decision for one vehicle (the one function the Uptane director will take over): the newest
 * deployment that tells it to install now (running and its wave started, or a car already downloading or
 * installing finishing what it started), or nothing. A vehicle in no deployment is told nothing new.
 */
export async function assignmentFor(storage: Storage, signer: ManifestSigner, vehicleId: number): Promise<Assignment> {
  for (const { deployment, vehicle } of await storage.deployments.openForVehicle(vehicleId)) {
    if (!toldToInstall(deployment.status, vehicle.state as VehicleState)) continue;
    const releases = (await storage.deployments.setReleases([deployment.set_id])).get(deployment.set_id) ?? [];
    // Withdrawn after the deployment started: never offered again, whatever the deployment says.
    const offered = releases.filter((release) => release.withdrawn_at === null);
    return { campaign_id: String(deployment.id), releases: offered.map((release) => vehicleReleaseOf(release, signer)) };
  }
  return { campaign_id: null, releases: [] };
}
