import type { Storage } from '../storage/index.ts';
import type { VehicleRecord, VehicleEcuRecord } from '../storage/vehicles.ts';
import type { VehicleReportRecord, VehicleUpdateRecord } from '../storage/vehicle-reports.ts';

/** One vehicle as the admin UI and `GET /api/v1/vehicles` show it. */
export interface VehicleSummary {
  vehicle: VehicleRecord;
  ecus: VehicleEcuRecord[];
  lastReport: VehicleReportRecord | undefined;
}

export interface ReportWithUpdates {
  report: VehicleReportRecord;
  updates: VehicleUpdateRecord[];
}

export interface VehicleHistory extends VehicleSummary {
  /** Newest first. */
  reports: ReportWithUpdates[];
}

/** Every registered vehicle with its ECUs and newest report (three queries, whatever the fleet's size). */
export async function vehicleSummaries(storage: Storage): Promise<VehicleSummary[]> {
  const vehicles = await storage.vehicles.list();
  const ids = vehicles.map((v) => v.id);
  const [ecus, reports] = await Promise.all([storage.vehicles.ecus(ids), storage.vehicleReports.latest(ids)]);
  return vehicles.map((vehicle) => ({
    vehicle,
    ecus: ecus.filter((e) => e.vehicle_id === vehicle.id),
    lastReport: reports.find((r) => r.vehicle_id === vehicle.id),
  }));
}

/** One vehicle with its newest `limit` reports and their ECU updates; undefined for an unknown VIN. */
export async function vehicleHistory(storage: Storage, vin: string, limit: number): Promise<VehicleHistory | undefined> {
  const vehicle = await storage.vehicles.find(vin);
  if (!vehicle) return undefined;
  const [ecus, reports] = await Promise.all([storage.vehicles.ecus([vehicle.id]), storage.vehicleReports.list(vehicle.id, { limit })]);
  const updates = await storage.vehicleReports.updates(reports.map((r) => r.id));
  return {
    vehicle, ecus, lastReport: reports[0],
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

/** `GET /api/v1/vehicles` entries (and the head of `GET /api/v1/vehicles/<vin>`). */
export function vehicleJson(summary: VehicleSummary) {
  const { vehicle } = summary;
  return {
    vin: vehicle.vin,
    registered_at: iso(vehicle.created_at),
    token_issued_at: iso(vehicle.token_issued_at),
    last_seen_at: iso(vehicle.last_seen_at),
    last_seen_ip: vehicle.last_seen_ip,
    ecus: Object.fromEntries(summary.ecus.map((e) => [e.ecu, {
      version: e.version, sha256: e.sha256, active_bank: e.active_bank, state: e.state, reported_at: iso(e.reported_at),
    }])),
    last_report: summary.lastReport ? reportJson(summary.lastReport) : null,
  };
}
