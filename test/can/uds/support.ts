import type { TestContext } from 'node:test';
import { Bus } from '../../../src/can/bus/bus.ts';
import type { CanFrame } from '../../../src/can/bus/frame.ts';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { IsoTpChannel, type IsoTpChannelOptions } from '../../../src/can/isotp/index.ts';
import {
  RequestRejectedError, UdsClient, UdsServer, computeSecurityKey, type UdsClientOptions, type UdsServerOptions,
} from '../../../src/can/uds/index.ts';

export const SECRET = 'edt-test-secret';
export const key = (seed: Uint8Array): Uint8Array => computeSecurityKey(SECRET, seed, 16);
export const hex = (data: Uint8Array | null | undefined): string => (data ? Buffer.from(data).toString('hex') : String(data));
export const bytes = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

/** What the test ECU did, to check side effects. */
export interface EcuLog {
  flash: Uint8Array;
  writes: { offset: number; length: number; counter: number }[];
  resets: number[];
  erased: number;
  vin: Uint8Array;
  sessions: number[];
}

/** A small ECU like the vehicle's bootloaders: version/VIN DIDs, erase/check routines, a flash of `flashSize` bytes. */
export function testEcu(overrides: Partial<UdsServerOptions> = {}, flashSize = 64 * 1024): { options: UdsServerOptions; log: EcuLog } {
  const log: EcuLog = { flash: new Uint8Array(flashSize), writes: [], resets: [], erased: 0, vin: new TextEncoder().encode('WVWZZZ1JZXW000001'), sessions: [] };
  const options: UdsServerOptions = {
    security: { secret: SECRET, levels: { 1: {}, 0x11: { sessions: [2] } }, maxAttempts: 3, delayMs: 200 },
    timing: { p2Ms: 50, p2StarMs: 5000, s3Ms: 5000 },
    dids: {
      0xf189: { read: () => new TextEncoder().encode('2.0.0') },
      0xf190: {
        read: () => log.vin,
        write: (data) => { log.vin = data; },
        writeLength: 17,
        writeSessions: [3],
        writeSecurity: 1,
      },
      0xf18c: { read: () => bytes('0102'), readSecurity: 'any' },
      0x0101: {
        read: () => { throw new RequestRejectedError(0x22, 'sensor not ready'); },
        write: () => { throw new Error('EEPROM write failed'); },
      },
    },
    routines: {
      0xff00: {
        start: async (record) => {
          await new Promise((resolve) => setTimeout(resolve, record[0] ?? 0));
          log.flash.fill(0xff);
          log.erased += 1;
          return Uint8Array.of(0x00);
        },
        sessions: [2],
        security: 'any',
      },
      0xff01: {
        start: () => Uint8Array.of(0x00),
        results: () => Uint8Array.of(0x01),
      },
      0x0202: { start: () => { throw new Error('bug in the routine'); } },
    },
    download: {
      maxNumberOfBlockLength: 258,
      onRequestDownload: ({ memoryAddress, memorySize }) => {
        if (memoryAddress === 0xdead) throw new Error('flash locked');
        if (memoryAddress + memorySize > log.flash.length) throw new RequestRejectedError(0x31, 'outside the flash');
      },
      onTransferData: (data, { offset, blockSequenceCounter }) => {
        if (data[0] === 0xde && data[1] === 0xad) throw new Error('flash cell broken');
        log.flash.set(data, offset);
        log.writes.push({ offset, length: data.length, counter: blockSequenceCounter });
      },
      onTransferExit: () => Uint8Array.of(0xc0),
    },
    onReset: (type) => { log.resets.push(type); },
    onSessionChange: (session) => { log.sessions.push(session); },
    ...overrides,
  };
  return { options, log };
}

type Side = Omit<IsoTpChannelOptions, 'txId' | 'rxId'>;

/** A tester (TMU) and an ECU server on a fresh virtual bus, 0x730/0x738 + functional 0x7DF, stopped after the test. */
export function testerAndEcu(t: Pick<TestContext, 'after'>, serverOptions: UdsServerOptions, clientOptions: UdsClientOptions = {}, isotp: Side = {}) {
  const network = new VirtualNetwork();
  const testerBus = new VirtualBus({ channel: 'canb', network });
  const ecuBus = new VirtualBus({ channel: 'canb', network });
  const channel = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738, ...isotp });
  const functional = new IsoTpChannel(testerBus, { txId: 0x7df, rxId: 0x7de, functional: true, ...isotp });
  const client = new UdsClient(channel, clientOptions);
  const server = new UdsServer(serverOptions);
  server.listenOnBus(ecuBus, { requestId: 0x730, responseId: 0x738, functionalId: 0x7df }, isotp);
  t.after(async () => {
    client.close();
    await server.close();
    channel.close();
    functional.close();
    await Promise.all([testerBus.close(), ecuBus.close()]);
  });
  return { client, server, channel, functional, testerBus, ecuBus, network };
}

/**
 * A node whose receiver loses the frames `drop` picks (a disturbed transceiver), for tests of lost
 * responses. Its own transmissions go out untouched.
 */
export class FilteringBus extends Bus {
  readonly #inner: VirtualBus;
  dropped = 0;

  constructor(network: VirtualNetwork, channel: string, drop: (frame: CanFrame) => boolean) {
    super({ channel });
    this.#inner = new VirtualBus({ channel, network });
    this.#inner.onFrame((frame) => {
      if (drop(frame)) this.dropped += 1;
      else this.deliver(frame);
    });
  }

  protected override async transmit(frame: CanFrame): Promise<void> {
    await this.#inner.send(frame);
  }

  protected override async shutdown(): Promise<void> {
    await this.#inner.close();
  }
}
