import type { Storage } from '../storage/index.ts';
import type { DeploymentRecord } from '../storage/deployments.ts';
import type { ReleaseRecord } from '../storage/releases.ts';
import { waveCount } from './deployment-service.ts';
import { waveSizes, type WaveSize } from './rollout-plan.ts';
import { vehicleStates, type VehicleState } from './vehicle-states.ts';

export interface ReleaseBrief {
  id: number;
  ecu: string | null;
  firmware_version: string | null;
  filename: string;
  sha256: string;
  withdrawn: boolean;
}

/** A deployment as the API and the pages show it: its plan, each wave with its vehicles' states, its releases. */
export interface DeploymentSummary {
  id: number;
  campaign_id: string;
  name: string;
  status: DeploymentRecord['status'];
  status_reason: string | null;
  software_set_id: number;
  releases: ReleaseBrief[];
  target: unknown;
  current_wave: number;
  wave_count: number;
  waves: { wave: number; plan: WaveSize | undefined; size: number; counts: Partial<Record<VehicleState, number>> }[];
  failure_threshold_percent: number;
  require_approval: boolean;
  start_at: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  vehicles: number;
  counts: Record<VehicleState, number>;
}

export function releaseBrief(release: ReleaseRecord): ReleaseBrief {
  return {
    id: release.id, ecu: release.ecu?.toUpperCase() ?? null, firmware_version: release.firmware_version, filename: release.filename,
    sha256: release.sha256, withdrawn: release.withdrawn_at !== null,
  };
}

export async function deploymentSummary(storage: Storage, deployment: DeploymentRecord): Promise<DeploymentSummary> {
  const [counts, sets] = await Promise.all([storage.deployments.counts(deployment.id), storage.deployments.setReleases([deployment.set_id])]);
  const plan = JSON.parse(deployment.waves) as WaveSize[];
  const total = counts.reduce((sum, row) => sum + row.n, 0);
  const byState = Object.fromEntries(vehicleStates.map((state) => [state, counts.filter((r) => r.state === state).reduce((sum, r) => sum + r.n, 0)])) as Record<VehicleState, number>;
  return {
    id: deployment.id, campaign_id: String(deployment.id), name: deployment.name, status: deployment.status, status_reason: deployment.status_reason,
    software_set_id: deployment.set_id, releases: (sets.get(deployment.set_id) ?? []).map(releaseBrief),
    target: JSON.parse(deployment.target) as unknown, current_wave: deployment.current_wave, wave_count: waveCount(deployment),
    waves: waveSizes(plan, total).map((size, index) => ({
      wave: index + 1, plan: plan[index], size,
      counts: Object.fromEntries(counts.filter((r) => r.wave === index + 1).map((r) => [r.state, r.n])),
    })),
    failure_threshold_percent: deployment.failure_threshold, require_approval: deployment.require_approval === 1,
    start_at: new Date(deployment.start_at).toISOString(), created_by: deployment.created_by,
    created_at: new Date(deployment.created_at).toISOString(), updated_at: new Date(deployment.updated_at).toISOString(),
    vehicles: total, counts: byState,
  };
}

/**
 * "2, 50%, 100%" (the form's waves field) → waves: a number is a count of vehicles, a number with % a share
 * of the target. Checked by checkWaves() like the API's.
 */
export function parseWavesText(text: string): unknown[] {
  return text.split(/[\s,;]+/).filter((part) => part !== '').map((part) => {
    const percent = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(part);
    if (percent) return { percent: Number(percent[1]) };
    return /^[0-9]+$/.test(part) ? { count: Number(part) } : { count: part };
  });
}
