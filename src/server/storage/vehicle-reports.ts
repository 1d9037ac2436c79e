import type { Kysely, Selectable } from 'kysely';
import type { Schema, VehicleReportsTable, VehicleUpdatesTable } from './schema.ts';

export type VehicleReportRecord = Selectable<VehicleReportsTable>;
export type VehicleUpdateRecord = Selectable<VehicleUpdatesTable>;

export interface NewVehicleReport {
  vehicleId: number;
  receivedAt: number;
  reportedAt: number;
  campaignId: string | null;
  outcome: string;
  message: string;
  ip: string | null;
  body: string;
  ecus: Array<{ ecu: string; version: string | null; sha256: string | null; active_bank: string | null; state: string | null; hardware_id?: string | null }>;
  updates: Array<{ ecu: string; from_version: string; to_version: string; release_id: string; result: string; error: string | null }>;
}

/** What vehicles reported: the reports, the update history inside them, and each vehicle's ECUs. */
export class VehicleReportStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /**
   * Stores a report in one transaction: the report, its updates, the vehicle's ECUs and its last-seen
   * time. The newest report to arrive describes the ECUs: the TMU sends its reports one at a time, oldest
   * first, so arrival order is the vehicle's order, and unlike the report's own `at` it does not depend
   * on the vehicle's clock being right (one report from 2099 would otherwise freeze the versions).
   */
  async add(report: NewVehicleReport): Promise<VehicleReportRecord> {
    return this.db.transaction().execute(async (trx) => {
      const stored = await trx.insertInto('vehicle_reports').values({
        vehicle_id: report.vehicleId, received_at: report.receivedAt, reported_at: report.reportedAt,
        campaign_id: report.campaignId, outcome: report.outcome, message: report.message, ip: report.ip, body: report.body,
      }).returningAll().executeTakeFirstOrThrow();
      if (report.updates.length > 0) {
        await trx.insertInto('vehicle_updates')
          .values(report.updates.map((u) => ({ ...u, report_id: stored.id, vehicle_id: report.vehicleId })))
          .execute();
      }
      for (const ecu of report.ecus) {
        await trx.insertInto('vehicle_ecus')
          .values({ ...ecu, vehicle_id: report.vehicleId, reported_at: report.reportedAt, report_id: stored.id })
          .onConflict((oc) => oc.columns(['vehicle_id', 'ecu'])
            .doUpdateSet((eb) => ({
              version: eb.ref('excluded.version'), sha256: eb.ref('excluded.sha256'),
              active_bank: eb.ref('excluded.active_bank'), state: eb.ref('excluded.state'),
              reported_at: eb.ref('excluded.reported_at'), report_id: eb.ref('excluded.report_id'),
              hardware_id: eb.ref('excluded.hardware_id'),
            })))
          .execute();
      }
      await trx.updateTable('vehicles').set({ last_seen_at: report.receivedAt, ...(report.ip ? { last_seen_ip: report.ip } : {}) })
        .where('id', '=', report.vehicleId).execute();
      return stored;
    });
  }

  /** A vehicle's reports, newest first (`beforeId` pages backwards). */
  async list(vehicleId: number, options: { limit: number; beforeId?: number | undefined }): Promise<VehicleReportRecord[]> {
    let query = this.db.selectFrom('vehicle_reports').selectAll().where('vehicle_id', '=', vehicleId)
      .orderBy('id', 'desc').limit(options.limit);
    if (options.beforeId !== undefined) query = query.where('id', '<', options.beforeId);
    return query.execute();
  }

  /** The newest report of each of these vehicles. */
  async latest(vehicleIds: readonly number[]): Promise<VehicleReportRecord[]> {
    if (vehicleIds.length === 0) return [];
    return this.db.selectFrom('vehicle_reports').selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('vehicle_reports').select((s) => s.fn.max('id').as('id'))
        .where('vehicle_id', 'in', vehicleIds).groupBy('vehicle_id'))
      .execute();
  }

  /** The ECU updates inside these reports, in report order. */
  async updates(reportIds: readonly number[]): Promise<VehicleUpdateRecord[]> {
    if (reportIds.length === 0) return [];
    return this.db.selectFrom('vehicle_updates').selectAll().where('report_id', 'in', reportIds)
      .orderBy('report_id').orderBy('id').execute();
  }
}
