import type { Logger } from '../../logging/logger.ts';
import type { AuditEntryStore, AuditFilter, AuditRecord } from '../storage/audit-entries.ts';
import { canonicalJson, checkLink, genesisHash, seal, type ChainProblem } from './chain.ts';

/** What can happen; the audit page filters on these. */
export const auditEvents = [
  'login', 'logout', 'upload', 'checkout', 'nonce.use', 'download', 'ip.block', 'csrf', 'access',
  'user.add', 'user.remove', 'user.passwd',
  'vehicle.register', 'vehicle.rotate', 'vehicle.auth', 'vehicle.report', 'vehicle.tags',
  'release.withdraw',
  'token.create', 'token.revoke', 'token.auth',
  'software-set.create', 'deployment.create', 'deployment.pause', 'deployment.resume', 'deployment.advance', 'deployment.cancel',
  'deployment.status', 'deployment.vehicle',
  'ecu.update', 'ecu.remove',
  // The audit key was created: the first entry sealed with it (the unkeyed entries before it are legacy).
  'audit.key',
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

/** What a checkpoint claims about the log: entry `id` is the `entries`-th entry and its seal is `hash`. */
export interface ChainPoint {
  id: number;
  hash: string;
  entries: number;
}

export interface ChainVerification {
  entries: number;
  /** Entries before the first keyed one (written before the audit key existed). */
  legacyEntries: number;
  /** The first broken entry, if any. */
  problem?: ChainProblem;
  /** The newest entry and its seal (what a checkpoint records); undefined for an empty log. */
  head?: ChainPoint;
  /** For each claim given to verify(), in order: undefined when the log still holds it, else what is wrong. */
  claims: Array<string | undefined>;
}

/**
 * The append-only, keyed hash chain of security-relevant events. Each entry is stored in the database and
 * also written as a JSON log line (`"audit": {…}`) for log shippers. With a key (the server always has
 * one, `chain-key.ts`) every entry is sealed with HMAC-SHA256; the unkeyed entries of an older log stay
 * verifiable as a legacy prefix, frozen by the first keyed entry.
 */
export class AuditLog {
  private readonly key: Buffer | undefined;
  private readonly clock: () => number;

  constructor(
    private readonly store: AuditEntryStore,
    private readonly logger: Logger,
    options: { key?: Buffer; clock?: () => number } = {},
  ) {
    this.key = options.key;
    this.clock = options.clock ?? Date.now;
  }

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
    const record = await this.store.append((prevHash) => seal(entry, prevHash, this.key));
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

  /**
   * Walks the whole chain. With the key: unkeyed entries pass only as a prefix, and at least one entry must
   * be keyed (a log cut back to its unkeyed entries, or rewritten without the key, is refused). `claims`
   * (from signed checkpoints) must still hold: their entry is there, at the same position, with the same seal.
   */
  async verify(claims: ChainPoint[] = []): Promise<ChainVerification> {
    let prevHash = genesisHash;
    let entries = 0;
    let legacyEntries = 0;
    let keyed = false;
    let head: ChainPoint | undefined;
    // Per claim (by index): undefined when it holds, else what is wrong; absent when its entry was not reached.
    const found = new Map<number, string | undefined>();
    const result = (problem?: ChainProblem): ChainVerification => ({
      entries, legacyEntries, problem, head,
      claims: claims.map((claim, i) => (found.has(i) ? found.get(i)
        : `entry #${claim.id} is no longer in the log (the newest entries were removed)`)),
    });
    for await (const entry of this.store.all()) {
      if (this.key && !keyed && !checkLink(entry, prevHash)) {
        legacyEntries++;
      } else {
        const problem = checkLink(entry, prevHash, this.key);
        if (problem) return result(problem);
        keyed = this.key !== undefined;
      }
      prevHash = entry.hash;
      entries++;
      head = { id: entry.id, hash: entry.hash, entries };
      for (const [i, claim] of claims.entries()) {
        if (claim.id !== entry.id) continue;
        found.set(i, claim.hash !== entry.hash || claim.entries !== entries
          ? `entry #${claim.id} is not the one the checkpoint signed (${claim.hash !== entry.hash ? 'its seal differs' : `it is entry ${entries}, not ${claim.entries}`}): entries up to it were changed, removed or re-chained`
          : undefined);
      }
    }
    if (this.key && !keyed) {
      return result({ id: head?.id ?? 0, reason: entries === 0
        ? 'the log is empty although the audit key exists (every entry was removed)'
        : 'no entry is sealed with the audit key although it exists (the log was cut back to, or rewritten as, unkeyed entries)' });
    }
    return result();
  }
}
