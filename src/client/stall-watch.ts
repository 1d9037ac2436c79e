/**
 * Detects a stalled transfer: fewer than `minSpeed` bytes/s on average over the last `windowMs`. A
 * trickle of bytes keeps TCP (and undici's idle timeout) happy forever; this does not, so a slowloris
 * server or a dying link frees the vehicle for the next try.
 */
export interface StallWatchOptions {
  /** Bytes per second below which the transfer counts as stalled; 0 disables the watch. */
  minSpeed: number;
  windowMs: number;
  onStall: (bytesPerSecond: number) => void;
  now?: () => number;
}

export interface ByteSample {
  at: number;
  bytes: number;
}

/**
 * Given samples in time order, the average rate over the last `windowMs`, or undefined while the samples
 * do not span a whole window yet (a transfer is never judged on less than a full window).
 */
export function rateOverWindow(samples: readonly ByteSample[], now: number, windowMs: number): number | undefined {
  const latest = samples.at(-1);
  if (!latest) return undefined;
  // The newest sample at least a full window old: the start of the span we judge.
  let start: ByteSample | undefined;
  for (const sample of samples) {
    if (now - sample.at >= windowMs) start = sample;
    else break;
  }
  if (!start || latest.at <= start.at) return undefined;
  return ((latest.bytes - start.bytes) * 1000) / (latest.at - start.at);
}

export class StallWatch {
  readonly #options: StallWatchOptions;
  readonly #now: () => number;
  #samples: ByteSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #bytes = 0;

  constructor(options: StallWatchOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
  }

  start(): void {
    if (this.#options.minSpeed <= 0 || this.#timer) return;
    this.#samples = [{ at: this.#now(), bytes: this.#bytes }];
    const tickMs = Math.max(50, Math.min(1000, this.#options.windowMs / 4));
    this.#timer = setInterval(() => this.#tick(), tickMs);
    this.#timer.unref();
  }

  /** The transfer's byte count so far (cheap: called for every chunk). */
  set bytes(value: number) {
    this.#bytes = value;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = this.#now();
    this.#samples.push({ at: now, bytes: this.#bytes });
    const rate = rateOverWindow(this.#samples, now, this.#options.windowMs);
    // Keep only what the next judgement can need: the newest sample older than a window, and later ones.
    const keepFrom = this.#samples.findLastIndex((sample) => now - sample.at >= this.#options.windowMs);
    if (keepFrom > 0) this.#samples = this.#samples.slice(keepFrom);
    if (rate !== undefined && rate < this.#options.minSpeed) {
      this.stop();
      this.#options.onStall(rate);
    }
  }
}
