import type { AuditRecord } from '../storage/audit-entries.ts';

/** An audit entry as the API and `canota audit --json` show it: ISO time, details as an object. */
export function auditEntryJson(entry: AuditRecord): Omit<AuditRecord, 'at' | 'details'> & { at: string; details: unknown } {
  return { ...entry, at: new Date(entry.at).toISOString(), details: JSON.parse(entry.details) as unknown };
}
