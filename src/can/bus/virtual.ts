import { Bus, type BusOptions } from './bus.ts';
import type { CanFrame } from './frame.ts';
import { nowSeconds } from './clock.ts';

interface PendingFrame {
  frame: CanFrame;
  sender: VirtualBus;
  resolve: () => void;
}

/**
 * One in-process bus segment. Frames are delivered to every node but the sender, in send order, from a
 * microtask (never inside `send`), so a node that answers from its listener cannot reorder the bus.
 */
export class VirtualChannel {
  readonly name: string;
  readonly #nodes = new Set<VirtualBus>();
  #queue: PendingFrame[] = [];
  #draining = false;

  constructor(name: string) {
    this.name = name;
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  attach(node: VirtualBus): void {
    this.#nodes.add(node);
  }

  detach(node: VirtualBus): void {
    this.#nodes.delete(node);
  }

  transmit(frame: CanFrame, sender: VirtualBus): Promise<void> {
    return new Promise((resolve) => {
      this.#queue.push({ frame, sender, resolve });
      if (!this.#draining) {
        this.#draining = true;
        queueMicrotask(() => this.#drain());
      }
    });
  }

  #drain(): void {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      for (const { frame, sender, resolve } of batch) {
        const stamped: CanFrame = { ...frame, timestamp: nowSeconds(), channel: this.name };
        for (const node of this.#nodes) {
          if (node !== sender) node.receiveFromChannel(stamped);
        }
        resolve();
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
}

/** The `virtual` driver: nodes of one process sharing a channel by name (python-can's `virtual`). */
export class VirtualBus extends Bus {
  readonly #channel: VirtualChannel;

  constructor(options: VirtualBusOptions) {
    super(options);
    this.#channel = (options.network ?? defaultVirtualNetwork).channel(options.channel);
    this.#channel.attach(this);
  }

  /** Called by the channel; not part of the public Bus surface. */
  receiveFromChannel(frame: CanFrame): void {
    this.deliver(frame);
  }

  protected override transmit(frame: CanFrame): Promise<void> {
    return this.#channel.transmit(frame, this);
  }

  protected override async shutdown(): Promise<void> {
    this.#channel.detach(this);
  }
}
