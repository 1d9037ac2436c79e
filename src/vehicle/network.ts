import type { Bus } from '../can/bus/bus.ts';
import { openBus } from '../can/bus/registry.ts';
import type { VirtualNetwork } from '../can/bus/virtual.ts';
import type { IsoTpChannelOptions } from '../can/isotp/options.ts';
import type { BusConfig, EcuConfig, VehicleConfig } from './config.ts';
import { VehicleConfigError } from './config.ts';

export interface VehicleNetworkOptions {
  /** In-process channels for the `virtual` driver (tests give each car its own; default: the process-wide one). */
  virtualNetwork?: VirtualNetwork;
}

/**
 * Connects one node (an ECU, the gateway's side of a segment, a logger) to a bus segment of the vehicle.
 * Each node needs its own connection: a CAN node does not receive its own frames.
 */
export async function connectToBus(
  config: VehicleConfig,
  busName: string,
  options: VehicleNetworkOptions = {},
): Promise<Bus> {
  const bus = config.buses[busName];
  if (!bus) throw new VehicleConfigError(`the vehicle has no bus "${busName}"`);
  return openBus(bus.driver, {
    channel: busName,
    ...(options.virtualNetwork ? { network: options.virtualNetwork } : {}),
    ...(bus.driver === 'virtual' && bus.timing
      ? { timing: { bitrate: bus.bitrate, ...(bus.fd ? { dataBitrate: bus.dataBitrate } : {}) } }
      : {}),
    ...(bus.group ? { group: bus.group } : {}),
    ...(bus.port ? { port: bus.port } : {}),
  });
}

/**
 * ISO-TP settings every node on `bus` uses: CAN FD with 64-byte frames and BRS, or classic 8-byte frames.
 * On udp-multicast a receiver also announces a block size: a UDP socket drops datagrams once its receive
 * buffer is full (a CAN controller would arbitrate instead), and a 64 KiB message is ~1,000 frames sent
 * back to back; a flow control every 32 frames keeps the burst inside the buffer.
 */
export function isoTpFrameOptions(bus: BusConfig): Pick<IsoTpChannelOptions, 'fd' | 'dataLength' | 'bitrateSwitch' | 'blockSize'> {
  const frames = bus.fd ? { fd: true, dataLength: 64, bitrateSwitch: true } : { fd: false, dataLength: 8 };
  return bus.driver === 'udp-multicast' ? { ...frames, blockSize: UDP_MULTICAST_BLOCK_SIZE } : frames;
}

export const UDP_MULTICAST_BLOCK_SIZE = 32;

export function ecuByName(config: VehicleConfig, name: string): EcuConfig {
  const ecu = config.ecus.find((candidate) => candidate.name === name.toUpperCase());
  if (!ecu) {
    throw new VehicleConfigError(`the vehicle has no ECU "${name}" (it has ${config.ecus.map((e) => e.name).join(', ')})`);
  }
  return ecu;
}
