import type { Kysely } from 'kysely';
import { type Dialect, bigint, addIdColumn } from './column-types.ts';

/**
 * Software sets (releases that go together, one per ECU), deployments of a set to a target in waves, each
 * targeted vehicle's state in a deployment, and the history of those states (the deployment's chart).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await addIdColumn(db.schema.createTable('software_sets'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint(dialect), (c) => c.notNull())
    .execute();
  await db.schema.createTable('software_set_releases')
    .addColumn('set_id', bigint(dialect), (c) => c.notNull().references('software_sets.id'))
    .addColumn('ecu', 'text', (c) => c.notNull())
    .addColumn('release_id', bigint(dialect), (c) => c.notNull().references('releases.id'))
    .addPrimaryKeyConstraint('software_set_releases_pk', ['set_id', 'ecu'])
    .execute();

  await addIdColumn(db.schema.createTable('deployments'), dialect)
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('set_id', bigint(dialect), (c) => c.notNull().references('software_sets.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('waves', 'text', (c) => c.notNull())
    .addColumn('current_wave', 'integer', (c) => c.notNull())
    .addColumn('failure_threshold', 'integer', (c) => c.notNull())
    .addColumn('accepted_failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('require_approval', 'integer', (c) => c.notNull())
    .addColumn('start_at', bigint(dialect), (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint(dialect), (c) => c.notNull())
    .addColumn('updated_at', bigint(dialect), (c) => c.notNull())
    .execute();

  await db.schema.createTable('deployment_vehicles')
    .addColumn('deployment_id', bigint(dialect), (c) => c.notNull().references('deployments.id'))
    .addColumn('vehicle_id', bigint(dialect), (c) => c.notNull().references('vehicles.id'))
    .addColumn('wave', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('percent', 'integer')
    .addColumn('ecu', 'text')
    .addColumn('reason', 'text')
    .addColumn('updated_at', bigint(dialect), (c) => c.notNull())
    .addPrimaryKeyConstraint('deployment_vehicles_pk', ['deployment_id', 'vehicle_id'])
    .execute();
  await db.schema.createIndex('deployment_vehicles_by_vehicle').on('deployment_vehicles').columns(['vehicle_id', 'deployment_id']).execute();

  await addIdColumn(db.schema.createTable('deployment_events'), dialect)
    .addColumn('deployment_id', bigint(dialect), (c) => c.notNull().references('deployments.id'))
    .addColumn('vehicle_id', bigint(dialect))
    .addColumn('at', bigint(dialect), (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('detail', 'text')
    .execute();
  await db.schema.createIndex('deployment_events_by_deployment').on('deployment_events').columns(['deployment_id', 'id']).execute();
}
