import type { Generated } from 'kysely';

/**
 * The database's tables as Kysely sees them. Times are integer milliseconds since the epoch (UTC) on
 * every dialect, so no timezone or driver date conversion can shift them.
 */
export interface Schema {
  users: UsersTable;
  releases: ReleasesTable;
  nonces: NoncesTable;
  audit_log: AuditLogTable;
  sessions: SessionsTable;
  login_failures: LoginFailuresTable;
  vehicles: VehiclesTable;
  vehicle_ecus: VehicleEcusTable;
  vehicle_reports: VehicleReportsTable;
  vehicle_updates: VehicleUpdatesTable;
  vehicle_tags: VehicleTagsTable;
  api_tokens: ApiTokensTable;
  software_sets: SoftwareSetsTable;
  software_set_releases: SoftwareSetReleasesTable;
  deployments: DeploymentsTable;
  deployment_vehicles: DeploymentVehiclesTable;
  deployment_events: DeploymentEventsTable;
  ecu_registry: EcuRegistryTable;
}

export type Role = 'admin' | 'employee';
export const roles: readonly Role[] = ['admin', 'employee'];

export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  role: Role;
  created_at: number;
  updated_at: number;
}

export interface ReleasesTable {
  id: Generated<number>;
  filename: string;
  sha256: string;
  size: number;
  ecu: string | null;
  firmware_version: string | null;
  notes: string | null;
  uploaded_by: string;
  uploaded_at: number;
  /** When set, the release's manifest names it and the ECU refuses the image on other hardware (migration 0003). */
  hardware_id: Generated<string | null>;
  /** A withdrawn release is never offered again (migration 0005); when, by whom and why. */
  withdrawn_at: Generated<number | null>;
  withdrawn_by: Generated<string | null>;
  withdrawal_reason: Generated<string | null>;
  /**
   * `<ECU> <version without +build>` (`releaseVersionKey()`), unique: one release per ECU and version. Null
   * for a release naming no ECU, and for the older duplicates migration 0005 found.
   */
  version_key: Generated<string | null>;
}

export interface NoncesTable {
  /** SHA-256 of the nonce: a stolen database copy gives no usable nonce. */
  nonce_hash: string;
  issued_at: number;
  expires_at: number;
  issued_to_ip: string;
  /** Who asked, when a client identified itself (vehicle token, issue 5); null for anonymous clients. */
  issued_to: string | null;
  used_at: number | null;
  used_by_ip: string | null;
  /** The file the nonce was spent on, fixed at its first (and only) use. */
  used_for: string | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  event: string;
  outcome: string;
  actor: string | null;
  ip: string | null;
  subject: string | null;
  /** Canonical JSON object with event-specific details. */
  details: string;
  prev_hash: string;
  hash: string;
}

export interface SessionsTable {
  id: string;
  data: string;
  expires_at: number;
}

export interface LoginFailuresTable {
  /** `ip:<address>` or `user:<name>`: throttling counts both, whether or not the user exists. */
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

export interface VehiclesTable {
  id: Generated<number>;
  vin: string;
  /** SHA-256 (hex) of the vehicle's bearer token: the token itself is shown once and never stored. */
  token_hash: string;
  created_at: number;
  /** When the current token was issued (registration or the last rotation). */
  token_issued_at: number;
  last_seen_at: number | null;
  last_seen_ip: string | null;
}

/** Each ECU of a vehicle as its newest report described it. */
export interface VehicleEcusTable {
  vehicle_id: number;
  ecu: string;
  version: string | null;
  sha256: string | null;
  active_bank: string | null;
  state: string | null;
  /** The `at` of the report this row comes from (the vehicle's clock). */
  reported_at: number;
  report_id: number;
  /** The ECU's hardware id, when the report gave one (migration 0007). */
  hardware_id: Generated<string | null>;
}

/** A vehicle's tags (migration 0007): lower-case groups such as `pilot`, which deployments target. */
export interface VehicleTagsTable {
  vehicle_id: number;
  tag: string;
}

export interface VehicleReportsTable {
  id: Generated<number>;
  vehicle_id: number;
  /** Server time of arrival. */
  received_at: number;
  /** The report's own `at` (the vehicle's clock). */
  reported_at: number;
  campaign_id: string | null;
  outcome: string;
  message: string;
  ip: string | null;
  /** The whole report as received (canonical JSON), for the record. */
  body: string;
}

/** One ECU's update inside a report: the update history and its failures. */
export interface VehicleUpdatesTable {
  id: Generated<number>;
  report_id: number;
  vehicle_id: number;
  ecu: string;
  from_version: string;
  to_version: string;
  release_id: string;
  result: string;
  error: string | null;
}

export interface ApiTokensTable {
  id: Generated<number>;
  /** Unique, chosen by whoever made it (e.g. "ci-release"); audit entries name the token by it. */
  name: string;
  /** SHA-256 (hex) of the token: the token itself is shown once and never stored. */
  token_hash: string;
  /** Space-separated scopes (tokens/scopes.ts). */
  scopes: string;
  created_by: string;
  created_at: number;
  /** Null: never expires (made only on request). */
  expires_at: number | null;
  revoked_at: number | null;
  revoked_by: string | null;
  last_used_at: number | null;
  last_used_ip: string | null;
}

/** Releases that go together (hawkBit's distribution set): at most one per ECU. */
export interface SoftwareSetsTable {
  id: Generated<number>;
  name: string;
  created_by: string;
  created_at: number;
}

export interface SoftwareSetReleasesTable {
  set_id: number;
  /** The release's ECU in capitals: the primary key keeps one release per ECU in a set. */
  ecu: string;
  release_id: number;
}

export type DeploymentStatus = 'scheduled' | 'running' | 'paused' | 'waiting' | 'finished' | 'cancelled';

export interface DeploymentsTable {
  id: Generated<number>;
  name: string;
  set_id: number;
  status: DeploymentStatus;
  /** Why it is paused, waiting, finished or cancelled (an operator's action, a wave over its failure threshold). */
  status_reason: string | null;
  /** JSON: the target as given (`deployments/target.ts`), kept for the record; the vehicles are in deployment_vehicles. */
  target: string;
  /** JSON: the waves as given (`deployments/rollout-plan.ts`). */
  waves: string;
  /** The newest wave whose vehicles are told to install (1-based; 0 before the start). */
  current_wave: number;
  /** Percent of a wave that may fail before the deployment pauses. */
  failure_threshold: number;
  /** Failures of the current wave an operator accepted by resuming: only more than these pause it again. */
  accepted_failures: Generated<number>;
  /** 1: each next wave waits for an operator's `advance`. */
  require_approval: number;
  start_at: number;
  created_by: string;
  created_at: number;
  updated_at: number;
}

export interface DeploymentVehiclesTable {
  deployment_id: number;
  vehicle_id: number;
  wave: number;
  /** `deployments/vehicle-states.ts`. */
  state: string;
  percent: number | null;
  ecu: string | null;
  reason: string | null;
  updated_at: number;
}

/** Every change of a deployment (vehicle_id null) or of one vehicle's state in it. */
export interface DeploymentEventsTable {
  id: Generated<number>;
  deployment_id: number;
  vehicle_id: number | null;
  at: number;
  state: string;
  detail: string | null;
}

/** An ECU releases may name (`releases/ecu-registry.ts`). */
export interface EcuRegistryTable {
  /** In capitals, as ECUs name themselves. */
  name: string;
  /** JSON array of the hardware ids it comes in; empty: any. */
  hardware_ids: string;
  /** The largest image it takes; null: only the server's upload limit. */
  max_image_bytes: number | null;
  /** `default` (the standard car), `inventory` (first reported by a vehicle) or `admin` (set by an admin). */
  source: string;
  updated_by: string;
  updated_at: number;
}
