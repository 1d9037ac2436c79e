/**
 * The datagram format of python-can's `udp_multicast` interface (`can/interfaces/udp_multicast/utils.py`):
 * one msgpack map per frame with exactly these 11 keys, in this order; `dlc` is the data length in bytes
 * (the requested length for remote frames), `data` is msgpack bin, `timestamp` a float. python-can builds a
 * `can.Message(**map)` from it, so an extra key would make it reject the datagram.
 */
import { Encoder, decode } from '@msgpack/msgpack';
import { z } from 'zod';
import { CanBusError } from './errors.ts';
import { canFrame, type CanFrame } from './frame.ts';
import { nowSeconds } from './clock.ts';
import { errorMessage } from '../../errors/error-message.ts';

export class MalformedPacketError extends CanBusError {
  override name = 'MalformedPacketError';
}

const KEYS = [
  'timestamp', 'arbitration_id', 'is_extended_id', 'is_remote_frame', 'is_error_frame', 'channel', 'dlc',
  'data', 'is_fd', 'bitrate_switch', 'error_state_indicator',
] as const;

const encoder = new Encoder();
// python-can always sends a Python float; our encoder would pack a whole-second timestamp as an integer.
const floatEncoder = new Encoder({ forceIntegerToFloat: true });
const encodedKeys = KEYS.map((key) => encoder.encode(key));
const FIXMAP_11 = 0x80 | KEYS.length;

/** Encodes a frame as python-can's `pack_message` would. */
export function packFrame(frame: CanFrame, channel?: string): Uint8Array {
  const values: Record<(typeof KEYS)[number], unknown> = {
    timestamp: frame.timestamp ?? nowSeconds(),
    arbitration_id: frame.id,
    // python-can validates 11-bit ids below 0x800 even on error frames; SocketCAN error classes above
    // 0x7FF therefore travel as extended ids.
    is_extended_id: frame.extended || (frame.error && frame.id > 0x7ff),
    is_remote_frame: frame.remote,
    is_error_frame: frame.error,
    channel: frame.channel ?? channel ?? null,
    dlc: frame.dlc,
    data: frame.data,
    is_fd: frame.fd,
    bitrate_switch: frame.brs,
    error_state_indicator: frame.esi,
  };
  const parts = [Uint8Array.of(FIXMAP_11)];
  KEYS.forEach((key, index) => {
    parts.push(encodedKeys[index]!);
    parts.push(key === 'timestamp' ? floatEncoder.encode(values[key]) : encoder.encode(values[key]));
  });
  const packet = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    packet.set(part, offset);
    offset += part.length;
  }
  return packet;
}

const packetSchema = z.object({
  timestamp: z.number().nullish(),
  arbitration_id: z.number().int().nonnegative(),
  is_extended_id: z.boolean(),
  is_remote_frame: z.boolean(),
  is_error_frame: z.boolean(),
  channel: z.union([z.string(), z.number(), z.null()]).optional(),
  dlc: z.number().int().nonnegative().nullish(),
  data: z.instanceof(Uint8Array).nullish(),
  is_fd: z.boolean(),
  bitrate_switch: z.boolean(),
  error_state_indicator: z.boolean(),
}).strict();

/** Decodes one datagram; throws MalformedPacketError (with the reason) for anything python-can would not send. */
export function unpackFrame(packet: Uint8Array, receivedAt: number = nowSeconds()): CanFrame {
  let decoded: unknown;
  try {
    decoded = decode(packet);
  } catch (error) {
    throw new MalformedPacketError(`not a msgpack datagram: ${errorMessage(error)}`);
  }
  const parsed = packetSchema.safeParse(decoded);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MalformedPacketError(`not a python-can frame map: ${issue ? `${issue.path.join('.') || 'map'}: ${issue.message}` : 'invalid'}`);
  }
  const fields = parsed.data;
  const data = fields.data ? fields.data.slice() : new Uint8Array(0);
  try {
    return canFrame({
      id: fields.arbitration_id,
      // python-can marks its error frames extended by default; ours carry error class bits, no id format.
      extended: fields.is_extended_id && !fields.is_error_frame,
      remote: fields.is_remote_frame,
      error: fields.is_error_frame,
      fd: fields.is_fd,
      brs: fields.bitrate_switch,
      esi: fields.error_state_indicator,
      data,
      dlc: fields.is_remote_frame ? (fields.dlc ?? 0) : (fields.dlc ?? data.length),
      timestamp: receivedAt,
      ...(typeof fields.channel === 'string' ? { channel: fields.channel } : {}),
    });
  } catch (error) {
    throw new MalformedPacketError(`impossible frame in datagram: ${errorMessage(error)}`);
  }
}
