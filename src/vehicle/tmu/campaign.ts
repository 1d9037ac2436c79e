import { createHash } from 'node:crypto';
import type { ApprovalOfferInput } from '../cgw/approval-protocol.ts';
import { estimateEcuSeconds } from '../cgw/estimate.ts';
import type { VehicleConfig } from '../config.ts';
import { ecuByName } from '../network.ts';
import type { AnnouncedRelease } from './server-api.ts';
import type { Campaign, CampaignTarget } from './tmu-state.ts';

/** A release the TMU wants to install, with the version it replaces. */
export interface Candidate {
  announced: AnnouncedRelease;
  from: string;
}

/**
 * The campaign id names exactly which images go to which ECUs: the same releases are the same campaign
 * (recognised by the CGW after a restart, remembered when declined), and a newer release for any ECU makes
 * a new one, which the driver is asked about again.
 */
export function campaignId(targets: readonly { ecu: string; sha256: string }[]): string {
  const key = targets.map((target) => `${target.ecu}:${target.sha256}`).sort().join('\n');
  return `c-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * The order ECUs are flashed and activated in: those behind the gateway first, then the gateway, then
 * the TMU itself. Resetting the gateway or the tester in the middle of the others' activations would cut
 * the path to them; done last, everything else has already booted.
 */
export function installOrder(config: VehicleConfig, ecus: readonly string[]): string[] {
  const rank = (name: string) => (name === config.tester ? 2 : name === config.gateway.ecu ? 1 : 0);
  const position = (name: string) => config.ecus.findIndex((ecu) => ecu.name === name);
  return [...ecus].sort((a, b) => rank(a) - rank(b) || position(a) - position(b));
}

/** `id`: the server's campaign id (its deployment's); without one, the campaign is named after its images. */
export function planCampaign(config: VehicleConfig, candidates: readonly Candidate[], now = new Date(), id?: string): Campaign {
  const byEcu = new Map(candidates.map((candidate) => [candidate.announced.ecu, candidate]));
  const targets: CampaignTarget[] = installOrder(config, [...byEcu.keys()]).map((ecu) => {
    const { announced, from } = byEcu.get(ecu)!;
    return {
      ecu, from, to: announced.firmwareVersion, release: announced.release, notes: announced.notes,
      manifest: announced.manifest, path: null, status: 'pending', percent: 0,
    };
  });
  return {
    id: id ?? campaignId(targets.map((target) => ({ ecu: target.ecu, sha256: target.release.sha256 }))),
    plannedAt: now.toISOString(), targets, offer: null, attempts: 0, outcome: null, message: null, reportFile: null,
  };
}

/** The offer for the CGW (docs/vehicle-protocol.md): per ECU from → to, size and SHA-256, the notes, a time estimate. */
export function offerFor(config: VehicleConfig, campaign: Campaign): ApprovalOfferInput {
  const ecus = campaign.targets.map((target) => ({
    name: target.ecu, from: target.from, to: target.to, size: target.release.size ?? 0, sha256: target.release.sha256,
  }));
  const notes = campaign.targets.filter((target) => target.notes.trim() !== '')
    .map((target) => (campaign.targets.length > 1 ? `${target.ecu} ${target.to}: ${target.notes.trim()}` : target.notes.trim()))
    .join('\n\n');
  const estimated = ecus.reduce((total, ecu) => total + estimateEcuSeconds(config, ecu.name, ecu.size), 0);
  return { campaign_id: campaign.id, ecus, notes: notes.slice(0, 8000), estimated_seconds: estimated };
}

/**
 * The campaign with `ecu`'s target changed, as a new value: the TMU saves the new campaign first and only
 * then holds it, so a save that fails leaves the one in memory as the one on disk.
 */
export function withTarget(campaign: Campaign, ecu: string, change: (target: CampaignTarget) => CampaignTarget): Campaign {
  return { ...campaign, targets: campaign.targets.map((target) => (target.ecu === ecu ? change(target) : target)) };
}

/** "EDT 1.0.0→2.0.0, CGW 1.0.0→1.1.0" for logs. */
export function describeCampaign(campaign: Campaign): string {
  return campaign.targets.map((target) => `${target.ecu} ${target.from || '?'}→${target.to}`).join(', ');
}

export function isKnownEcu(config: VehicleConfig, name: string): boolean {
  try {
    ecuByName(config, name);
    return true;
  } catch {
    return false;
  }
}
