import bcrypt from 'bcrypt';
import { randomBytes } from 'node:crypto';

/** OWASP's floor for bcrypt; about a quarter second per hash here, which is the point. */
export const bcryptCost = 12;
export const minPasswordLength = 12;
/** bcrypt ignores everything past 72 bytes; refusing longer passwords avoids a false sense of strength. */
export const maxPasswordBytes = 72;

export class PasswordPolicyError extends Error {
  override name = 'PasswordPolicyError';
}

export function checkPasswordPolicy(password: string): void {
  if (password.length < minPasswordLength) throw new PasswordPolicyError(`password must have at least ${minPasswordLength} characters`);
  if (Buffer.byteLength(password) > maxPasswordBytes) throw new PasswordPolicyError(`password must be at most ${maxPasswordBytes} bytes`);
}

export async function hashPassword(password: string): Promise<string> {
  checkPasswordPolicy(password);
  return bcrypt.hash(password, bcryptCost);
}

/** A random password for a new account, printed once: 20 characters from a 62-letter alphabet (~119 bits). */
export function generatePassword(length = 20): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789-_.!';
  let password = '';
  while (password.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // Rejection sampling keeps every letter equally likely.
      if (byte < 256 - (256 % alphabet.length) && password.length < length) password += alphabet[byte % alphabet.length];
    }
  }
  return password;
}

let dummyHash: Promise<string> | undefined;

/**
 * Checks a password against a stored hash. With no hash (unknown user) it still runs a full bcrypt
 * comparison against a dummy hash of the same cost, so an unknown user and a wrong password take the
 * same time and an attacker cannot learn which usernames exist.
 */
export async function verifyPassword(password: string, hash: string | undefined): Promise<boolean> {
  const against = hash ?? await (dummyHash ??= bcrypt.hash(randomBytes(16).toString('hex'), bcryptCost));
  const matches = await bcrypt.compare(password.slice(0, 256), against);
  return matches && hash !== undefined;
}

/** Computes the dummy hash ahead of the first login, so that login is not slower than the rest. */
export async function warmUpPasswordCheck(): Promise<void> {
  await verifyPassword('', undefined);
}
