import { open, type FileHandle } from 'node:fs/promises';
import type { Bus } from '../bus/bus.ts';
import type { CanFrame } from '../bus/frame.ts';
import { nowSeconds } from '../bus/clock.ts';
import { CandumpFormatError, formatCandumpLine } from './candump.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { CanBusError } from '../bus/errors.ts';

export interface CandumpWriterOptions {
  /** Interface name for frames that carry no channel. */
  channel?: string;
  /** Append to an existing file instead of replacing it. */
  append?: boolean;
}

/**
 * Writes frames to a candump log file. A capture is a growing file (users `tail -f` it, a crash keeps
 * what was captured), so whole lines go straight into it, batched while a write is in flight (a bus can
 * deliver thousands of frames a second; `write` never blocks the bus); `close` waits for them and fsyncs.
 */
export class CandumpWriter {
  readonly path: string;
  readonly #handle: FileHandle;
  readonly #channel: string | undefined;
  #pending: string[] = [];
  #flushing: Promise<void> | undefined;
  #failure: Error | undefined;
  #closed = false;
  #lines = 0;

  private constructor(path: string, handle: FileHandle, options: CandumpWriterOptions) {
    this.path = path;
    this.#handle = handle;
    this.#channel = options.channel;
  }

  /** Creates (or with `append`, extends) a log file. */
  static async open(path: string, options: CandumpWriterOptions = {}): Promise<CandumpWriter> {
    return new CandumpWriter(path, await open(path, options.append ? 'a' : 'w', 0o644), options);
  }

  /** Lines written so far (accepted by `write`). */
  get lines(): number {
    return this.#lines;
  }

  /** Queues one frame; a frame without a timestamp gets the current time. Throws once the file has failed or closed. */
  write(frame: CanFrame): void {
    if (this.#failure) throw new CandumpFormatError(`cannot write ${this.path}: ${this.#failure.message}`);
    if (this.#closed) throw new CandumpFormatError(`the candump log ${this.path} is closed`);
    this.#pending.push(`${formatCandumpLine(frame, { channel: this.#channel, timestamp: nowSeconds() })}\n`);
    this.#lines += 1;
    this.#flushing ??= this.#flush();
  }

  /** Logs every frame `bus` sends and receives until the returned function is called (or the log closes). */
  record(bus: Bus): () => void {
    return bus.onTraffic((frame) => {
      if (!this.#closed && !this.#failure) this.write(frame.channel ? frame : { ...frame, channel: bus.channel });
    });
  }

  /** Waits for every queued line, fsyncs and closes; rejects if any write failed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    try {
      if (!this.#failure) await this.#handle.sync();
    } finally {
      await this.#handle.close();
    }
    if (this.#failure) throw new CandumpFormatError(`cannot write ${this.path}: ${this.#failure.message}`);
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#failure) {
        const chunk = this.#pending.join('');
        this.#pending = [];
        await this.#handle.write(chunk);
      }
    } catch (error) {
      // A failed write is what the next write and close report; whatever was thrown, keep it as an Error.
      this.#failure = error instanceof Error ? error : new CanBusError(errorMessage(error), { cause: error });
    } finally {
      this.#flushing = undefined;
    }
  }
}
