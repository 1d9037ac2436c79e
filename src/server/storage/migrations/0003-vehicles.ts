import type { Kysely } from 'kysely';
import { type Dialect, bigint, addIdColumn } from './column-types.ts';

/**
 * Vehicles (VIN + a hash of their bearer token), each vehicle's ECUs as last reported, the reports
 * themselves with one row per ECU update (the update history), and an optional hardware id per release.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('releases').addColumn('hardware_id', 'text').execute();

  await addIdColumn(db.schema.createTable('vehicles'), dialect)
    .addColumn('vin', 'text', (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_at', bigint(dialect), (c) => c.notNull())
    .addColumn('token_issued_at', bigint(dialect), (c) => c.notNull())
    .addColumn('last_seen_at', bigint(dialect))
    .addColumn('last_seen_ip', 'text')
    .execute();

  await addIdColumn(db.schema.createTable('vehicle_reports'), dialect)
    .addColumn('vehicle_id', bigint(dialect), (c) => c.notNull().references('vehicles.id'))
    .addColumn('received_at', bigint(dialect), (c) => c.notNull())
    .addColumn('reported_at', bigint(dialect), (c) => c.notNull())
    .addColumn('campaign_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('ip', 'text')
    .addColumn('body', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('vehicle_reports_by_vehicle').on('vehicle_reports').columns(['vehicle_id', 'id']).execute();

  await addIdColumn(db.schema.createTable('vehicle_updates'), dialect)
    .addColumn('report_id', bigint(dialect), (c) => c.notNull().references('vehicle_reports.id'))
    .addColumn('vehicle_id', bigint(dialect), (c) => c.notNull().references('vehicles.id'))
    .addColumn('ecu', 'text', (c) => c.notNull())
    .addColumn('from_version', 'text', (c) => c.notNull())
    .addColumn('to_version', 'text', (c) => c.notNull())
    .addColumn('release_id', 'text', (c) => c.notNull())
    .addColumn('result', 'text', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('vehicle_updates_by_report').on('vehicle_updates').columns(['report_id', 'id']).execute();

  await db.schema.createTable('vehicle_ecus')
    .addColumn('vehicle_id', bigint(dialect), (c) => c.notNull().references('vehicles.id'))
    .addColumn('ecu', 'text', (c) => c.notNull())
    .addColumn('version', 'text')
    .addColumn('sha256', 'text')
    .addColumn('active_bank', 'text')
    .addColumn('state', 'text')
    .addColumn('reported_at', bigint(dialect), (c) => c.notNull())
    .addColumn('report_id', bigint(dialect), (c) => c.notNull().references('vehicle_reports.id'))
    .addPrimaryKeyConstraint('vehicle_ecus_pk', ['vehicle_id', 'ecu'])
    .execute();
}
