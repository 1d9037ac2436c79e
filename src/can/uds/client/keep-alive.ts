import { performance } from 'node:perf_hooks';

/**
 * Sends TesterPresent every `intervalMs` of silence while a non-default session is open, so the ECU's
 * S3 timer (5 s) does not drop it back to the default session between requests.
 */
export class KeepAlive {
  readonly #intervalMs: number;
  readonly #send: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #lastActivity = 0;

  constructor(intervalMs: number, send: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#send = send;
  }

  get running(): boolean {
    return this.#running;
  }

  start(): void {
    if (this.#intervalMs <= 0 || this.#running) return;
    this.#running = true;
    this.#lastActivity = performance.now();
    this.#schedule(this.#intervalMs);
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A request just went out: it counts as presence. */
  activity(): void {
    this.#lastActivity = performance.now();
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => void this.#tick(), Math.max(1, ms));
    // A forgotten session must not keep the process alive.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    const quiet = performance.now() - this.#lastActivity;
    if (quiet < this.#intervalMs) {
      this.#schedule(this.#intervalMs - quiet);
      return;
    }
    this.#lastActivity = performance.now();
    await this.#send();
    if (this.#running && this.#timer === undefined) this.#schedule(this.#intervalMs);
  }
}
