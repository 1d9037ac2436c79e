import type { Bus } from '../bus/bus.ts';
import { canFrame, formatId, type CanFrame } from '../bus/frame.ts';
import { IsoTpChannelClosedError } from './errors.ts';
import { PCI_FLOW_CONTROL, encodeFlowControl, type FlowStatus } from './frame-codec.ts';
import { resolveOptions, type IsoTpChannelOptions, type ResolvedIsoTpOptions } from './options.ts';
import { ReceiveQueue, type ReceiveOptions } from './receive-queue.ts';
import { IsoTpReceiver, type ReceiverStatistics } from './receiver.ts';
import { FrameRouter } from './router.ts';
import { IsoTpSender } from './sender.ts';

export interface IsoTpChannelStatistics extends ReceiverStatistics {
  messagesSent: number;
}

/**
 * One ISO-TP address pair on a bus, full duplex: `send()` segments a payload onto `txId` (paced by flow
 * control arriving on `rxId`) while the receiver reassembles what arrives on `rxId` (sending its flow
 * control on `txId`). Any number of channels can share a bus.
 *
 * ```ts
 * const channel = new IsoTpChannel(bus, { txId: 0x730, rxId: 0x738, fd: true });
 * await channel.send(request);
 * const response = await channel.receive({ timeoutMs: 50 });
 * for await (const message of channel) …
 * ```
 * Errors are IsoTpError subclasses: a failed send rejects its promise; a failed reception (N_Cr,
 * wrong sequence number, a refused oversize message, …) is queued in order with the messages and
 * rejects the `receive()` that reaches it.
 */
export class IsoTpChannel implements AsyncIterable<Uint8Array> {
  readonly bus: Bus;
  readonly options: ResolvedIsoTpOptions;
  /** `cant 0x730→0x738`-style name for logs and errors. */
  readonly name: string;
  readonly #queue: ReceiveQueue;
  readonly #receiver: IsoTpReceiver;
  readonly #sender: IsoTpSender;
  readonly #removeRoute: () => void;
  #closed = false;

  constructor(bus: Bus, options: IsoTpChannelOptions) {
    this.bus = bus;
    this.options = resolveOptions(options);
    const { txId, rxId, extended, layout, bitrateSwitch } = this.options;
    // Validate the frame shape once through the checked constructor; the hot path then builds the same shape.
    canFrame({ id: txId, extended, fd: layout.fd, brs: bitrateSwitch, data: new Uint8Array(layout.dataLength) });
    this.name = `${bus.channel} 0x${formatId({ id: txId, extended })}→0x${formatId({ id: rxId, extended })}`;
    this.#queue = new ReceiveQueue(this.options.receiveQueueLimit, this.name, () => this.#receiver.onSpace());
    this.#receiver = new IsoTpReceiver(this.options, this.#queue, this.#transmitFlowControl, this.name);
    this.#sender = new IsoTpSender(this.options, { transmit: this.#transmit }, this.name);
    this.#removeRoute = FrameRouter.for(bus).add(rxId, extended, this.#onFrame, !this.options.functional);
  }

  get closed(): boolean {
    return this.#closed;
  }

  get statistics(): IsoTpChannelStatistics {
    return { ...this.#receiver.statistics, messagesSent: this.#sender.messagesSent };
  }

  /** Messages received and not yet taken by `receive()` (errors included). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Sends one message; resolves once its last frame is transmitted. Sends queue behind each other. */
  send(payload: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new IsoTpChannelClosedError(this.name));
    return this.#sender.send(payload);
  }

  /** The next message (or rejects with the next reception error); see ReceiveOptions for the timeout. */
  receive(options?: ReceiveOptions): Promise<Uint8Array> {
    return this.#queue.receive(options);
  }

  /** Drops received messages nobody took yet; returns how many. */
  discardReceived(): number {
    return this.#queue.discard();
  }

  /** Messages as they arrive; ends when the channel closes, throws the first reception error. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      try {
        yield await this.#queue.receive();
      } catch (error) {
        if (error instanceof IsoTpChannelClosedError) return;
        throw error;
      }
    }
  }

  /** Stops sending and receiving: a send in progress and waiting receives reject with IsoTpChannelClosedError. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#removeRoute();
    this.#receiver.close();
    this.#sender.close(new IsoTpChannelClosedError(this.name));
    this.#queue.close();
  }

  readonly #onFrame = (frame: CanFrame): void => {
    const data = frame.data;
    if (data[0]! >> 4 === PCI_FLOW_CONTROL) {
      if (!this.options.functional) this.#sender.onFlowControl(data);
    } else {
      this.#receiver.onFrame(data);
    }
  };

  /** Builds the frame literally (same shape as canFrame()), skipping re-validation per frame. */
  readonly #transmit = (data: Uint8Array): Promise<void> => {
    const { txId, extended, layout, bitrateSwitch } = this.options;
    return this.bus.send({
      id: txId, extended, fd: layout.fd, brs: bitrateSwitch, esi: false, remote: false, error: false, data, dlc: data.length,
    });
  };

  readonly #transmitFlowControl = (status: FlowStatus): Promise<void> => {
    const { blockSize, stMinByte, layout } = this.options;
    return this.#transmit(encodeFlowControl(status, blockSize, stMinByte, layout));
  };
}
