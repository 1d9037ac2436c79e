import type { Bus } from '../../can/bus/bus.ts';
import { canFrame } from '../../can/bus/frame.ts';
import type { Logger } from '../../logging/logger.ts';
import { encodeStatusFrame, type EcuStatus } from './status-frame.ts';

/**
 * The periodic `<ECU>_Status` frame (can/canota.dbc): classic 8 bytes every `intervalMs`, with an alive
 * counter that advances per frame so a receiver can tell a stuck sender from a repeated frame.
 */
export class StatusBroadcast {
  readonly #bus: Bus;
  readonly #id: number;
  readonly #intervalMs: number;
  readonly #status: () => Omit<EcuStatus, 'aliveCounter'>;
  readonly #logger: Logger | undefined;
  #timer: NodeJS.Timeout | undefined;
  #alive = 0;
  #failures = 0;

  constructor(bus: Bus, id: number, intervalMs: number, status: () => Omit<EcuStatus, 'aliveCounter'>, logger?: Logger) {
    this.#bus = bus;
    this.#id = id;
    this.#intervalMs = intervalMs;
    this.#status = status;
    this.#logger = logger;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#timer !== undefined || this.#intervalMs <= 0) return;
    this.sendNow();
    this.#timer = setInterval(() => this.sendNow(), this.#intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One frame now (also used for the last frame before a restart). */
  sendNow(): void {
    if (this.#bus.closed) return;
    const data = encodeStatusFrame({ ...this.#status(), aliveCounter: this.#alive });
    this.#alive = (this.#alive + 1) & 0xff;
    this.#bus.send(canFrame({ id: this.#id, data })).catch((error: unknown) => {
      // A status frame is not worth more than a log line; only the first failures are logged.
      this.#failures += 1;
      if (this.#failures <= 3) this.#logger?.warn({ err: error }, 'status frame not sent');
    });
  }
}
