import { performance } from 'node:perf_hooks';
import {
  IsoTpError, IsoTpInvalidFlowStatusError, IsoTpOverflowError, IsoTpPayloadError, IsoTpTimeoutError,
  IsoTpTransmitError, IsoTpWaitLimitError,
} from './errors.ts';
import {
  FlowStatus, MAX_MESSAGE_LENGTH, consecutiveFrameCapacity, encodeConsecutiveFrame, encodeFirstFrame,
  encodeSingleFrame, firstFrameCapacity, parseFlowControl, singleFrameCapacity, type FlowControl,
} from './frame-codec.ts';
import type { ResolvedIsoTpOptions } from './options.ts';
import { Deadline, preciseDelay } from './timers.ts';

/** Hands one frame to the bus; resolves once it is transmitted (the bus's back-pressure). */
export interface FrameTransmitter {
  transmit(data: Uint8Array): Promise<void>;
}

interface Transfer {
  failed: Error | null;
  reject: (error: Error) => void;
}

const ignore = (): void => {};

/**
 * The sending half of a channel: one message at a time (later sends queue behind it), SF for short
 * payloads, else FF then CFs paced by the receiver's flow control — block size, STmin (waited for
 * precisely, sub-millisecond included), FC.WAIT up to N_WFTmax, FC.OVFLW — under N_As and N_Bs.
 *
 * Hot path: with STmin 0 up to `framesInFlight` frames are handed to the bus before the oldest is awaited,
 * so a timed bus always has the next frame queued and an untimed one drains them in one batch; the N_As
 * watchdog is re-armed by a clock read, not a timer, per frame.
 */
export class IsoTpSender {
  messagesSent = 0;
  readonly #options: ResolvedIsoTpOptions;
  readonly #port: FrameTransmitter;
  readonly #context: string;
  #tail: Promise<void> = Promise.resolve();
  #current: Transfer | null = null;
  #closedError: Error | null = null;
  /** Set from just before the FF (or a block's last CF) is handed to the bus until the FC is taken. */
  #expectingFlowControl = false;
  /** Flow control that arrived before the sender got round to waiting for it, oldest first. */
  readonly #flowControls: FlowControl[] = [];
  #flowControlWaiter: { resolve: (fc: FlowControl) => void; reject: (error: Error) => void } | null = null;
  readonly #asDeadline: Deadline;
  readonly #bsDeadline: Deadline;
  /** Ring of transmissions handed to the bus but not yet awaited. */
  readonly #inFlight: (Promise<void> | undefined)[];
  #inFlightHead = 0;
  #inFlightCount = 0;

  constructor(options: ResolvedIsoTpOptions, port: FrameTransmitter, context: string) {
    this.#options = options;
    this.#port = port;
    this.#context = context;
    this.#inFlight = new Array<Promise<void> | undefined>(options.framesInFlight);
    this.#asDeadline = new Deadline(() => this.#abort(new IsoTpTimeoutError('N_As', options.timeouts.nAs, context)));
    this.#bsDeadline = new Deadline(() => this.#abort(new IsoTpTimeoutError('N_Bs', options.timeouts.nBs, context)));
  }

  send(payload: Uint8Array): Promise<void> {
    const result = this.#tail.then(() => this.#run(payload));
    this.#tail = result.then(ignore, ignore);
    return result;
  }

  /** A flow control frame from the peer; ignored unless we are waiting for one (§9.6.5.1). */
  onFlowControl(data: Uint8Array): void {
    if (!this.#expectingFlowControl) return;
    const fc = parseFlowControl(data);
    if (fc === null) return;
    const waiter = this.#flowControlWaiter;
    if (waiter) {
      this.#flowControlWaiter = null;
      waiter.resolve(fc);
    } else if (this.#flowControls.length < 8) {
      this.#flowControls.push(fc);
    }
  }

  /** The channel closed: the transfer in progress and every queued send fail with `error`. */
  close(error: Error): void {
    this.#closedError = error;
    this.#abort(error);
  }

  #run(payload: Uint8Array): Promise<void> {
    if (this.#closedError) return Promise.reject(this.#closedError);
    return new Promise<void>((resolve, reject) => {
      const transfer: Transfer = { failed: null, reject };
      this.#current = transfer;
      this.#transfer(payload, transfer).then(
        () => {
          if (transfer.failed === null) this.messagesSent += 1;
          resolve();
        },
        (error: unknown) => reject(error instanceof IsoTpError ? error : new IsoTpTransmitError(this.#context, error)),
      ).finally(() => this.#finish(transfer));
    });
  }

  #finish(transfer: Transfer): void {
    // A transfer aborted while the bus still held its frames finishes late; the next one may be running.
    if (this.#current !== transfer) return;
    this.#current = null;
    this.#reset();
  }

  #abort(error: Error): void {
    const transfer = this.#current;
    if (transfer === null) return;
    transfer.failed = error;
    transfer.reject(error);
    const waiter = this.#flowControlWaiter;
    this.#current = null;
    this.#reset();
    waiter?.reject(error);
  }

  #reset(): void {
    this.#asDeadline.cancel();
    this.#bsDeadline.cancel();
    this.#expectingFlowControl = false;
    this.#flowControls.length = 0;
    this.#flowControlWaiter = null;
    const ring = this.#inFlight;
    while (this.#inFlightCount > 0) {
      // Nobody awaits these any more; keep a late bus error from becoming an unhandled rejection.
      ring[this.#inFlightHead]!.catch(ignore);
      ring[this.#inFlightHead] = undefined;
      this.#inFlightHead = (this.#inFlightHead + 1) % ring.length;
      this.#inFlightCount -= 1;
    }
    this.#inFlightHead = 0;
  }

  async #transfer(payload: Uint8Array, transfer: Transfer): Promise<void> {
    const options = this.#options;
    const layout = options.layout;
    const length = payload.length;
    if (length === 0) throw new IsoTpPayloadError(`ISO-TP cannot send an empty message (SF_DL 0 is reserved) on ${this.#context}`);
    if (length > MAX_MESSAGE_LENGTH) throw new IsoTpPayloadError(`ISO-TP messages are at most 4 GiB - 1, got ${length} bytes`);
    const nAs = options.timeouts.nAs;

    if (length <= singleFrameCapacity(layout)) {
      this.#asDeadline.arm(nAs);
      await this.#port.transmit(encodeSingleFrame(payload, layout));
      return;
    }
    if (options.functional) {
      throw new IsoTpPayloadError(
        `functional addressing carries single frames only: ${length} bytes exceed ${singleFrameCapacity(layout)} on ${this.#context}`);
    }

    this.#expectingFlowControl = true;
    this.#flowControls.length = 0;
    this.#asDeadline.arm(nAs);
    await this.#port.transmit(encodeFirstFrame(payload, layout));
    this.#check(transfer);
    this.#asDeadline.cancel();

    let offset = firstFrameCapacity(layout, length);
    let sequence = 1;
    const capacity = consecutiveFrameCapacity(layout);
    // The first FC's BS and STmin hold for the whole message (ISO 15765-2 §9.6.5.3).
    const first = await this.#awaitClearToSend(transfer, length);
    const blockSize = first.blockSize;
    const stMinMs = first.stMinMs;
    let lastFrameAt = -Infinity;

    for (;;) {
      let block = blockSize === 0 ? Infinity : blockSize;
      this.#asDeadline.arm(nAs);
      while (offset < length && block > 0) {
        const endsBlock = block === 1 && offset + capacity < length;
        // Expect the FC before the frame that asks for it can reach the receiver.
        if (endsBlock) {
          this.#expectingFlowControl = true;
          this.#flowControls.length = 0;
        }
        const frame = encodeConsecutiveFrame(payload, offset, sequence, layout);
        offset += capacity;
        sequence = (sequence + 1) & 0x0f;
        block -= 1;
        if (stMinMs === 0) {
          await this.#pipeline(frame, transfer);
        } else {
          const wait = lastFrameAt + stMinMs - performance.now();
          if (wait > 0) await preciseDelay(wait);
          this.#check(transfer);
          await this.#port.transmit(frame);
          this.#check(transfer);
          lastFrameAt = performance.now();
          this.#asDeadline.arm(nAs);
        }
      }
      await this.#drain(transfer);
      this.#asDeadline.cancel();
      if (offset >= length) return;
      await this.#awaitClearToSend(transfer, length);
    }
  }

  /** Hands a frame to the bus, first awaiting the oldest one if `framesInFlight` are outstanding. */
  async #pipeline(data: Uint8Array, transfer: Transfer): Promise<void> {
    const ring = this.#inFlight;
    if (this.#inFlightCount === ring.length) await this.#awaitOldest(transfer);
    ring[(this.#inFlightHead + this.#inFlightCount) % ring.length] = this.#port.transmit(data);
    this.#inFlightCount += 1;
  }

  async #drain(transfer: Transfer): Promise<void> {
    while (this.#inFlightCount > 0) await this.#awaitOldest(transfer);
    this.#inFlightHead = 0;
  }

  /** Waits until the oldest frame in flight is on the wire (N_As restarts for the next one). */
  async #awaitOldest(transfer: Transfer): Promise<void> {
    const ring = this.#inFlight;
    const oldest = ring[this.#inFlightHead]!;
    ring[this.#inFlightHead] = undefined;
    this.#inFlightHead = (this.#inFlightHead + 1) % ring.length;
    this.#inFlightCount -= 1;
    await oldest;
    this.#check(transfer);
    this.#asDeadline.arm(this.#options.timeouts.nAs);
  }

  /** Waits (N_Bs) for FC.CTS, accepting up to N_WFTmax FC.WAIT in a row. */
  async #awaitClearToSend(transfer: Transfer, length: number): Promise<FlowControl> {
    let waits = 0;
    for (;;) {
      const fc = await this.#nextFlowControl();
      this.#check(transfer);
      if (fc.status === FlowStatus.ContinueToSend) {
        this.#expectingFlowControl = false;
        this.#flowControls.length = 0;
        return fc;
      }
      if (fc.status === FlowStatus.Wait) {
        waits += 1;
        if (waits > this.#options.maxWaitFrames) throw new IsoTpWaitLimitError(this.#options.maxWaitFrames, this.#context);
        continue;
      }
      if (fc.status === FlowStatus.Overflow) {
        throw new IsoTpOverflowError(`the receiver on ${this.#context} refused the ${length}-byte message (FC.OVFLW)`, length);
      }
      throw new IsoTpInvalidFlowStatusError(fc.status, this.#context);
    }
  }

  #nextFlowControl(): Promise<FlowControl> {
    const early = this.#flowControls.shift();
    if (early !== undefined) return Promise.resolve(early);
    this.#bsDeadline.arm(this.#options.timeouts.nBs);
    return new Promise<FlowControl>((resolve, reject) => {
      this.#flowControlWaiter = {
        resolve: (fc) => {
          this.#bsDeadline.cancel();
          resolve(fc);
        },
        reject,
      };
    });
  }

  #check(transfer: Transfer): void {
    if (transfer.failed !== null) throw transfer.failed;
  }
}
