import { IsoTpChannelClosedError, IsoTpReceiveTimeoutError, type IsoTpError } from './errors.ts';

export interface ReceiveOptions {
  /**
   * Milliseconds to wait for a message to *start* arriving (its SF or FF); once a multi-frame message
   * has started, N_Cr guards the rest. This is what a UDS client needs for P2: a long response that
   * starts in time is not cut off.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface Waiter {
  resolve: (payload: Uint8Array) => void;
  reject: (reason: unknown) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Complete messages and reception errors in arrival order, bounded: the receiver checks `hasSpace`
 * before accepting a message and holds the sender back (FC.WAIT) while it is full.
 */
export class ReceiveQueue {
  readonly #limit: number;
  readonly #context: string;
  readonly #onSpace: () => void;
  #items: (Uint8Array | IsoTpError)[] = [];
  readonly #waiters: Waiter[] = [];
  #closed = false;
  /** A multi-frame message is being reassembled: new waiters get no start timeout. */
  #inProgress = false;

  constructor(limit: number, context: string, onSpace: () => void) {
    this.#limit = limit;
    this.#context = context;
    this.#onSpace = onSpace;
  }

  get hasSpace(): boolean {
    return this.#waiters.length > 0 || this.#items.length < this.#limit;
  }

  get length(): number {
    return this.#items.length;
  }

  /** Hands the item to the oldest waiting `receive()`, or queues it; false when full (the item is dropped). */
  push(item: Uint8Array | IsoTpError): boolean {
    if (this.#closed) return false;
    this.#inProgress = false;
    const waiter = this.#waiters.shift();
    if (waiter) {
      settle(waiter, item);
      return true;
    }
    if (this.#items.length >= this.#limit) return false;
    this.#items.push(item);
    return true;
  }

  /** A message has started arriving: the oldest waiter's start timeout no longer applies. */
  messageStarted(): void {
    this.#inProgress = true;
    const waiter = this.#waiters[0];
    if (waiter?.timer !== undefined) {
      clearTimeout(waiter.timer);
      waiter.timer = undefined;
    }
  }

  receive(options: ReceiveOptions = {}): Promise<Uint8Array> {
    if (this.#items.length > 0) {
      const item = this.#items.shift()!;
      this.#onSpace();
      return item instanceof Uint8Array ? Promise.resolve(item) : Promise.reject(item);
    }
    if (this.#closed) return Promise.reject(new IsoTpChannelClosedError(this.#context));
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      if (timeoutMs !== undefined && !(this.#inProgress && this.#waiters.length === 0)) {
        waiter.timer = setTimeout(() => {
          waiter.timer = undefined;
          this.#remove(waiter);
          reject(new IsoTpReceiveTimeoutError(timeoutMs, this.#context));
        }, timeoutMs);
      }
      if (signal) {
        waiter.onAbort = () => {
          this.#remove(waiter);
          if (waiter.timer !== undefined) clearTimeout(waiter.timer);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      // A waiting receive() is space: a sender held back with FC.WAIT may go on.
      this.#onSpace();
    });
  }

  /** Drops queued messages and errors (a UDS client does this before each request). */
  discard(): number {
    const count = this.#items.length;
    this.#items = [];
    if (count > 0) this.#onSpace();
    return count;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) settle(waiter, new IsoTpChannelClosedError(this.#context));
  }

  #remove(waiter: Waiter): void {
    const index = this.#waiters.indexOf(waiter);
    if (index >= 0) this.#waiters.splice(index, 1);
  }
}

function settle(waiter: Waiter, item: Uint8Array | Error): void {
  if (waiter.timer !== undefined) clearTimeout(waiter.timer);
  if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  if (item instanceof Uint8Array) waiter.resolve(item);
  else waiter.reject(item);
}
