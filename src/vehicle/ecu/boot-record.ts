import { readOptional } from '../../files/read-optional.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import type { SignedManifest } from '../../crypto/manifest.ts';
import { EcuError } from './errors.ts';
import { errorMessage } from '../../errors/error-message.ts';

export type BankName = 'A' | 'B';

export const otherBank = (bank: BankName): BankName => (bank === 'A' ? 'B' : 'A');

/**
 * What a bank holds. The state only moves forward through erase → programming → written → verified;
 * only a `verified` bank may ever be booted, so a half-programmed bank (a kill -9 mid-flash) is never taken
 * for a good one.
 */
export type BankState = 'empty' | 'erased' | 'programming' | 'written' | 'verified' | 'invalid';

export interface BankRecord {
  state: BankState;
  /** Bytes programmed (written/verified) or announced (programming). */
  size: number;
  /** SHA-256 of the programmed bytes, known from `written` on. */
  sha256: string | null;
  /** Firmware version, known from `verified` on. */
  version: string | null;
  /** The release manifest the image was verified against (absent for factory images). */
  manifest: SignedManifest | null;
  updatedAt: string;
  /** Why a bank became `invalid`. */
  reason?: string;
}

export type BootOutcome = 'booted' | 'rolled-back' | 'fell-back';

export interface BootEvent {
  at: string;
  bank: BankName;
  version: string | null;
  outcome: BootOutcome;
  reason?: string;
}

/** The boot record: which bank runs, what each holds, and an activation on trial. Written atomically. */
export interface BootRecord {
  ecu: string;
  active: BankName;
  banks: Record<BankName, BankRecord>;
  /** Set by an activation (reset after a verified check); cleared by the boot that keeps or rejects it. */
  trial: { bank: BankName; attempts: number; rollback?: boolean } | null;
  /** The bank that ran before the last successful activation, kept for an all-or-nothing rollback. */
  previous: BankName | null;
  lastBoot: BootEvent | null;
  bootCount: number;
  /**
   * Whether the active image is confirmed (routine 0xFF03, or the factory image): an activated image boots
   * unconfirmed and may be rolled back while it is; once confirmed, only an authenticated order may.
   */
  confirmed: boolean;
  /**
   * The anti-rollback floor: the newest firmware version ever confirmed. Nothing below it is checked in
   * (0xFF01) or rolled back to (0xFF02). Null for a record from before confirmations, until the first one.
   */
  floor: string | null;
}

export class BootRecordError extends EcuError {
  override name = 'BootRecordError';
}

export async function readBootRecord(path: string): Promise<BootRecord | null> {
  const text = await readOptional(path);
  if (text === null) return null;
  try {
    const record = JSON.parse(text) as BootRecord;
    if ((record.active !== 'A' && record.active !== 'B') || !record.banks?.A || !record.banks?.B) {
      throw new BootRecordError('missing active bank or bank records');
    }
    // Records written before confirmations existed: what ran then had been kept, so it counts as confirmed;
    // the floor starts with the first confirmation.
    const { confirmed, floor } = record as Partial<BootRecord>;
    return { ...record, confirmed: typeof confirmed === 'boolean' ? confirmed : true, floor: typeof floor === 'string' ? floor : null };
  } catch (error) {
    throw new BootRecordError(`boot record ${path} is unreadable: ${errorMessage(error)}`);
  }
}

export async function writeBootRecord(path: string, record: BootRecord): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}

export function emptyBank(): BankRecord {
  return { state: 'empty', size: 0, sha256: null, version: null, manifest: null, updatedAt: new Date().toISOString() };
}
