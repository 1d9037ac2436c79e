import { stampFrame, type CanFrame } from './frame.ts';
import { BusClosedError } from './errors.ts';
import { nowSeconds } from './clock.ts';

/** Acceptance filter as in SocketCAN / python-can: a frame passes when (frame.id & mask) === (id & mask). */
export interface CanFilter {
  id: number;
  mask: number;
  /** When set, also require the frame's id format to match. */
  extended?: boolean;
}

export type FrameListener = (frame: CanFrame) => void;
export type TrafficDirection = 'rx' | 'tx';
export type TrafficListener = (frame: CanFrame, direction: TrafficDirection) => void;

export interface BusOptions {
  /** Name of the bus segment (`cant`, `canb`); used in logs and candump files. */
  channel: string;
  /** Bus-level acceptance filters; none means accept all. */
  filters?: readonly CanFilter[];
  /** Frames buffered per async iterator before the oldest is dropped (a receive overrun, counted). */
  receiveQueueLimit?: number;
}

export interface BusStatistics {
  framesSent: number;
  framesReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Frames lost because an async-iterator consumer fell behind by more than `receiveQueueLimit`. */
  receiveOverruns: number;
}

export { BusClosedError };

export function matchesFilters(frame: CanFrame, filters: readonly CanFilter[] | undefined): boolean {
  if (!filters || filters.length === 0) return true;
  for (const filter of filters) {
    if (filter.extended !== undefined && filter.extended !== frame.extended) continue;
    if (((frame.id ^ filter.id) & filter.mask) === 0) return true;
  }
  return false;
}

/**
 * One node's connection to a CAN bus. As in python-can, drivers implement only the transport
 * (`transmit`, `shutdown`, and call `deliver` for each received frame); filtering, listeners, async
 * iteration, traffic monitoring (candump logging) and statistics live here once.
 */
export abstract class Bus implements AsyncIterable<CanFrame> {
  readonly channel: string;
  readonly statistics: BusStatistics = {
    framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, receiveOverruns: 0,
  };
  #filters: readonly CanFilter[] | undefined;
  readonly #listeners = new Set<{ listener: FrameListener; filters: readonly CanFilter[] | undefined }>();
  readonly #monitors = new Set<TrafficListener>();
  readonly #receiveQueueLimit: number;
  #closed = false;
  readonly #closeCallbacks = new Set<() => void>();

  protected constructor(options: BusOptions) {
    this.channel = options.channel;
    this.#filters = options.filters;
    this.#receiveQueueLimit = options.receiveQueueLimit ?? 10_000;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Puts a frame on the bus. Resolves once the driver has handed it over (with a timing model: once it
   * has been transmitted), which is what gives senders back-pressure.
   */
  async send(frame: CanFrame): Promise<void> {
    if (this.#closed) throw new BusClosedError(this.channel);
    const sent = await this.transmit(frame);
    this.statistics.framesSent += 1;
    this.statistics.bytesSent += frame.data.length;
    if (this.#monitors.size === 0) return;
    const seen = sent ?? stampFrame(frame, nowSeconds(), this.channel);
    for (const monitor of this.#monitors) monitor(seen, 'tx');
  }

  /** Calls `listener` for each received frame that passes the bus filters and `filters`. Returns an unsubscribe. */
  onFrame(listener: FrameListener, filters?: readonly CanFilter[]): () => void {
    const entry = { listener, filters };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Sees every frame this node sends and receives (after bus filters), for logging and statistics. */
  onTraffic(monitor: TrafficListener): () => void {
    this.#monitors.add(monitor);
    return () => this.#monitors.delete(monitor);
  }

  setFilters(filters: readonly CanFilter[] | undefined): void {
    this.#filters = filters;
  }

  /** Received frames as an async iterator; ends when the bus closes or `signal` aborts. */
  frames(filters?: readonly CanFilter[], signal?: AbortSignal): AsyncIterableIterator<CanFrame> {
    const queue: CanFrame[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    const finish = () => {
      done = true;
      unsubscribe();
      this.#closeCallbacks.delete(finish);
      signal?.removeEventListener('abort', finish);
      wake?.();
    };
    const unsubscribe = this.onFrame((frame) => {
      if (queue.length >= this.#receiveQueueLimit) {
        queue.shift();
        this.statistics.receiveOverruns += 1;
      }
      queue.push(frame);
      wake?.();
    }, filters);
    this.#closeCallbacks.add(finish);
    signal?.addEventListener('abort', finish, { once: true });
    if (this.#closed || signal?.aborted) finish();

    const iterator: AsyncIterableIterator<CanFrame> = {
      next: async () => {
        while (queue.length === 0 && !done) {
          await new Promise<void>((resolve) => { wake = resolve; });
          wake = undefined;
        }
        const frame = queue.shift();
        return frame ? { value: frame, done: false } : { value: undefined, done: true };
      },
      return: async () => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  [Symbol.asyncIterator](): AsyncIterator<CanFrame> {
    return this.frames();
  }

  /** Waits for the next matching frame, or null after `timeoutMs` (python-can's `recv`). */
  receive(timeoutMs?: number, filters?: readonly CanFilter[]): Promise<CanFrame | null> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (frame: CanFrame | null) => {
        unsubscribe();
        this.#closeCallbacks.delete(onClose);
        if (timer) clearTimeout(timer);
        resolve(frame);
      };
      const onClose = () => settle(null);
      const unsubscribe = this.onFrame(settle, filters);
      this.#closeCallbacks.add(onClose);
      if (timeoutMs !== undefined) timer = setTimeout(() => settle(null), timeoutMs);
      if (this.#closed) settle(null);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const callback of [...this.#closeCallbacks]) callback();
    this.#listeners.clear();
    await this.shutdown();
  }

  /** Drivers call this for every frame that arrives from the bus (never for their own sends). */
  protected deliver(frame: CanFrame): void {
    if (this.#closed || !matchesFilters(frame, this.#filters)) return;
    this.statistics.framesReceived += 1;
    this.statistics.bytesReceived += frame.data.length;
    for (const monitor of this.#monitors) monitor(frame, 'rx');
    for (const { listener, filters } of this.#listeners) {
      if (matchesFilters(frame, filters)) listener(frame);
    }
  }

  /**
   * Transport: hand one validated frame to the medium. May resolve with the frame as it went out
   * (timestamp, channel) for traffic monitors; otherwise they see it stamped with the current time.
   */
  protected abstract transmit(frame: CanFrame): Promise<CanFrame | void>;

  /** Transport: release sockets, leave the medium. */
  protected abstract shutdown(): Promise<void>;
}
