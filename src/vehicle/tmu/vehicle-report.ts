import type { ReportedEcu, UpdateResultKind, VehicleReport } from './server-api.ts';
import type { Campaign, TargetStatus } from './tmu-state.ts';

/** The report for the server (docs/vehicle-protocol.md): the outcome, every ECU as it runs now, each update's result. */
export function reportOf(campaign: Campaign, outcome: VehicleReport['outcome'], ecus: Record<string, ReportedEcu>, at = new Date()): VehicleReport {
  return {
    campaign_id: campaign.id,
    outcome,
    ecus,
    updates: campaign.targets.map((target) => ({
      ecu: target.ecu, from: target.from, to: target.to,
      release_id: target.release.releaseId ?? target.manifest?.signed.release_id ?? '',
      result: resultOf(target.status),
      // The server keeps up to 4000 characters of each text.
      ...(target.error ? { error: target.error.slice(0, 4000) } : {}),
    })),
    message: (campaign.message ?? '').slice(0, 4000),
    at: at.toISOString(),
  };
}

/** What an ECU's step in the campaign means for the report. */
export function resultOf(status: TargetStatus): UpdateResultKind {
  switch (status) {
    case 'installed': return 'installed';
    case 'failed': return 'failed';
    case 'rolled-back': return 'rolled-back';
    default: return 'not-attempted';
  }
}
