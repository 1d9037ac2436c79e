import type { AuditLog } from './audit/audit-log.ts';
import { generatePassword, hashPassword } from './auth/passwords.ts';
import type { Role, Storage } from './storage/index.ts';
import type { UserRecord } from './storage/users.ts';

/** Usernames appear in URLs, logs and pages: keep them plain. */
export const usernamePattern = /^[A-Za-z0-9._@-]{1,64}$/;

export class UserInputError extends Error {
  override name = 'UserInputError';
}

export function checkUsername(username: string): string {
  if (!usernamePattern.test(username)) {
    throw new UserInputError(`bad username "${username}": use 1 to 64 letters, digits, and . _ @ -`);
  }
  return username;
}

export interface AddedUser {
  user: UserRecord;
  /** Set when the password was generated: show it once, it is stored only as a bcrypt hash. */
  generatedPassword?: string;
}

/**
 * Creates a user (CLI, admin UI, and the demo's first admin). Without a password one is generated;
 * there is never a fixed default password.
 */
export async function addUser(
  storage: Storage, audit: AuditLog,
  request: { username: string; role: Role; password?: string; by: string; ip?: string | null },
): Promise<AddedUser> {
  checkUsername(request.username);
  const generatedPassword = request.password === undefined ? generatePassword() : undefined;
  const passwordHash = await hashPassword(request.password ?? generatedPassword!);
  const user = await storage.users.add({ username: request.username, passwordHash, role: request.role, now: Date.now() });
  await audit.record({ event: 'user.add', outcome: 'ok', actor: request.by, ip: request.ip ?? null, subject: user.username, details: { role: user.role } });
  return generatedPassword ? { user, generatedPassword } : { user };
}

export async function removeUser(storage: Storage, audit: AuditLog, request: { username: string; by: string; ip?: string | null }): Promise<boolean> {
  const removed = await storage.users.remove(request.username);
  if (removed) await audit.record({ event: 'user.remove', outcome: 'ok', actor: request.by, ip: request.ip ?? null, subject: request.username });
  return removed;
}

/** Sets a new password (generated when none is given); the user's sessions are not kept by name, so they run out on idle. */
export async function changePassword(
  storage: Storage, audit: AuditLog, request: { username: string; password?: string; by: string },
): Promise<{ changed: boolean; generatedPassword?: string }> {
  const generatedPassword = request.password === undefined ? generatePassword() : undefined;
  const passwordHash = await hashPassword(request.password ?? generatedPassword!);
  const changed = await storage.users.setPassword(request.username, passwordHash, Date.now());
  if (changed) await audit.record({ event: 'user.passwd', outcome: 'ok', actor: request.by, subject: request.username });
  return changed && generatedPassword ? { changed, generatedPassword } : { changed };
}
