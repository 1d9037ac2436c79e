import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { errorMessage } from '../../errors/error-message.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';

/** By default the accepted freshness values reach the disk at most once a second. */
export const DEFAULT_ACCEPTED_WRITE_INTERVAL_MS = 1000;

const fileSchema = z.object({
  accepted: z.record(z.string(), z.string().regex(/^[0-9]{1,20}$/)),
}).strict();

/**
 * The receiver's side of the Freshness Value Manager: the latest accepted freshness of each secured
 * message a node receives, kept across restarts in one small JSON file (`{"accepted": {entry: "<decimal>"}}`)
 * so a restarted receiver does not accept old frames again.
 *
 * Written lazily, at most once per `writeIntervalMs` (atomically: temp file, fsync, rename), and on
 * `flush()`/`close()`. The price is a residual replay window: after a crash or power loss (not a clean
 * close) the file may lag by up to `writeIntervalMs` of accepted messages, and those (genuine, recent)
 * messages could be replayed once to the restarted receiver, until the sender's next message moves it past
 * them. `writeIntervalMs: 0` writes after every accepted value (no window, one write per message).
 */
export class AcceptedFreshnessFile {
  readonly path: string;
  /** Why the file on disk was not used (damaged or of another shape), or null. Every entry then starts at 0. */
  readonly damaged: string | null;
  readonly #values: Map<string, bigint>;
  readonly #intervalMs: number;
  #dirty = false;
  #timer: NodeJS.Timeout | null = null;
  #lastWriteAt = -Infinity;
  #writing: Promise<void> = Promise.resolve();
  #lastError: unknown = null;
  #closed = false;

  private constructor(path: string, values: Map<string, bigint>, intervalMs: number, damaged: string | null) {
    this.path = path;
    this.#values = values;
    this.#intervalMs = intervalMs;
    this.damaged = damaged;
  }

  static async open(path: string, options: { writeIntervalMs?: number } = {}): Promise<AcceptedFreshnessFile> {
    const text = await readOptional(path);
    const values = new Map<string, bigint>();
    let damaged: string | null = null;
    if (text !== null) {
      let parsed;
      try {
        parsed = fileSchema.safeParse(JSON.parse(text));
      } catch (error) {
        damaged = `not JSON: ${errorMessage(error)}`;
      }
      if (parsed?.success) {
        for (const [entry, value] of Object.entries(parsed.data.accepted)) values.set(entry, BigInt(value));
      } else if (parsed) {
        damaged = 'not an accepted-freshness file';
      }
    }
    await mkdir(dirname(path), { recursive: true });
    return new AcceptedFreshnessFile(path, values, options.writeIntervalMs ?? DEFAULT_ACCEPTED_WRITE_INTERVAL_MS, damaged);
  }

  /** The latest accepted value of `entry`, or undefined when it never accepted one. */
  get(entry: string): bigint | undefined {
    return this.#values.get(entry);
  }

  /** The last write error (writes are retried at the next change), or null. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Records a newly accepted value (never lowers one) and schedules a write. */
  set(entry: string, value: bigint): void {
    const current = this.#values.get(entry);
    if (current !== undefined && current >= value) return;
    this.#values.set(entry, value);
    this.#dirty = true;
    this.#schedule();
  }

  /** Writes now if anything changed; writes never overlap. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#writing = this.#writing.then(() => this.#write());
    return this.#writing;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    const wait = Math.max(0, this.#lastWriteAt + this.#intervalMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.flush();
    }, wait);
    this.#timer.unref();
  }

  async #write(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#lastWriteAt = performance.now();
    const accepted = Object.fromEntries([...this.#values].map(([entry, value]) => [entry, value.toString()]));
    try {
      await writeFileAtomic(this.path, `${JSON.stringify({ accepted }, null, 2)}\n`);
      this.#lastError = null;
    } catch (error) {
      this.#dirty = true;
      this.#lastError = error;
    }
  }
}
