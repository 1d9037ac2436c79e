import { createHash } from 'node:crypto';
import type { AuditRecord, AuditRow } from '../storage/audit-entries.ts';

/** The `prev_hash` of the very first entry. */
export const genesisHash = '0'.repeat(64);

type Sealable = Omit<AuditRow, 'hash'>;

/**
 * An entry's hash covers every field of the entry and the previous entry's hash, so changing, removing
 * or reordering any entry breaks the chain from that point on (`canota audit verify`).
 */
export function entryHash(entry: Sealable): string {
  const canonical = JSON.stringify([
    entry.prev_hash, entry.at, entry.event, entry.outcome, entry.actor, entry.ip, entry.subject, entry.details,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function seal(entry: Omit<Sealable, 'prev_hash'>, prevHash: string | null): AuditRow {
  const withPrev = { ...entry, prev_hash: prevHash ?? genesisHash };
  return { ...withPrev, hash: entryHash(withPrev) };
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

/** Checks one entry against the hash of the entry before it; undefined when it is sound. */
export function checkLink(entry: AuditRecord, prevHash: string): ChainProblem | undefined {
  if (entry.prev_hash !== prevHash) {
    return { id: entry.id, reason: 'prev_hash does not match the previous entry (an entry was removed, inserted or changed)' };
  }
  if (entryHash(entry) !== entry.hash) return { id: entry.id, reason: 'hash does not match the entry\'s content (the entry was changed)' };
  return undefined;
}
