import type { Kysely, Migration, MigrationProvider } from 'kysely';
import type { Dialect } from './column-types.ts';
import * as initial from './0001-initial.ts';
import * as auditAppendOnly from './0002-audit-append-only.ts';
import * as vehicles from './0003-vehicles.ts';
import * as sessionIdHashes from './0004-session-id-hashes.ts';
import * as releaseWithdrawal from './0005-release-withdrawal.ts';
import * as apiTokens from './0006-api-tokens.ts';
import * as vehicleTags from './0007-vehicle-tags.ts';
import * as deployments from './0008-deployments.ts';
import * as ecuRegistry from './0009-ecu-registry.ts';

/**
 * Every migration, in order. Names are numbered and never change once released; later issues append
 * (vehicles, reports), they never edit an earlier step.
 */
const steps: Record<string, { up(db: Kysely<unknown>, dialect: Dialect): Promise<void> }> = {
  '0001-initial': initial,
  '0002-audit-append-only': auditAppendOnly,
  '0003-vehicles': vehicles,
  '0004-session-id-hashes': sessionIdHashes,
  '0005-release-withdrawal': releaseWithdrawal,
  '0006-api-tokens': apiTokens,
  '0007-vehicle-tags': vehicleTags,
  '0008-deployments': deployments,
  '0009-ecu-registry': ecuRegistry,
};

export function migrationsFor(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: () => Promise.resolve(Object.fromEntries(
      Object.entries(steps).map(([name, step]): [string, Migration] => [name, { up: (db) => step.up(db, dialect) }]),
    )),
  };
}
