import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import { MAX_FRESHNESS } from './profile.ts';

/** Values reserved per file write by default: at 10 frames/s one write every ~7 minutes. */
export const DEFAULT_RESERVATION_BLOCK = 4096;

export class FreshnessCounterError extends Error {
  override name = 'FreshnessCounterError';
}

const counterFileSchema = z.object({
  /** Every value below this may have been handed out already; the next process starts here. */
  reservedUpTo: z.string().regex(/^[0-9]{1,20}$/),
}).strict();

/**
 * The sender's monotonic Freshness Value (the Tx side of AUTOSAR's Freshness Value Manager): a 64-bit
 * counter kept across restarts, so no value is ever used twice under one key, even after a crash, a kill -9
 * or a power loss.
 *
 * Persistence by reservation blocks: the file says "values below N may have been used"; `reservedUpTo` is
 * written atomically (src/files/atomic-write.ts: temp file, fsync, rename, fsync dir) BEFORE any value
 * below it is handed out, and a new process starts at the stored N. The counter costs one file write per
 * block; the next block is reserved in the background once fewer than half a block of reserved values
 * remain, so `next()` rarely waits for the disk. A restart therefore skips fewer than 1.5 blocks of unused
 * values, which receivers of truncated freshness must be able to resynchronise over
 * (freshness-reconstruction.ts): with 8 transmitted bits and 16 extra attempts, a block of at most 2730.
 *
 * The first value ever handed out is 1 (a receiver that accepted nothing yet starts from 0).
 * One file, one process: two counters on the same file would hand out the same values.
 */
export class FreshnessCounter {
  readonly path: string;
  readonly block: bigint;
  #next: bigint;
  #reserved: bigint;
  #reserving: Promise<void> | null = null;
  #failure: unknown = null;

  private constructor(path: string, start: bigint, block: bigint) {
    this.path = path;
    this.block = block;
    this.#next = start;
    this.#reserved = start;
  }

  /**
   * Opens (or creates) the counter in `path`. A file that exists but cannot be read as a counter is an
   * error: starting again from 1 would reuse values.
   */
  static async open(path: string, options: { block?: number } = {}): Promise<FreshnessCounter> {
    const block = options.block ?? DEFAULT_RESERVATION_BLOCK;
    if (!Number.isSafeInteger(block) || block < 1) throw new FreshnessCounterError(`reservation block must be a positive integer, got ${block}`);
    const text = await readOptional(path);
    let start = 1n;
    if (text !== null) {
      let parsed;
      try {
        parsed = counterFileSchema.safeParse(JSON.parse(text));
      } catch {
        parsed = null;
      }
      if (!parsed?.success) throw new FreshnessCounterError(`${path} is not a freshness counter file; refusing to start over (values would be reused)`);
      start = BigInt(parsed.data.reservedUpTo);
      if (start > MAX_FRESHNESS) throw new FreshnessCounterError(`${path}: freshness counter exhausted`);
    }
    const counter = new FreshnessCounter(path, start, BigInt(block));
    await mkdir(dirname(path), { recursive: true });
    await counter.#reserve(start + counter.block);
    return counter;
  }

  /** The next value `next()` would hand out (for tests and diagnostics). */
  get peek(): bigint {
    return this.#next;
  }

  /** Values below this are covered by the file: a restart starts here. */
  get reservedUpTo(): bigint {
    return this.#reserved;
  }

  /** The next freshness value: strictly greater than every value handed out before, in this or any earlier process. */
  async next(): Promise<bigint> {
    for (;;) {
      if (this.#next < this.#reserved) {
        const value = this.#next;
        this.#next += 1n;
        if (this.#reserved - this.#next <= this.block / 2n) this.#reserveAhead();
        return value;
      }
      if (this.#next > MAX_FRESHNESS) throw new FreshnessCounterError(`${this.path}: freshness counter exhausted`);
      this.#failure = null;
      this.#reserveAhead();
      await this.#reserving;
      // A failed write leaves nothing reserved: refuse rather than hand out an unpersisted value.
      if (this.#next >= this.#reserved && this.#failure !== null) throw this.#failure;
    }
  }

  /** Waits for a reservation in flight (call before closing, so a write does not outlive its owner). */
  async close(): Promise<void> {
    await this.#reserving?.catch(() => undefined);
  }

  #reserveAhead(): void {
    if (this.#reserving) return;
    this.#reserving = this.#reserve(this.#reserved + this.block)
      .catch((error: unknown) => {
        this.#failure = error;
      })
      .finally(() => {
        this.#reserving = null;
      });
  }

  async #reserve(wanted: bigint): Promise<void> {
    const upTo = wanted > MAX_FRESHNESS + 1n ? MAX_FRESHNESS + 1n : wanted;
    if (upTo <= this.#reserved) return;
    await writeFileAtomic(this.path, `${JSON.stringify({ reservedUpTo: upTo.toString() })}\n`);
    this.#reserved = upTo;
  }
}
