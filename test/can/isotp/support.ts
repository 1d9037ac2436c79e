import type { TestContext } from 'node:test';
import { Bus } from '../../../src/can/bus/bus.ts';
import type { CanFrame } from '../../../src/can/bus/frame.ts';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { IsoTpChannel, type IsoTpChannelOptions } from '../../../src/can/isotp/index.ts';

type Side = Omit<IsoTpChannelOptions, 'txId' | 'rxId'>;

/** Two nodes on a fresh virtual bus with a channel each (tester 0x730 → ECU, ECU 0x738 → tester), closed after the test. */
export function channelPair(t: Pick<TestContext, 'after'>, tester: Side = {}, ecu: Side = {}) {
  const network = new VirtualNetwork();
  const testerBus = new VirtualBus({ channel: 'test', network });
  const ecuBus = new VirtualBus({ channel: 'test', network });
  const monitorBus = new VirtualBus({ channel: 'test', network });
  const frames: CanFrame[] = [];
  monitorBus.onFrame((frame) => frames.push(frame));
  const a = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738, ...tester });
  const b = new IsoTpChannel(ecuBus, { txId: 0x738, rxId: 0x730, ...ecu });
  t.after(async () => {
    a.close();
    b.close();
    await Promise.all([testerBus.close(), ecuBus.close(), monitorBus.close()]);
  });
  return { network, tester: a, ecu: b, testerBus, ecuBus, monitorBus, frames };
}

export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function pattern(length: number, seed = 1): Uint8Array {
  const data = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let index = 0; index < length; index += 1) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    data[index] = x & 0xff;
  }
  return data;
}

/** A bus whose transmissions never complete (a controller stuck in bus-off); frames can still be injected. */
export class StalledBus extends Bus {
  constructor(channel = 'stalled') {
    super({ channel });
  }

  inject(frame: CanFrame): void {
    this.deliver(frame);
  }

  protected override transmit(): Promise<void> {
    return new Promise<void>(() => {});
  }

  protected override async shutdown(): Promise<void> {}
}

/**
 * A node on a virtual bus that loses received frames at random (a noisy transceiver), deterministically
 * from `seed`. Its own transmissions go out untouched.
 */
export class LossyBus extends Bus {
  readonly #inner: VirtualBus;
  #state: number;
  readonly #lossRate: number;
  dropped = 0;

  constructor(network: VirtualNetwork, channel: string, lossRate: number, seed: number) {
    super({ channel });
    this.#inner = new VirtualBus({ channel, network });
    this.#lossRate = lossRate;
    this.#state = (seed >>> 0) || 1;
    this.#inner.onFrame((frame) => {
      if (this.#random() < this.#lossRate) {
        this.dropped += 1;
        return;
      }
      this.deliver(frame);
    });
  }

  #random(): number {
    let x = this.#state;
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    this.#state = x;
    return x / 0x1_0000_0000;
  }

  protected override async transmit(frame: CanFrame): Promise<void> {
    await this.#inner.send(frame);
  }

  protected override async shutdown(): Promise<void> {
    await this.#inner.close();
  }
}
