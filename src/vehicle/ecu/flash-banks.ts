import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { EcuError } from './errors.ts';
import type { SignedManifest } from '../../crypto/manifest.ts';
import {
  emptyBank, otherBank, readBootRecord, writeBootRecord,
  type BankName, type BankRecord, type BootEvent, type BootRecord,
} from './boot-record.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { compareFirmwareVersions } from '../../firmware/version-order.ts';

/** Simulated flash speed; zero or absent means instant. */
export interface FlashTiming {
  eraseBytesPerSecond?: number;
  programBytesPerSecond?: number;
}

export interface FactoryImage {
  version: string;
  image: Uint8Array;
}

export interface FlashBanksOptions {
  /** The ECU's own state directory (bank images and boot record live here). */
  directory: string;
  ecu: string;
  /** Written to bank A on first start, when the directory holds no boot record. */
  factory: FactoryImage;
  /** Largest image a bank holds. */
  bankSize?: number;
  timing?: FlashTiming;
  /** Boots of one activation that may fail before the ECU gives up on it. */
  maxBootAttempts?: number;
}

export class FlashError extends EcuError {
  override name = 'FlashError';
}

export interface VerifiedImage {
  sha256: string;
  size: number;
  version: string;
  manifest: SignedManifest | null;
}

/**
 * The simulated flash of one ECU: two banks (A/B) as files plus a boot record, written so that killing the
 * process at any instant leaves an ECU that boots a good image. The rule that makes it safe: the record is
 * the only truth, it is replaced atomically, and it marks a bank `verified` only after its bytes were
 * re-read and hashed; a bank is booted only when its bytes still hash to what the record says.
 */
export class FlashBanks {
  readonly ecu: string;
  readonly bankSize: number;
  readonly #directory: string;
  readonly #timing: FlashTiming;
  readonly #maxBootAttempts: number;
  #record: BootRecord;

  private constructor(options: FlashBanksOptions, record: BootRecord) {
    this.ecu = options.ecu;
    this.#directory = options.directory;
    this.bankSize = options.bankSize ?? 64 * 1024 * 1024;
    this.#timing = options.timing ?? {};
    this.#maxBootAttempts = options.maxBootAttempts ?? 3;
    this.#record = record;
  }

  /** Opens the ECU's flash, writing the factory image on first start, and boots it. */
  static async open(options: FlashBanksOptions): Promise<FlashBanks> {
    await mkdir(options.directory, { recursive: true });
    const recordPath = join(options.directory, 'boot-record.json');
    let record = await readBootRecord(recordPath);
    if (!record) {
      // The factory image is in place before the record that names it: a crash in between just repeats this.
      await writeFileAtomic(join(options.directory, 'bank-A.img'), options.factory.image);
      const sha256 = createHash('sha256').update(options.factory.image).digest('hex');
      record = {
        ecu: options.ecu,
        active: 'A',
        banks: {
          A: { state: 'verified', size: options.factory.image.length, sha256, version: options.factory.version,
            manifest: null, updatedAt: new Date().toISOString() },
          B: emptyBank(),
        },
        trial: null,
        previous: null,
        lastBoot: null,
        bootCount: 0,
        // The factory image is what the ECU left the plant with: confirmed, and the first floor.
        confirmed: true,
        floor: options.factory.version,
      };
      await writeBootRecord(recordPath, record);
    }
    const banks = new FlashBanks(options, record);
    await banks.boot();
    return banks;
  }

  get record(): BootRecord {
    return structuredClone(this.#record);
  }

  get active(): BankName {
    return this.#record.active;
  }

  get inactive(): BankName {
    return otherBank(this.#record.active);
  }

  get activeBank(): BankRecord {
    return this.#record.banks[this.#record.active];
  }

  get inactiveBank(): BankRecord {
    return this.#record.banks[this.inactive];
  }

  /** Whether the running image is confirmed (see BootRecord.confirmed). */
  get confirmed(): boolean {
    return this.#record.confirmed;
  }

  /** The anti-rollback floor: the newest version ever confirmed (null: none yet). */
  get floor(): string | null {
    return this.#record.floor;
  }

  bankPath(bank: BankName): string {
    return join(this.#directory, `bank-${bank}.img`);
  }

  /** Erases the inactive bank; the running image is never touched. */
  async eraseInactive(): Promise<void> {
    this.#requireNoTrial('erase');
    const bank = this.inactive;
    // The image kept for an all-or-nothing rollback is about to go: it can no longer be rolled back to.
    if (this.#record.previous === bank) await this.#commit({ ...this.#record, previous: null });
    await this.#updateBank(bank, { state: 'erased', size: 0, sha256: null, version: null, manifest: null });
    await rm(this.bankPath(bank), { force: true });
    await this.#simulate(this.bankSize, this.#timing.eraseBytesPerSecond);
  }

  /** Starts programming `size` bytes into the (erased) inactive bank. */
  async beginProgramming(size: number): Promise<BankWriter> {
    this.#requireNoTrial('program');
    const bank = this.inactive;
    if (this.#record.banks[bank].state !== 'erased') {
      throw new FlashError(`bank ${bank} must be erased before programming (it is ${this.#record.banks[bank].state})`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size > this.bankSize) {
      throw new FlashError(`image size ${size} does not fit the ${this.bankSize}-byte bank`);
    }
    await this.#updateBank(bank, { state: 'programming', size });
    const handle = await open(this.bankPath(bank), 'w');
    return new BankWriter(handle, size, this.#timing.programBytesPerSecond, async (sha256) => {
      await this.#updateBank(bank, { state: 'written', size, sha256 });
    });
  }

  /**
   * Re-reads the inactive bank and marks it verified when its bytes are exactly `expected` (length and
   * SHA-256); otherwise marks it invalid and throws. Policy (signature, version, hardware) is the caller's.
   */
  async verifyInactive(expected: VerifiedImage): Promise<void> {
    const bank = this.inactive;
    const record = this.#record.banks[bank];
    if (record.state !== 'written' && record.state !== 'verified') {
      throw new FlashError(`bank ${bank} holds no complete image (it is ${record.state})`);
    }
    const actual = await this.#hashBank(bank);
    let problem: string | undefined;
    if (actual.size !== expected.size) problem = `image is ${actual.size} bytes, expected ${expected.size}`;
    else if (actual.sha256 !== expected.sha256) problem = `image SHA-256 ${actual.sha256} does not match ${expected.sha256}`;
    if (problem) {
      await this.invalidateInactive(problem);
      throw new FlashError(problem);
    }
    await this.#updateBank(bank, {
      state: 'verified', size: expected.size, sha256: expected.sha256, version: expected.version, manifest: expected.manifest,
    });
  }

  async invalidateInactive(reason: string): Promise<void> {
    await this.#updateBank(this.inactive, { state: 'invalid', reason });
  }

  /** Arms the verified inactive bank for the next boot (a reset). */
  async activateInactive(): Promise<void> {
    const bank = this.inactive;
    if (this.#record.banks[bank].state !== 'verified') {
      throw new FlashError(`bank ${bank} is not verified (it is ${this.#record.banks[bank].state}); nothing to activate`);
    }
    await this.#commit({ ...this.#record, trial: { bank, attempts: 0 } });
  }

  /**
   * Undoes the last activation for an all-or-nothing update: arms the previous bank, if it still holds a
   * verified image, for the next boot. Only while the running image is unconfirmed (on trial), unless
   * `authorized` (an authenticated rollback order), and never to a version below the floor.
   */
  async rollback(options: { authorized?: boolean } = {}): Promise<void> {
    const record = this.#record;
    const previous = record.previous;
    if (!previous || previous === record.active || record.banks[previous].state !== 'verified') {
      throw new FlashError('no previous verified image to roll back to');
    }
    const version = record.banks[previous].version;
    if (record.floor !== null && (version === null || compareFirmwareVersions(version, record.floor) < 0)) {
      throw new FlashError(`bank ${previous} holds ${version ?? 'an unknown version'}, below the anti-rollback floor ${record.floor}`);
    }
    if (record.confirmed && !options.authorized) {
      throw new FlashError(`the running ${this.activeBank.version ?? 'image'} is confirmed: rolling back needs an authenticated order`);
    }
    await this.#commit({ ...record, trial: { bank: previous, attempts: 0, rollback: true } });
  }

  /**
   * Confirms the running image: it stays (no rollback without an authenticated order) and the floor rises
   * to its version if that is newer. The previous bank is kept. Idempotent.
   */
  async confirm(): Promise<void> {
    this.#requireNoTrial('confirm');
    const record = this.#record;
    const version = this.activeBank.version;
    const floor = version !== null && (record.floor === null || compareFirmwareVersions(version, record.floor) > 0) ? version : record.floor;
    if (record.confirmed && floor === record.floor) return;
    await this.#commit({ ...record, confirmed: true, floor });
  }

  /**
   * What a bootloader does at power-on: try an armed bank (counting attempts across crashes), keep it only if
   * its bytes check out, else stay on (or fall back to) a bank that does.
   */
  async boot(): Promise<BootEvent> {
    const at = new Date().toISOString();
    let record = this.#record;
    let event: BootEvent | undefined;
    if (record.trial) {
      const trial = { ...record.trial, attempts: record.trial.attempts + 1 };
      record = { ...record, trial };
      await this.#commit(record); // counted before trying, so a crash during boot uses up an attempt
      const problem = trial.attempts > this.#maxBootAttempts
        ? `gave up after ${this.#maxBootAttempts} boot attempts`
        : await this.#bootCheck(trial.bank);
      if (!problem) {
        // After a rollback there is nothing left to roll back to: the abandoned image is not "previous".
        const previous = trial.rollback ? null : record.active;
        // A new image runs on trial until confirmed; an image returned to keeps what its version says.
        const confirmed = trial.rollback ? this.#withinFloor(record.banks[trial.bank].version) : false;
        record = { ...record, active: trial.bank, previous, trial: null, confirmed };
        event = { at, bank: trial.bank, version: record.banks[trial.bank].version, outcome: 'booted' };
      } else {
        const failed: BankRecord = { ...record.banks[trial.bank], state: 'invalid', reason: problem, updatedAt: at };
        record = { ...record, banks: { ...record.banks, [trial.bank]: failed }, trial: null };
        event = { at, bank: record.active, version: record.banks[record.active].version, outcome: 'rolled-back',
          reason: `bank ${trial.bank}: ${problem}` };
      }
    }
    const activeProblem = await this.#bootCheck(record.active);
    if (activeProblem) {
      const other = otherBank(record.active);
      const fallbackProblem = record.banks[other].state === 'verified' ? await this.#bootCheck(other) : 'not verified';
      if (fallbackProblem) {
        throw new FlashError(`no bootable image: bank ${record.active}: ${activeProblem}; bank ${other}: ${fallbackProblem}`);
      }
      const broken: BankRecord = { ...record.banks[record.active], state: 'invalid', reason: activeProblem, updatedAt: at };
      record = {
        ...record, banks: { ...record.banks, [record.active]: broken }, active: other, previous: null,
        confirmed: this.#withinFloor(record.banks[other].version),
      };
      event = { at, bank: other, version: record.banks[other].version, outcome: 'fell-back',
        reason: `bank ${otherBank(other)}: ${activeProblem}` };
    }
    event ??= { at, bank: record.active, version: record.banks[record.active].version, outcome: 'booted' };
    await this.#commit({ ...record, lastBoot: event, bootCount: record.bootCount + 1 });
    return event;
  }

  async #bootCheck(bank: BankName): Promise<string | undefined> {
    const record = this.#record.banks[bank];
    if (record.state !== 'verified') return `bank is ${record.state}, not verified`;
    try {
      const actual = await this.#hashBank(bank);
      if (actual.size !== record.size || actual.sha256 !== record.sha256) return 'image bytes no longer match their SHA-256';
    } catch (error) {
      return `image unreadable: ${errorMessage(error)}`;
    }
    return undefined;
  }

  async #hashBank(bank: BankName): Promise<{ sha256: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(this.bankPath(bank), { highWaterMark: 1 << 20 })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return { sha256: hash.digest('hex'), size };
  }

  /**
   * Whether an image the ECU returns to (a rollback, a fall-back) counts as confirmed: not newer than the
   * floor, so it or a newer version was confirmed once. A newer one was never confirmed here.
   */
  #withinFloor(version: string | null): boolean {
    const floor = this.#record.floor;
    return floor !== null && version !== null && compareFirmwareVersions(version, floor) <= 0;
  }

  #requireNoTrial(what: string): void {
    if (this.#record.trial) throw new FlashError(`cannot ${what} while bank ${this.#record.trial.bank} awaits its boot`);
  }

  async #updateBank(bank: BankName, changes: Partial<BankRecord>): Promise<void> {
    const updated: BankRecord = { ...this.#record.banks[bank], ...changes, updatedAt: new Date().toISOString() };
    if (changes.state !== 'invalid') delete updated.reason;
    await this.#commit({ ...this.#record, banks: { ...this.#record.banks, [bank]: updated } });
  }

  async #commit(record: BootRecord): Promise<void> {
    await writeBootRecord(join(this.#directory, 'boot-record.json'), record);
    this.#record = record;
  }

  async #simulate(bytes: number, bytesPerSecond: number | undefined): Promise<void> {
    if (bytesPerSecond && bytesPerSecond > 0) await sleep((bytes / bytesPerSecond) * 1000);
  }
}

/** Sequential writer into a bank being programmed; hashes as it writes, so finishing needs no re-read. */
export class BankWriter {
  #written = 0;
  readonly #hash: Hash = createHash('sha256');
  /** Set once; from then on the file handle is closed and the writer takes nothing more. */
  #ended: 'finished' | 'aborted' | null = null;

  constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    private readonly bytesPerSecond: number | undefined,
    private readonly onFinished: (sha256: string) => Promise<void>,
  ) {}

  get written(): number {
    return this.#written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#requireOpen();
    if (this.#written + chunk.length > this.size) {
      throw new FlashError(`writing ${chunk.length} bytes at ${this.#written} exceeds the announced ${this.size} bytes`);
    }
    await this.handle.write(chunk, 0, chunk.length, this.#written);
    this.#hash.update(chunk);
    this.#written += chunk.length;
    if (this.bytesPerSecond && this.bytesPerSecond > 0) await sleep((chunk.length / this.bytesPerSecond) * 1000);
  }

  /** Flushes the bank and records it `written`; throws unless exactly the announced size arrived. */
  async finish(): Promise<string> {
    this.#requireOpen();
    if (this.#written !== this.size) {
      await this.abort();
      throw new FlashError(`transfer ended after ${this.#written} of ${this.size} bytes`);
    }
    this.#ended = 'finished';
    await this.handle.sync();
    await this.handle.close();
    const sha256 = this.#hash.digest('hex');
    await this.onFinished(sha256);
    return sha256;
  }

  async abort(): Promise<void> {
    if (this.#ended) return;
    this.#ended = 'aborted';
    await this.handle.close();
  }

  #requireOpen(): void {
    if (this.#ended) throw new FlashError(`programming already ${this.#ended}`);
  }
}
