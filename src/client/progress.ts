import type { Release } from '../ota-http/release.ts';

/** A snapshot of a running download, for progress bars, logs and the TMU. */
export interface DownloadProgress {
  release: Release;
  receivedBytes: number;
  /** Undefined when neither the announcement nor the answer gave a length. */
  totalBytes: number | undefined;
  /** 0–100, floor; undefined without a total. */
  percent: number | undefined;
  /** Recent transfer rate (smoothed), bytes per second. */
  bytesPerSecond: number;
  /** Seconds left at the recent rate; undefined without a total or before a rate is known. */
  etaSeconds: number | undefined;
}

/** Rate samples closer than this are merged: a 64 KiB chunk every few microseconds says nothing. */
const sampleMs = 250;
/** Weight of the newest sample in the smoothed rate. */
const smoothing = 0.3;

/**
 * Turns a stream of byte counts into progress snapshots: a smoothed rate and ETA, and a `report` only
 * when the percentage moves or half a second passed, so observers see at most about 100 + 2/s events.
 */
export class ProgressMeter {
  #rate = 0;
  #sampleAt: number;
  #sampleBytes: number;
  #startAt: number;
  #startBytes: number;
  #lastPercent: number | undefined = undefined;
  #lastReportAt = 0;

  constructor(
    private readonly release: Release,
    private total: number | undefined,
    startBytes: number,
    private readonly report: (progress: DownloadProgress) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#sampleAt = this.#startAt = now();
    this.#sampleBytes = this.#startBytes = startBytes;
  }

  setTotal(total: number | undefined): void {
    this.total = total;
  }

  /** Restarting from byte 0 (the server sent the whole file): the rate so far stays meaningful. */
  rebase(bytes: number): void {
    this.#sampleBytes = this.#startBytes = bytes;
    this.#lastPercent = undefined;
  }

  update(receivedBytes: number, force = false): void {
    const now = this.now();
    const elapsed = now - this.#sampleAt;
    if (elapsed >= sampleMs) {
      const rate = ((receivedBytes - this.#sampleBytes) * 1000) / elapsed;
      this.#rate = this.#rate === 0 ? rate : smoothing * rate + (1 - smoothing) * this.#rate;
      this.#sampleAt = now;
      this.#sampleBytes = receivedBytes;
    }
    const percent = percentOf(receivedBytes, this.total);
    if (!force && percent === this.#lastPercent && now - this.#lastReportAt < 500) return;
    this.#lastPercent = percent;
    this.#lastReportAt = now;
    const remaining = this.total === undefined ? undefined : Math.max(0, this.total - receivedBytes);
    // Before the first full sample (or for a download shorter than one), the average so far.
    const sinceStart = now - this.#startAt;
    const rate = this.#rate > 0 ? this.#rate
      : sinceStart > 0 ? ((receivedBytes - this.#startBytes) * 1000) / sinceStart : 0;
    this.report({
      release: this.release,
      receivedBytes,
      totalBytes: this.total,
      percent,
      bytesPerSecond: rate,
      etaSeconds: remaining === undefined ? undefined : remaining === 0 ? 0 : rate > 0 ? remaining / rate : undefined,
    });
  }
}

export function percentOf(received: number, total: number | undefined): number | undefined {
  if (total === undefined) return undefined;
  if (total === 0) return 100;
  return Math.min(100, Math.floor((received * 100) / total));
}
