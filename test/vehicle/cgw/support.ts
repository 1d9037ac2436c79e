import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../../../src/can/bus/bus.ts';
import { canFrame, type CanFrame } from '../../../src/can/bus/frame.ts';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import { UdsClient, UdsServer, UdsTimeoutError } from '../../../src/can/uds/index.ts';
import { standardVehicleConfig, type VehicleConfig } from '../../../src/vehicle/config.ts';
import { ALWAYS_STOPPED } from '../../../src/vehicle/ecu/vehicle-condition.ts';
import { isoTpFrameOptions } from '../../../src/vehicle/network.ts';
import { ApprovalClient } from '../../../src/vehicle/cgw/approval-client.ts';
import type { ApprovalOfferInput } from '../../../src/vehicle/cgw/approval-protocol.ts';
import { CentralGateway } from '../../../src/vehicle/cgw/central-gateway.ts';
import type { DriverHmi } from '../../../src/vehicle/cgw/hmi/driver-hmi.ts';
import { Writable } from 'node:stream';
import { Ecu } from '../../../src/vehicle/ecu/ecu.ts';
import { PolicyHmi } from '../../../src/vehicle/cgw/hmi/policy.ts';
import { ApprovalChannelTester } from '../../../src/vehicle/cgw/approval-channel.ts';

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

/** `eventually` for checks that need to await (reading a file). */
export async function eventuallyAsync<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
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

/** A valid offer for the standard car's EDT. */
export function edtOffer(overrides: Partial<ApprovalOfferInput> = {}): ApprovalOfferInput {
  return {
    campaign_id: 'campaign-42',
    ecus: [{ name: 'EDT', from: '1.0.0', to: '2.0.0', size: 1 << 20, sha256: 'ab'.repeat(32) }],
    notes: 'Better range.\nQuieter inverter.',
    estimated_seconds: 30,
    ...overrides,
  };
}

export interface RigOptions {
  hmi: DriverHmi;
  inactivityMs?: number;
  stateDir?: string;
  testerPresentIntervalMs?: number;
}

/**
 * The standard car's network with a running CentralGateway, the TMU's ApprovalClient on CAN-T, and on
 * CAN-B an EDT that answers 0x22 F189 (a plain UDS server: the ECU runtime is not the subject here).
 */
export async function gatewayRig(t: Pick<TestContext, 'after'>, options: RigOptions) {
  const { config, gatewayBuses, tmu, edt } = twoSegments(t);
  // Removed in the same hook that closes the CGW, after it: node:test runs `after` hooks in order.
  const stateDir = options.stateDir ?? await mkdtemp(join(tmpdir(), 'canota-cgw-'));
  // This EDT sends no status frames: the vehicle is told to stand still (the CGW's reset needs it).
  const cgw = await CentralGateway.start({
    config, hmi: options.hmi, buses: gatewayBuses, stateDir, statisticsIntervalMs: 50, vehicleCondition: ALWAYS_STOPPED,
    ...(options.inactivityMs !== undefined ? { inactivityMs: options.inactivityMs } : {}),
  });
  const channel = await ApprovalChannelTester.forTester(config, stateDir);
  const approval = ApprovalClient.forVehicle(tmu, config, channel, {
    p2Ms: 300, ...(options.testerPresentIntervalMs !== undefined ? { testerPresentIntervalMs: options.testerPresentIntervalMs } : {}),
  });
  const isotp = isoTpFrameOptions(config.buses.canb!);
  const edtServer = new UdsServer({ dids: { 0xf189: { read: () => new TextEncoder().encode('1.0.0') } } });
  edtServer.listenOnBus(edt, { requestId: 0x730, responseId: 0x738, functionalId: 0x7df }, isotp);
  const edtChannel = new IsoTpChannel(tmu, { txId: 0x730, rxId: 0x738, ...isotp });
  const edtClient = new UdsClient(edtChannel, { p2Ms: 400, testerPresentIntervalMs: 0 });
  t.after(async () => {
    edtClient.close();
    edtChannel.close();
    await edtServer.close();
    await approval.close();
    await cgw.close();
    if (options.stateDir === undefined) await rm(stateDir, { recursive: true, force: true });
  });
  /** True when EDT answers through the gateway. */
  const edtReachable = async (): Promise<boolean> => {
    try {
      await edtClient.readDataByIdentifier(0xf189);
      return true;
    } catch (error) {
      if (error instanceof UdsTimeoutError) return false;
      throw error;
    }
  };
  return { config, cgw, approval, channel, edtReachable, tmu, edt, gatewayBuses, stateDir };
}

/**
 * The real CGW (driver policy "auto") and the real EDT on the standard car's two segments, the TMU's
 * authenticated ApprovalClient on CAN-T and a UDS client to EDT's ids from there (through the firewall);
 * all stopped, and the state dir removed, after the test.
 */
export async function edtBehindGateway(t: Pick<TestContext, 'after'>, prefix = 'canota-cgw-flash-', vehicle?: VehicleConfig) {
  // Removed by the hook that stops the ECUs, after them (node:test runs `after` hooks in order).
  const stateDir = await mkdtemp(join(tmpdir(), prefix));
  const { config, gatewayBuses, tmu, edt } = twoSegments(t, vehicle);
  const warn = new Writable({ write: (_chunk, _encoding, done) => done() });
  const cgw = await CentralGateway.start({ config, hmi: new PolicyHmi('auto', { warn }), stateDir, buses: gatewayBuses });
  const edtEcu = await Ecu.start({ config, name: 'EDT', stateDir, bus: edt, statusIntervalMs: 50, rebootMs: 50 });
  const approval = ApprovalClient.forVehicle(tmu, config, await ApprovalChannelTester.forTester(config, stateDir));
  const channel = new IsoTpChannel(tmu, { txId: 0x730, rxId: 0x738, ...isoTpFrameOptions(config.buses.canb!) });
  const client = new UdsClient(channel);
  t.after(async () => {
    client.close();
    channel.close();
    await approval.close();
    await edtEcu.close();
    await cgw.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { config, stateDir, cgw, edtEcu, approval, client, tmu };
}
