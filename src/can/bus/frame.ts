import { InvalidFrameError } from './errors.ts';

/**
 * The one CAN frame type of canota, for classic CAN and CAN FD (ISO 11898-1).
 * Built only through `canFrame()`, which rejects frames that cannot exist on a wire.
 */
export interface CanFrame {
  /** Arbitration id: 11-bit (0..0x7FF) or, with `extended`, 29-bit (0..0x1FFFFFFF). */
  readonly id: number;
  readonly extended: boolean;
  /** CAN FD frame (FDF bit). */
  readonly fd: boolean;
  /** Bit rate switch: data phase at the data bitrate (FD only). */
  readonly brs: boolean;
  /** Error state indicator (FD only). */
  readonly esi: boolean;
  /** Remote transmission request (classic only); `data` is empty and `dlc` gives the requested length. */
  readonly remote: boolean;
  /**
   * An error frame as reported by a driver (SocketCAN style); never arbitrates. `id` then holds the error
   * class bits (CAN_ERR_MASK, without CAN_ERR_FLAG), `extended` is false, `data` the 8 error detail bytes.
   */
  readonly error: boolean;
  /** Payload; its length is the frame's data length in bytes. */
  readonly data: Uint8Array;
  /** Data length in bytes (equals `data.length` except for remote frames). */
  readonly dlc: number;
  /** Seconds since the epoch when received (or sent); set by the bus. */
  readonly timestamp?: number;
  /** Name of the bus or interface the frame was seen on (`cant`, `canb`, …). */
  readonly channel?: string;
}

export interface CanFrameInit {
  id: number;
  data?: Uint8Array | readonly number[];
  extended?: boolean;
  fd?: boolean;
  brs?: boolean;
  esi?: boolean;
  remote?: boolean;
  error?: boolean;
  /** Only for remote frames: the requested length (0..8). */
  dlc?: number;
  timestamp?: number;
  channel?: string;
}

export { InvalidFrameError };

export const MAX_STANDARD_ID = 0x7ff;
export const MAX_EXTENDED_ID = 0x1fffffff;
export const CLASSIC_MAX_DATA = 8;
export const FD_MAX_DATA = 64;

/** The data lengths a CAN FD frame can carry (DLC 0..15 → bytes). */
export const FD_LENGTHS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64];

/** True when `length` bytes fit an FD frame exactly (no padding needed). */
export function isValidFdLength(length: number): boolean {
  return FD_LENGTHS.includes(length);
}

/** The smallest FD data length that holds `length` bytes (for padding), e.g. 9 → 12. */
export function fdLengthFor(length: number): number {
  const fit = FD_LENGTHS.find((candidate) => candidate >= length);
  if (fit === undefined) throw new InvalidFrameError(`${length} bytes do not fit a CAN FD frame (max ${FD_MAX_DATA})`);
  return fit;
}

/** The 4-bit DLC code on the wire for a data length in bytes. */
export function dlcCodeFor(length: number): number {
  const code = FD_LENGTHS.indexOf(length);
  if (code < 0) throw new InvalidFrameError(`no DLC code for ${length} bytes`);
  return code;
}

/** Builds and validates a frame; throws InvalidFrameError with the reason for an impossible frame. */
export function canFrame(init: CanFrameInit): CanFrame {
  const extended = init.extended ?? false;
  const fd = init.fd ?? false;
  const brs = init.brs ?? false;
  const esi = init.esi ?? false;
  const remote = init.remote ?? false;
  const error = init.error ?? false;
  const data = init.data instanceof Uint8Array ? init.data : Uint8Array.from(init.data ?? []);

  if (!Number.isInteger(init.id) || init.id < 0) {
    throw new InvalidFrameError(`CAN id must be a non-negative integer, got ${init.id}`);
  }
  if (error) {
    // SocketCAN error frames carry error class bits (CAN_ERR_MASK) where the id would be; no id format.
    if (extended) throw new InvalidFrameError('an error frame carries error class bits, not an extended id');
    if (fd || remote) throw new InvalidFrameError('an error frame is neither CAN FD nor remote');
    if (init.id > MAX_EXTENDED_ID) {
      throw new InvalidFrameError(`error class 0x${init.id.toString(16)} exceeds CAN_ERR_MASK (0x1fffffff)`);
    }
  }
  const maxId = extended ? MAX_EXTENDED_ID : MAX_STANDARD_ID;
  if (init.id > maxId && !error) {
    throw new InvalidFrameError(
      `CAN id 0x${init.id.toString(16)} exceeds the ${extended ? '29' : '11'}-bit range (max 0x${maxId.toString(16)})`,
    );
  }
  if (!fd && (brs || esi)) throw new InvalidFrameError('BRS and ESI flags exist only on CAN FD frames');
  if (fd && remote) throw new InvalidFrameError('CAN FD has no remote frames');
  if (remote && data.length > 0) throw new InvalidFrameError('a remote frame carries no data');

  let dlc = data.length;
  if (remote) {
    dlc = init.dlc ?? 0;
    if (!Number.isInteger(dlc) || dlc < 0 || dlc > CLASSIC_MAX_DATA) {
      throw new InvalidFrameError(`remote frame DLC must be 0..8, got ${init.dlc}`);
    }
  } else if (init.dlc !== undefined && init.dlc !== data.length) {
    throw new InvalidFrameError(`DLC ${init.dlc} does not match the ${data.length} data bytes`);
  }
  if (fd) {
    if (!isValidFdLength(data.length)) {
      throw new InvalidFrameError(
        `a CAN FD frame carries 0-8, 12, 16, 20, 24, 32, 48 or 64 bytes, not ${data.length}`,
      );
    }
  } else if (data.length > CLASSIC_MAX_DATA) {
    throw new InvalidFrameError(`a classic CAN frame carries at most 8 bytes, not ${data.length}`);
  }

  const frame: CanFrame = { id: init.id, extended, fd, brs, esi, remote, error, data, dlc };
  if (init.timestamp !== undefined) (frame as { timestamp?: number }).timestamp = init.timestamp;
  if (init.channel !== undefined) (frame as { channel?: string }).channel = init.channel;
  return frame;
}

/** `0x7e0` style id for messages; 29-bit ids as 8 hex digits, like candump. */
export function formatId(frame: Pick<CanFrame, 'id' | 'extended'>): string {
  return frame.extended ? frame.id.toString(16).toUpperCase().padStart(8, '0')
    : frame.id.toString(16).toUpperCase().padStart(3, '0');
}

/**
 * The frame as seen on a bus at `timestamp` on `channel`. An explicit literal (not a spread) keeps every
 * stamped frame one object shape, which matters on the virtual bus's hot path (millions of frames/s).
 */
export function stampFrame(frame: CanFrame, timestamp: number, channel: string): CanFrame {
  return {
    id: frame.id, extended: frame.extended, fd: frame.fd, brs: frame.brs, esi: frame.esi, remote: frame.remote,
    error: frame.error, data: frame.data, dlc: frame.dlc, timestamp, channel,
  };
}
