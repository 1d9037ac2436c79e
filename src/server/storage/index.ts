import { openDatabase, type Database } from './database.ts';
import { UserStore } from './users.ts';
import { ReleaseStore } from './releases.ts';
import { NonceStore } from './nonces.ts';
import { SessionRecordStore } from './sessions.ts';
import { LoginFailureStore } from './login-failures.ts';
import { AuditEntryStore } from './audit-entries.ts';
import { VehicleStore } from './vehicles.ts';
import { VehicleReportStore } from './vehicle-reports.ts';
import { VehicleTagStore } from './vehicle-tags.ts';
import { ApiTokenStore } from './api-tokens.ts';
import { DeploymentStore } from './deployments.ts';
import { EcuRegistryStore } from './ecu-registry.ts';

/** Everything the server keeps in its database; the only place that knows SQL. */
export interface Storage {
  database: Database;
  users: UserStore;
  releases: ReleaseStore;
  nonces: NonceStore;
  sessions: SessionRecordStore;
  loginFailures: LoginFailureStore;
  audit: AuditEntryStore;
  vehicles: VehicleStore;
  vehicleReports: VehicleReportStore;
  vehicleTags: VehicleTagStore;
  apiTokens: ApiTokenStore;
  deployments: DeploymentStore;
  ecuRegistry: EcuRegistryStore;
  close(): Promise<void>;
}

export async function openStorage(databaseUrl: string): Promise<Storage> {
  const database = await openDatabase(databaseUrl);
  const { db } = database;
  return {
    database,
    users: new UserStore(db),
    releases: new ReleaseStore(db),
    nonces: new NonceStore(db),
    sessions: new SessionRecordStore(db),
    loginFailures: new LoginFailureStore(db),
    audit: new AuditEntryStore(db, database.dialect),
    vehicles: new VehicleStore(db),
    vehicleReports: new VehicleReportStore(db),
    vehicleTags: new VehicleTagStore(db),
    apiTokens: new ApiTokenStore(db),
    deployments: new DeploymentStore(db),
    ecuRegistry: new EcuRegistryStore(db),
    close: () => database.close(),
  };
}

export { defaultDatabaseUrl, ping } from './database.ts';
export type { Database } from './database.ts';
export type { Role } from './schema.ts';
export { roles } from './schema.ts';
