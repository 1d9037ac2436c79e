import { performance } from 'node:perf_hooks';

/**
 * A watchdog for the ISO-TP timers. `arm()` on every frame only stores a due time (one clock read); a
 * single setTimeout exists per running deadline and, when it fires early because the deadline moved on,
 * reschedules itself. So a transfer of 150,000 frames costs a handful of timers, not 150,000.
 */
export class Deadline {
  readonly #onExpire: () => void;
  #due = Infinity;
  #timer: NodeJS.Timeout | undefined;

  constructor(onExpire: () => void) {
    this.#onExpire = onExpire;
  }

  get armed(): boolean {
    return this.#due !== Infinity;
  }

  /** (Re)starts the deadline `ms` from now. */
  arm(ms: number): void {
    this.#due = performance.now() + ms;
    if (this.#timer === undefined) this.#schedule(ms);
  }

  cancel(): void {
    this.#due = Infinity;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(this.#check, Math.max(1, Math.ceil(ms)));
  }

  readonly #check = (): void => {
    this.#timer = undefined;
    if (this.#due === Infinity) return;
    const left = this.#due - performance.now();
    if (left > 0) {
      this.#schedule(left);
      return;
    }
    this.#due = Infinity;
    this.#onExpire();
  };
}

const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits at least `ms` milliseconds, precisely enough for STmin's 100-900 µs steps: setTimeout has a
 * 1 ms granularity and may fire early relative to the monotonic clock, so it covers only the bulk of a
 * long wait and the rest is polled with setImmediate, which keeps the event loop (and other channels)
 * running while it spins.
 */
export async function preciseDelay(ms: number): Promise<void> {
  if (ms <= 0) return;
  const until = performance.now() + ms;
  if (ms >= 3) await sleep(ms - 2);
  while (performance.now() < until) await immediate();
}
