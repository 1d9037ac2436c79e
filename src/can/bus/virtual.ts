import { Bus, type BusOptions } from './bus.ts';
import { BusClosedError, BusConfigurationError } from './errors.ts';
import { stampFrame, type CanFrame } from './frame.ts';
import { nowSeconds } from './clock.ts';
import { busTiming, describeTiming, sameTiming, type BusTiming } from './timing.ts';
import { TimedWire, type WireStatistics } from './wire.ts';

interface PendingFrame {
  frame: CanFrame;
  sender: VirtualBus;
  resolve: (frame: CanFrame) => void;
}

/**
 * One in-process bus segment. Frames are delivered to every node but the sender from a later turn
 * (never inside `send`), so a node that answers from its listener cannot reorder the bus.
 * Without a timing model frames go out in send order, as fast as the process can move them; with one
 * (`timing`), they go through a `TimedWire`: real bit timing, arbitration by id, bus load.
 */
export class VirtualChannel {
  readonly name: string;
  readonly #nodes = new Set<VirtualBus>();
  #queue: PendingFrame[] = [];
  #draining = false;
  #wire: TimedWire<VirtualBus> | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** The wire's bit timing, or undefined for an untimed channel. */
  get timing(): BusTiming | undefined {
    return this.#wire?.timing;
  }

  /**
   * Joins a node. The first node to join an empty channel sets its timing (or none); a later node that
   * asks for a different timing gets a BusConfigurationError, as two controllers with different bit
   * timings cannot share a wire.
   */
  attach(node: VirtualBus, timing?: BusTiming): void {
    if (this.#nodes.size === 0 && this.#idle()) {
      this.#wire?.stop();
      this.#wire = timing === undefined ? undefined
        : new TimedWire<VirtualBus>(timing, (frame, sender) => this.#broadcast(frame, sender));
    } else if (timing !== undefined) {
      const current = this.#wire?.timing;
      if (!current) {
        throw new BusConfigurationError(
          `virtual CAN channel ${this.name} is already open without a timing model; cannot join it with ${describeTiming(busTiming(timing))}`,
        );
      }
      if (!sameTiming(current, busTiming(timing))) {
        throw new BusConfigurationError(
          `virtual CAN channel ${this.name} runs at ${describeTiming(current)}; cannot join it with ${describeTiming(busTiming(timing))}`,
        );
      }
    }
    this.#nodes.add(node);
  }

  detach(node: VirtualBus): void {
    this.#nodes.delete(node);
    this.#wire?.cancel(node, new BusClosedError(this.name));
    if (this.#nodes.size === 0) this.#wire?.stop();
  }

  /** Wire counters and bus load; undefined for an untimed channel. */
  statistics(): WireStatistics | undefined {
    return this.#wire?.statistics();
  }

  transmit(frame: CanFrame, sender: VirtualBus): Promise<CanFrame> {
    if (this.#wire) return this.#wire.transmit(frame, sender, this.name);
    return new Promise((resolve) => {
      this.#queue.push({ frame, sender, resolve });
      if (!this.#draining) {
        this.#draining = true;
        queueMicrotask(() => this.#drain());
      }
    });
  }

  #idle(): boolean {
    return this.#queue.length === 0 && (this.#wire?.pendingFrames ?? 0) === 0;
  }

  #broadcast(frame: CanFrame, sender: VirtualBus): void {
    for (const node of this.#nodes) {
      if (node !== sender) node.receiveFromChannel(frame);
    }
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const { frame, sender, resolve } of batch) {
        const stamped = stampFrame(frame, nowSeconds(), this.name);
        this.#broadcast(stamped, sender);
        resolve(stamped);
      }
    }
    this.#draining = false;
  }
}

/** A set of named virtual channels; processes normally use the default one. */
export class VirtualNetwork {
  readonly #channels = new Map<string, VirtualChannel>();

  channel(name: string): VirtualChannel {
    let channel = this.#channels.get(name);
    if (!channel) {
      channel = new VirtualChannel(name);
      this.#channels.set(name, channel);
    }
    return channel;
  }
}

export const defaultVirtualNetwork = new VirtualNetwork();

export interface VirtualBusOptions extends BusOptions {
  /** Which set of channels to join; defaults to the process-wide one. */
  network?: VirtualNetwork;
  /**
   * Bit timing of the channel's wire (e.g. `{ bitrate: 500_000, dataBitrate: 2_000_000 }`): frames then
   * take as long as on a real bus. Belongs to the channel: the first node sets it, others must match or omit it.
   */
  timing?: BusTiming;
}

/** The `virtual` driver: nodes of one process sharing a channel by name (python-can's `virtual`). */
export class VirtualBus extends Bus {
  readonly #channel: VirtualChannel;

  constructor(options: VirtualBusOptions) {
    super(options);
    this.#channel = (options.network ?? defaultVirtualNetwork).channel(options.channel);
    this.#channel.attach(this, options.timing);
  }

  /** The channel's bit timing, if it has a timing model. */
  get timing(): BusTiming | undefined {
    return this.#channel.timing;
  }

  /** Wire counters and bus load of the channel (timed channels only). */
  wireStatistics(): WireStatistics | undefined {
    return this.#channel.statistics();
  }

  /** Called by the channel; not part of the public Bus surface. */
  receiveFromChannel(frame: CanFrame): void {
    this.deliver(frame);
  }

  protected override transmit(frame: CanFrame): Promise<CanFrame> {
    return this.#channel.transmit(frame, this);
  }

  protected override async shutdown(): Promise<void> {
    this.#channel.detach(this);
  }
}
