import { createHash, createHmac } from 'node:crypto';
import type { AuditRecord, AuditRow } from '../storage/audit-entries.ts';

/** The `prev_hash` of the very first entry. */
export const genesisHash = '0'.repeat(64);

type Sealable = Omit<AuditRow, 'hash'>;

function canonicalEntry(entry: Sealable): string {
  return JSON.stringify([
    entry.prev_hash, entry.at, entry.event, entry.outcome, entry.actor, entry.ip, entry.subject, entry.details,
  ]);
}

/**
 * The legacy, unkeyed seal: SHA-256 over every field and the previous entry's hash. Anyone who can write
 * the database can recompute it, so it only survives as the prefix written before the audit key existed
 * (that prefix is frozen by the first keyed entry, whose MAC covers its `prev_hash`).
 */
export function entryHash(entry: Sealable): string {
  return createHash('sha256').update(canonicalEntry(entry)).digest('hex');
}

/**
 * The keyed seal: HMAC-SHA256 with the audit key (kept outside the database, `chain-key.ts`) over every
 * field and the previous entry's MAC. Without the key nobody can append, change, remove or re-chain an
 * entry so that it still verifies.
 */
export function entryMac(key: Buffer, entry: Sealable): string {
  return createHmac('sha256', key).update('canota-audit/2\n').update(canonicalEntry(entry)).digest('hex');
}

/** Seals with the audit key, or (no key: tests of the legacy format only) with the unkeyed hash. */
export function seal(entry: Omit<Sealable, 'prev_hash'>, prevHash: string | null, key?: Buffer): AuditRow {
  const withPrev = { ...entry, prev_hash: prevHash ?? genesisHash };
  return { ...withPrev, hash: key ? entryMac(key, withPrev) : entryHash(withPrev) };
}

/** JSON with sorted keys, so the same details always hash the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

export type ChainProblem = { id: number; reason: string };

/** Checks one entry against the seal of the entry before it (keyed when `key` is given); undefined when sound. */
export function checkLink(entry: AuditRecord, prevHash: string, key?: Buffer): ChainProblem | undefined {
  if (entry.prev_hash !== prevHash) {
    return { id: entry.id, reason: 'prev_hash does not match the previous entry (an entry was removed, inserted or changed)' };
  }
  const expected = key ? entryMac(key, entry) : entryHash(entry);
  if (expected !== entry.hash) {
    return { id: entry.id, reason: key
      ? 'hash does not match the entry\'s content under the audit key (the entry was changed, or written by someone without the key)'
      : 'hash does not match the entry\'s content (the entry was changed)' };
  }
  return undefined;
}
