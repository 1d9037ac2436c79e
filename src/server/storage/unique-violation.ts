import { errorCode } from '../../errors/error-message.ts';

/** True when a driver error is a unique-constraint violation (SQLite or PostgreSQL). */
export function isUniqueViolation(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}

/** True when SQLite could not take its write lock because another process holds it. */
export function isBusy(error: unknown): boolean {
  const code = errorCode(error);
  return code?.startsWith('SQLITE_BUSY') ?? false;
}
