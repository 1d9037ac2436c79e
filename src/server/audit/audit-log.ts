import type { Logger } from '../../logging/logger.ts';
import type { AuditEntryStore, AuditFilter, AuditRecord } from '../storage/audit-entries.ts';
import { canonicalJson, checkLink, genesisHash, seal, type ChainProblem } from './chain.ts';

/** What can happen; the audit page filters on these. */
export const auditEvents = [
  'login', 'logout', 'upload', 'checkout', 'nonce.use', 'download', 'ip.block', 'csrf', 'access',
  'user.add', 'user.remove', 'user.passwd',
  'vehicle.register', 'vehicle.rotate', 'vehicle.auth', 'vehicle.report',
] as const;
export type AuditEventName = (typeof auditEvents)[number];
export type AuditOutcome = 'ok' | 'failed' | 'denied';

export interface AuditEvent {
  event: AuditEventName;
  outcome: AuditOutcome;
  /** The user (or `cli`, or a vehicle) who did it; null when unknown. */
  actor?: string | null;
  ip?: string | null;
  /** What it was done to: a filename, a username, a route. */
  subject?: string | null;
  /** Event-specific facts, e.g. `{reason: 'expired'}` or `{bytes: 1024}`. */
  details?: Record<string, unknown>;
}

/**
 * The append-only, hash-chained record of security-relevant events. Each entry is stored in the
 * database and also written as a JSON log line (`"audit": {…}`) for log shippers.
 */
export class AuditLog {
  constructor(
    private readonly store: AuditEntryStore,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  async record(event: AuditEvent): Promise<AuditRecord> {
    const entry = {
      at: this.clock(),
      event: event.event,
      outcome: event.outcome,
      actor: event.actor ?? null,
      ip: event.ip ?? null,
      subject: event.subject ?? null,
      details: canonicalJson(event.details ?? {}),
    };
    const record = await this.store.append((prevHash) => seal(entry, prevHash));
    this.logger.info({ audit: { ...record, details: event.details ?? {} } }, `audit ${record.event} ${record.outcome}`);
    return record;
  }

  /** For events recorded after the response is already on its way: a failure is logged, never thrown. */
  recordLater(event: AuditEvent): void {
    this.record(event).catch((error: unknown) => this.logger.error({ err: error, event }, 'could not write audit entry'));
  }

  list(filter: AuditFilter): Promise<AuditRecord[]> {
    return this.store.list(filter);
  }

  /** Walks the whole chain; resolves with the count of entries and the first broken one, if any. */
  async verify(): Promise<{ entries: number; problem?: ChainProblem }> {
    let prevHash = genesisHash;
    let entries = 0;
    for await (const entry of this.store.all()) {
      const problem = checkLink(entry, prevHash);
      if (problem) return { entries, problem };
      prevHash = entry.hash;
      entries++;
    }
    return { entries };
  }
}
