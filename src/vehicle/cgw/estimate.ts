import { canFrame } from '../../can/bus/frame.ts';
import { frameBits } from '../../can/bus/timing.ts';
import type { BusConfig, VehicleConfig } from '../config.ts';
import { ecuByName } from '../network.ts';
import type { ApprovalOffer } from './approval-protocol.ts';

/**
 * Share of a bus's ISO-TP payload rate a UDS download reaches (flow control, the 0x36 round trips, the
 * gateway's store-and-forward); bench/gateway.ts measures about 0.9 on CAN FD through the CGW.
 */
const DOWNLOAD_EFFICIENCY = 0.85;
/** Session, security access, check and reset of one ECU. */
const PER_ECU_OVERHEAD_SECONDS = 3;

/** Payload bytes per second of back-to-back ISO-TP consecutive frames on `bus` (no stuff bits counted). */
export function isoTpBytesPerSecond(bus: BusConfig): number {
  const dataLength = bus.fd ? 64 : 8;
  // 0x55 has no runs of five equal bits: the frame's length without dynamic stuffing.
  const frame = canFrame({ id: 0x7ff, fd: bus.fd, brs: bus.fd, data: new Uint8Array(dataLength).fill(0x55) });
  const bits = frameBits(frame, 'none');
  const seconds = bits.nominalBits / bus.bitrate + bits.dataPhaseBits / (bus.fd ? bus.dataBitrate : bus.bitrate);
  return (dataLength - 1) / seconds;
}

/** Seconds to flash one ECU with `size` bytes: transfer over the slower segment on its path, erase and program. */
export function estimateEcuSeconds(config: VehicleConfig, ecuName: string, size: number): number {
  const ecu = ecuByName(config, ecuName);
  const tester = ecuByName(config, config.tester);
  const rate = Math.min(isoTpBytesPerSecond(config.buses[ecu.bus]!), isoTpBytesPerSecond(config.buses[tester.bus]!));
  const { eraseBytesPerSecond, programBytesPerSecond } = ecu.flash;
  const erase = eraseBytesPerSecond > 0 ? size / eraseBytesPerSecond : 0;
  const program = programBytesPerSecond > 0 ? size / programBytesPerSecond : 0;
  return Math.ceil(size / (rate * DOWNLOAD_EFFICIENCY) + erase + program + PER_ECU_OVERHEAD_SECONDS);
}

export function estimateOfferSeconds(config: VehicleConfig, offer: ApprovalOffer): number {
  return offer.ecus.reduce((total, ecu) => total + estimateEcuSeconds(config, ecu.name, ecu.size), 0);
}
