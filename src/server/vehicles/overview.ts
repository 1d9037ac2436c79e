import type { Storage } from '../storage/index.ts';
import type { VehicleRecord, VehicleEcuRecord } from '../storage/vehicles.ts';
import type { VehicleReportRecord, VehicleUpdateRecord } from '../storage/vehicle-reports.ts';
import type { VehicleSearch } from '../storage/vehicle-search.ts';
import type { VehicleDeploymentState } from '../storage/vehicle-deployment-state.ts';

/** One vehicle as the admin UI and `GET /api/v1/vehicles` show it. */
export interface VehicleSummary {
  vehicle: VehicleRecord;
  ecus: VehicleEcuRecord[];
  lastReport: VehicleReportRecord | undefined;
  /** Sorted. */
  tags: string[];
  /** Where it is in the newest deployment it belongs to, if any. */
  deployment: VehicleDeploymentState | undefined;
}

export interface ReportWithUpdates {
  report: VehicleReportRecord;
  updates: VehicleUpdateRecord[];
}

export interface VehicleHistory extends VehicleSummary {
  /** Newest first. */
  reports: ReportWithUpdates[];
  /** Every deployment the vehicle is in, newest first. */
  deployments: VehicleDeploymentState[];
}

/** One page of a fleet search with each vehicle's ECUs, tags and newest report (four queries), and how many match in all. */
export async function searchVehicleSummaries(storage: Storage, search: VehicleSearch): Promise<{ summaries: VehicleSummary[]; total: number }> {
  const { vehicles, total } = await storage.vehicles.search(search);
  return { summaries: await summariesOf(storage, vehicles), total };
}

async function summariesOf(storage: Storage, vehicles: VehicleRecord[]): Promise<VehicleSummary[]> {
  const ids = vehicles.map((v) => v.id);
  const [ecus, reports, tags, deployments] = await Promise.all([
    storage.vehicles.ecus(ids), storage.vehicleReports.latest(ids), storage.vehicleTags.of(ids), storage.vehicles.deploymentStates(ids),
  ]);
  return vehicles.map((vehicle) => ({
    vehicle,
    ecus: ecus.filter((e) => e.vehicle_id === vehicle.id),
    lastReport: reports.find((r) => r.vehicle_id === vehicle.id),
    tags: tags.get(Number(vehicle.id)) ?? [],
    deployment: deployments.get(Number(vehicle.id)),
  }));
}

/**
 * Online: the vehicle was in touch within `windowMs` (a request with its token, or a report). "Last seen" is
 * written at most every 30 s, so a window must be well above that; the default (5 minutes, `--online-window`)
 * is many polls of a TMU polling every 10 s.
 */
export function isOnline(vehicle: VehicleRecord, now: number, windowMs: number): boolean {
  return vehicle.last_seen_at !== null && vehicle.last_seen_at >= now - windowMs;
}

/** One vehicle with its newest `limit` reports and their ECU updates; undefined for an unknown VIN. */
export async function vehicleHistory(storage: Storage, vin: string, limit: number): Promise<VehicleHistory | undefined> {
  const vehicle = await storage.vehicles.find(vin);
  if (!vehicle) return undefined;
  const [ecus, reports, tags, deployments] = await Promise.all([
    storage.vehicles.ecus([vehicle.id]), storage.vehicleReports.list(vehicle.id, { limit }), storage.vehicleTags.of([vehicle.id]),
    storage.vehicles.deploymentsOf(vehicle.id),
  ]);
  const updates = await storage.vehicleReports.updates(reports.map((r) => r.id));
  return {
    vehicle, ecus, lastReport: reports[0], tags: tags.get(Number(vehicle.id)) ?? [], deployment: deployments[0], deployments,
    reports: reports.map((report) => ({ report, updates: updates.filter((u) => u.report_id === report.id) })),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function reportJson(report: VehicleReportRecord, updates?: VehicleUpdateRecord[]) {
  return {
    id: report.id,
    received_at: iso(report.received_at),
    at: iso(report.reported_at),
    campaign_id: report.campaign_id,
    outcome: report.outcome,
    message: report.message,
    ...(updates ? {
      updates: updates.map((u) => ({
        ecu: u.ecu, from: u.from_version, to: u.to_version, release_id: u.release_id, result: u.result, error: u.error,
      })),
    } : {}),
  };
}

/** `GET /api/v1/vehicles` entries (and the head of `GET /api/v1/vehicles/<vin>`); `online` as `isOnline` decides. */
export function vehicleJson(summary: VehicleSummary, online: boolean) {
  const { vehicle } = summary;
  return {
    vin: vehicle.vin,
    registered_at: iso(vehicle.created_at),
    token_issued_at: iso(vehicle.token_issued_at),
    last_seen_at: iso(vehicle.last_seen_at),
    last_seen_ip: vehicle.last_seen_ip,
    ecus: Object.fromEntries(summary.ecus.map((e) => [e.ecu, {
      version: e.version, sha256: e.sha256, active_bank: e.active_bank, state: e.state, hardware_id: e.hardware_id, reported_at: iso(e.reported_at),
    }])),
    last_report: summary.lastReport ? reportJson(summary.lastReport) : null,
    tags: summary.tags,
    online,
    deployment: summary.deployment ? deploymentStateJson(summary.deployment) : null,
  };
}

export function deploymentStateJson(deployment: VehicleDeploymentState) {
  return {
    id: deployment.deploymentId, name: deployment.name, status: deployment.status, state: deployment.state,
    percent: deployment.percent, ecu: deployment.ecu, reason: deployment.reason, updated_at: iso(deployment.updatedAt),
  };
}
