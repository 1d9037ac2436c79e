import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A vehicle's bearer token: 256 random bits, base64url, with a recognisable prefix (so secret scanners
 * and people can tell what a leaked string is). The server keeps only its SHA-256: the token is long
 * and random, so a fast hash is enough (no dictionary to guess from) and every request can check it.
 */
export const tokenPrefix = 'cvt_';
const tokenPattern = /^cvt_[A-Za-z0-9_-]{43}$/;

export function newVehicleToken(): string {
  return `${tokenPrefix}${randomBytes(32).toString('base64url')}`;
}

/** Undefined for text that cannot be a token (checked before any database lookup). */
export function hashVehicleToken(token: string): string | undefined {
  if (!tokenPattern.test(token)) return undefined;
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Compares two token hashes in constant time. The database finds the row by the hash (an index lookup
 * whose timing reveals at most something about a SHA-256, nothing about the token); this check makes
 * the final decision not depend on where two values first differ.
 */
export function sameTokenHash(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}
