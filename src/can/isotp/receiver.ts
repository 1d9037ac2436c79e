import {
  IsoTpOverflowError, IsoTpSequenceError, IsoTpTimeoutError, IsoTpTransmitError, IsoTpUnexpectedPduError,
  type IsoTpError,
} from './errors.ts';
import {
  FlowStatus, PCI_CONSECUTIVE_FRAME, PCI_FIRST_FRAME, PCI_SINGLE_FRAME, parseFirstFrame, parseSingleFrame,
  type FirstFrameHeader,
} from './frame-codec.ts';
import type { ResolvedIsoTpOptions } from './options.ts';
import { Reassembly } from './reassembly.ts';
import type { ReceiveQueue } from './receive-queue.ts';
import { Deadline } from './timers.ts';

export interface ReceiverStatistics {
  messagesReceived: number;
  receiveErrors: number;
  /** Single frames dropped because nobody consumed the receive queue. */
  droppedSingleFrames: number;
  /** First frames refused with FC.OVFLW (too long, or the queue stayed full). */
  refusedMessages: number;
  waitFramesSent: number;
}

/** Sends one flow control frame; resolves once it is on the wire. */
export type FlowControlTransmitter = (status: FlowStatus) => Promise<void>;

/**
 * The receiving half of a channel: reassembles SF/FF/CF into messages for the receive queue, paces the
 * peer with flow control (BS, STmin), holds it back with FC.WAIT while the queue is full and refuses
 * oversize messages with FC.OVFLW. N_Cr and N_Ar end a reception with a typed error in the queue.
 */
export class IsoTpReceiver {
  readonly statistics: ReceiverStatistics = {
    messagesReceived: 0, receiveErrors: 0, droppedSingleFrames: 0, refusedMessages: 0, waitFramesSent: 0,
  };
  readonly #options: ResolvedIsoTpOptions;
  readonly #queue: ReceiveQueue;
  readonly #transmitFlowControl: FlowControlTransmitter;
  readonly #context: string;
  readonly #reassembly = new Reassembly();
  #blockCount = 0;
  readonly #crDeadline: Deadline;
  readonly #arDeadline: Deadline;
  /** A first frame held back with FC.WAIT because the queue is full. */
  #held: { header: FirstFrameHeader; frame: Uint8Array; waits: number; timer: NodeJS.Timeout | undefined } | null = null;
  #closed = false;

  constructor(options: ResolvedIsoTpOptions, queue: ReceiveQueue, transmitFlowControl: FlowControlTransmitter, context: string) {
    this.#options = options;
    this.#queue = queue;
    this.#transmitFlowControl = transmitFlowControl;
    this.#context = context;
    this.#crDeadline = new Deadline(() => this.#fail(new IsoTpTimeoutError('N_Cr', options.timeouts.nCr, context)));
    this.#arDeadline = new Deadline(() => this.#fail(new IsoTpTimeoutError('N_Ar', options.timeouts.nAr, context)));
  }

  /** One frame on our receive id (anything but flow control, which belongs to the sender). */
  onFrame(data: Uint8Array): void {
    const type = data[0]! >> 4;
    if (type === PCI_CONSECUTIVE_FRAME) this.#onConsecutiveFrame(data);
    else if (type === PCI_SINGLE_FRAME) this.#onSingleFrame(data);
    else if (type === PCI_FIRST_FRAME) this.#onFirstFrame(data);
  }

  /** The receive queue has room again: let a held-back sender go on. */
  onSpace(): void {
    const held = this.#held;
    if (held === null || !this.#queue.hasSpace) return;
    this.#release();
    this.#accept(held.header, held.frame);
  }

  close(): void {
    this.#closed = true;
    this.#crDeadline.cancel();
    this.#arDeadline.cancel();
    this.#release();
    this.#reassembly.reset();
  }

  #onSingleFrame(data: Uint8Array): void {
    const header = parseSingleFrame(data);
    if (header === null) return;
    this.#interrupt();
    const payload = data.slice(header.headerLength, header.headerLength + header.length);
    if (this.#queue.push(payload)) this.statistics.messagesReceived += 1;
    else this.statistics.droppedSingleFrames += 1;
  }

  #onFirstFrame(data: Uint8Array): void {
    // Functional addressing carries single frames only (ISO 15765-2 §9.2.3): ignore, send no FC.
    if (this.#options.functional) return;
    const header = parseFirstFrame(data);
    if (header === null) return;
    this.#interrupt();
    if (header.length > this.#options.maxMessageLength) {
      this.statistics.refusedMessages += 1;
      this.#sendFlowControl(FlowStatus.Overflow);
      this.#report(new IsoTpOverflowError(
        `refused a ${header.length}-byte ISO-TP message on ${this.#context}: longer than maxMessageLength ${this.#options.maxMessageLength}`,
        header.length,
      ));
      return;
    }
    if (!this.#queue.hasSpace) {
      this.#holdBack(header, data);
      return;
    }
    this.#accept(header, data);
  }

  #onConsecutiveFrame(data: Uint8Array): void {
    const reassembly = this.#reassembly;
    if (!reassembly.active) return;
    const result = reassembly.consecutive(data);
    if (result === 'accepted') {
      this.#crDeadline.arm(this.#options.timeouts.nCr);
      const blockSize = this.#options.blockSize;
      if (blockSize !== 0 && ++this.#blockCount === blockSize) {
        this.#blockCount = 0;
        this.#sendFlowControl(FlowStatus.ContinueToSend);
      }
    } else if (result === 'complete') {
      this.#crDeadline.cancel();
      this.#blockCount = 0;
      const message = reassembly.take();
      if (this.#queue.push(message)) this.statistics.messagesReceived += 1;
      else this.statistics.droppedSingleFrames += 1;
    } else if (result === 'wrong-sequence') {
      this.#fail(new IsoTpSequenceError(reassembly.expectedSequence, data[0]! & 0x0f, this.#context));
    }
  }

  #accept(header: FirstFrameHeader, frame: Uint8Array): void {
    this.#reassembly.start(header, frame);
    this.#blockCount = 0;
    this.#queue.messageStarted();
    this.#crDeadline.arm(this.#options.timeouts.nCr + this.#options.timeouts.nAr);
    this.#sendFlowControl(FlowStatus.ContinueToSend);
  }

  /** FC.WAIT now and every waitFrameIntervalMs until the queue has room or N_WFTmax is reached. */
  #holdBack(header: FirstFrameHeader, frame: Uint8Array): void {
    const held = { header, frame, waits: 0, timer: undefined as NodeJS.Timeout | undefined };
    this.#held = held;
    const wait = () => {
      held.timer = undefined;
      if (this.#held !== held || this.#closed) return;
      if (held.waits >= this.#options.maxWaitFrames) {
        this.#release();
        this.statistics.refusedMessages += 1;
        this.#sendFlowControl(FlowStatus.Overflow);
        this.#report(new IsoTpOverflowError(
          `refused a ${header.length}-byte ISO-TP message on ${this.#context}: receive queue full after ${held.waits} FC.WAIT`,
          header.length,
        ));
        return;
      }
      held.waits += 1;
      this.statistics.waitFramesSent += 1;
      this.#sendFlowControl(FlowStatus.Wait);
      held.timer = setTimeout(wait, this.#options.waitFrameIntervalMs);
    };
    wait();
  }

  #release(): void {
    if (this.#held?.timer !== undefined) clearTimeout(this.#held.timer);
    this.#held = null;
  }

  /** A new SF or FF ends whatever was in progress (ISO 15765-2 §9.8.3, N_UNEXP_PDU). */
  #interrupt(): void {
    this.#release();
    if (!this.#reassembly.active) return;
    const error = new IsoTpUnexpectedPduError(this.#context, this.#reassembly.received, this.#reassembly.length);
    this.#fail(error);
  }

  #fail(error: IsoTpError): void {
    if (this.#closed) return;
    this.#crDeadline.cancel();
    this.#reassembly.reset();
    this.#blockCount = 0;
    this.#report(error);
  }

  #report(error: IsoTpError): void {
    this.statistics.receiveErrors += 1;
    this.#queue.push(error);
  }

  #sendFlowControl(status: FlowStatus): void {
    this.#arDeadline.arm(this.#options.timeouts.nAr);
    this.#transmitFlowControl(status).then(
      () => this.#arDeadline.cancel(),
      (cause: unknown) => {
        this.#arDeadline.cancel();
        this.#fail(new IsoTpTransmitError(this.#context, cause));
      },
    );
  }
}
