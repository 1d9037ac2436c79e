import type { Kysely } from 'kysely';
import { type Dialect, bigint } from './column-types.ts';

/**
 * Vehicle tags (groups such as `pilot` or `fleet-berlin`, which deployments target), one row per vehicle
 * and tag, indexed by tag for "the vehicles tagged X"; and each ECU's hardware id as the vehicle reports it
 * (the inventory filter "hardware EDT-HW-A1").
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable('vehicle_tags')
    .addColumn('vehicle_id', bigint(dialect), (c) => c.notNull().references('vehicles.id'))
    .addColumn('tag', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('vehicle_tags_pk', ['vehicle_id', 'tag'])
    .execute();
  await db.schema.createIndex('vehicle_tags_by_tag').on('vehicle_tags').columns(['tag', 'vehicle_id']).execute();
  await db.schema.alterTable('vehicle_ecus').addColumn('hardware_id', 'text').execute();
}
