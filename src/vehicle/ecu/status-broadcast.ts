import { join } from 'node:path';
import type { Bus } from '../../can/bus/bus.ts';
import { canFrame } from '../../can/bus/frame.ts';
import { FreshnessCounter } from '../../can/secoc/index.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { loadEcuKeys, type EcuKeys } from '../keys/ecu-keys.ts';
import { statusKeyName } from '../keys/key-plan.ts';
import { ecuByName } from '../network.ts';
import { ecuStateDir } from './state-dir.ts';
import { encodeStatusFrame, type EcuStatus } from './status-frame.ts';

/**
 * Freshness values reserved per write of `status-freshness.json`: at 10 frames/s one write every ~100 s,
 * and a restart skips < 1536 values (6 wraps of the 8 transmitted bits), well inside the receivers' 16
 * resynchronisation attempts (src/can/secoc/receiver.ts), even after two restarts nobody heard.
 */
export const STATUS_FRESHNESS_BLOCK = 1024;

/** `<state-dir>/ecus/<NAME>/status-freshness.json`: the sender's freshness counter of its status frame. */
export const statusFreshnessPath = (stateDir: string, ecu: string): string => join(ecuStateDir(stateDir, ecu), 'status-freshness.json');

export interface StatusBroadcastOptions {
  bus: Bus;
  /** The frame's CAN id, also its SecOC Data Identifier. */
  id: number;
  /** 0: no periodic frames. */
  intervalMs: number;
  status: () => EcuStatus;
  /** The ECU's `status:<NAME>` key. */
  key: Uint8Array;
  /** The ECU's persisted freshness counter (`statusFreshnessPath`). */
  counter: FreshnessCounter;
  logger?: Logger;
}

/**
 * The periodic, authenticated `<ECU>_Status` frame (can/canota.dbc): classic 8 bytes every `intervalMs`,
 * carrying the status, the low byte of the sender's freshness counter (which also serves as the alive
 * counter: it advances per frame) and a 24-bit MAC, so receivers can tell the ECU's frames from forged or
 * replayed ones (docs/in-vehicle-security.md, "Authenticated frames").
 */
export class StatusBroadcast {
  readonly #options: StatusBroadcastOptions;
  #timer: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(options: StatusBroadcastOptions) {
    this.#options = options;
  }

  /**
   * `ecu`'s broadcast: its status id from the config, its `status:<ecu>` key (from `keys`, or its own
   * keys.json) and its freshness counter in its own state dir.
   */
  static async open(options: Omit<StatusBroadcastOptions, 'counter' | 'key' | 'id'> & {
    config: VehicleConfig; stateDir: string; ecu: string; keys?: EcuKeys;
  }): Promise<StatusBroadcast> {
    const { config, stateDir, ecu, keys, ...rest } = options;
    const key = (keys ?? await loadEcuKeys(config, stateDir, ecu)).get(statusKeyName(ecu));
    const counter = await FreshnessCounter.open(statusFreshnessPath(stateDir, ecu), { block: STATUS_FRESHNESS_BLOCK });
    return new StatusBroadcast({ ...rest, id: ecuByName(config, ecu).statusId, key, counter });
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    if (this.#timer !== undefined || this.#options.intervalMs <= 0) return;
    this.sendNow();
    this.#timer = setInterval(() => this.sendNow(), this.#options.intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Stops and waits for the freshness counter's last reservation. */
  async close(): Promise<void> {
    this.stop();
    await this.#options.counter.close();
  }

  /** One frame now (also used for the last frame before a restart), with the status as it is at this call. */
  sendNow(): void {
    const { bus, id, key, counter } = this.#options;
    if (bus.closed) return;
    const status = this.#options.status();
    // Values come out of next() in call order, so frames leave in freshness order.
    counter.next()
      .then((freshness) => bus.closed ? undefined : bus.send(canFrame({ id, data: encodeStatusFrame(key, id, status, freshness) })))
      .catch((error: unknown) => {
        // A status frame is not worth more than a log line; only the first failures are logged.
        this.#failures += 1;
        if (this.#failures <= 3) this.#options.logger?.warn({ err: error }, 'status frame not sent');
      });
  }
}
