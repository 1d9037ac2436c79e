import type { AuditLog } from '../audit/audit-log.ts';
import type { Storage } from '../storage/index.ts';
import type { ApiTokenRecord } from '../storage/api-tokens.ts';
import { bearerTokenKind } from '../auth/bearer-token.ts';
import { parseScopes, type ApiScope } from './scopes.ts';

/** A management API token (auth/bearer-token.ts): `cat_` and 43 base64url characters. */
export const apiTokens = bearerTokenKind('cat_');

/** Tokens expire after this many days unless told otherwise; "never" must be asked for. */
export const defaultExpiryDays = 90;
const maxExpiryDays = 3650;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const dayMs = 24 * 60 * 60 * 1000;

export class ApiTokenInputError extends Error {}

export type ApiTokenState = 'active' | 'expired' | 'revoked';

/** What the CLI, the API and the UI show of a token: everything but its hash. */
export interface ApiTokenView {
  name: string;
  scopes: string[];
  state: ApiTokenState;
  created_by: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  last_used_at: string | null;
  last_used_ip: string | null;
}

export function tokenState(record: ApiTokenRecord, now: number): ApiTokenState {
  if (record.revoked_at !== null) return 'revoked';
  return record.expires_at !== null && record.expires_at <= now ? 'expired' : 'active';
}

export function tokenView(record: ApiTokenRecord, now: number): ApiTokenView {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    name: record.name, scopes: record.scopes.split(' '), state: tokenState(record, now),
    created_by: record.created_by, created_at: iso(record.created_at)!, expires_at: iso(record.expires_at),
    revoked_at: iso(record.revoked_at), revoked_by: record.revoked_by,
    last_used_at: iso(record.last_used_at), last_used_ip: record.last_used_ip,
  };
}

/** "90", "90d" → 90 days; "never" → null (no expiry). Throws ApiTokenInputError. */
export function parseExpiry(text: string | number | null | undefined): number | null {
  if (text === undefined || text === null || text === '') return defaultExpiryDays;
  if (text === 'never') return null;
  const match = /^([0-9]{1,5})d?$/.exec(String(text).trim());
  const days = match ? Number(match[1]) : NaN;
  if (!Number.isInteger(days) || days < 1 || days > maxExpiryDays) {
    throw new ApiTokenInputError(`expiry must be a number of days from 1 to ${maxExpiryDays} (e.g. 90d) or "never"`);
  }
  return days;
}

export interface NewApiToken {
  name: string;
  scopes: string | readonly string[];
  /** Days until it expires; null: never. */
  expiresInDays: number | null;
  by: string;
  ip?: string | null;
  now: number;
}

/** Makes a token: the record (its hash) and the token itself, which is shown once. Audited. */
export async function createApiToken(storage: Storage, audit: AuditLog, input: NewApiToken): Promise<{ record: ApiTokenRecord; token: string }> {
  if (!namePattern.test(input.name)) {
    throw new ApiTokenInputError('a token name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  }
  let scopes: ApiScope[];
  try {
    scopes = parseScopes(input.scopes);
  } catch (error) {
    throw new ApiTokenInputError((error as Error).message);
  }
  const token = apiTokens.newToken();
  const expiresAt = input.expiresInDays === null ? null : input.now + input.expiresInDays * dayMs;
  const record = await storage.apiTokens.add({ name: input.name, tokenHash: apiTokens.hash(token)!, scopes, by: input.by, now: input.now, expiresAt });
  await audit.record({
    event: 'token.create', outcome: 'ok', actor: input.by, ip: input.ip ?? null, subject: input.name,
    details: { scopes, expires_at: expiresAt === null ? 'never' : new Date(expiresAt).toISOString() },
  });
  return { record, token };
}

/** Revokes a token by name: it stops working at once. Undefined when there is none or it was revoked already. */
export async function revokeApiToken(storage: Storage, audit: AuditLog, input: { name: string; by: string; ip?: string | null; now: number }): Promise<ApiTokenRecord | undefined> {
  const record = await storage.apiTokens.revoke(input.name, input.by, input.now);
  if (record) await audit.record({ event: 'token.revoke', outcome: 'ok', actor: input.by, ip: input.ip ?? null, subject: input.name });
  return record;
}
