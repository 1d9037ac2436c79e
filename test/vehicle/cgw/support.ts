import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../../../src/can/bus/bus.ts';
import { canFrame, type CanFrame } from '../../../src/can/bus/frame.ts';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { standardVehicleConfig, type VehicleConfig } from '../../../src/vehicle/config.ts';

export const VIN = 'WVWZZZ1JZXW000001';

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Every frame a node receives, in order. */
export function recorder(bus: Bus): CanFrame[] {
  const frames: CanFrame[] = [];
  bus.onFrame((frame) => frames.push(frame));
  return frames;
}

export const frame = (id: number, data: number[] = [1, 2, 3], fd = false): CanFrame =>
  canFrame({ id, data: fd ? [...data, ...new Array(Math.max(0, 12 - data.length)).fill(0)].slice(0, 12) : data, fd, brs: fd });

/**
 * The standard car's two segments on a private virtual network, with the gateway's node on each and one
 * outside node per segment (`tmu` on CAN-T, `edt` on CAN-B); all closed after the test.
 */
export function twoSegments(t: Pick<TestContext, 'after'>, config: VehicleConfig = standardVehicleConfig(VIN), timed = false) {
  const network = new VirtualNetwork();
  const open = (channel: string) => {
    const bus = config.buses[channel]!;
    return new VirtualBus({
      channel, network, ...(timed ? { timing: { bitrate: bus.bitrate, ...(bus.fd ? { dataBitrate: bus.dataBitrate } : {}) } } : {}),
    });
  };
  const gatewayBuses = { cant: open('cant'), canb: open('canb') };
  const tmu = open('cant');
  const edt = open('canb');
  t.after(async () => {
    await Promise.all([gatewayBuses.cant.close(), gatewayBuses.canb.close(), tmu.close(), edt.close()]);
  });
  return { config, network, gatewayBuses, tmu, edt };
}
