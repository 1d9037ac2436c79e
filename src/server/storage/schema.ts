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
