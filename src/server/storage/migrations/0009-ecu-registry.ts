import type { Kysely } from 'kysely';
import { type Dialect, bigint } from './column-types.ts';

/**
 * The ECU registry: which ECUs releases may name, the hardware ids each comes in, and the largest image
 * each takes. Filled from vehicles' reports and by admins; it starts with the standard car's ECUs (the
 * demo's, `standardVehicleConfig`), written out here so that this step never changes.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await db.schema.createTable('ecu_registry')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('hardware_ids', 'text', (c) => c.notNull())
    .addColumn('max_image_bytes', bigint(dialect))
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text', (c) => c.notNull())
    .addColumn('updated_at', bigint(dialect), (c) => c.notNull())
    .execute();
  const now = Date.now();
  const standard = [['TMU', 'TMU-HW-A1'], ['CGW', 'CGW-HW-A1'], ['EDT', 'EDT-HW-A1']];
  await (db as Kysely<{ ecu_registry: Record<string, unknown> }>).insertInto('ecu_registry').values(standard.map(([name, hardware]) => ({
    name, hardware_ids: JSON.stringify([hardware]), max_image_bytes: null, source: 'default', updated_by: 'migration', updated_at: now,
  }))).execute();
}
