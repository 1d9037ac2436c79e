import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A kind of bearer token: 256 random bits, base64url, after a recognisable prefix (so secret scanners and
 * people can tell what a leaked string is, and whose it is: `cvt_` a vehicle's, `cat_` an API client's).
 * The server keeps only a token's SHA-256: the token is long and random, so a fast hash is enough (no
 * dictionary to guess from) and every request can check it.
 */
export interface BearerTokenKind {
  readonly prefix: string;
  newToken(): string;
  /** Undefined for text that cannot be a token of this kind (checked before any database lookup). */
  hash(token: string): string | undefined;
}

export function bearerTokenKind(prefix: string): BearerTokenKind {
  const pattern = new RegExp(`^${prefix}[A-Za-z0-9_-]{43}$`);
  return {
    prefix,
    newToken: () => `${prefix}${randomBytes(32).toString('base64url')}`,
    hash: (token) => (pattern.test(token) ? createHash('sha256').update(token).digest('hex') : undefined),
  };
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
