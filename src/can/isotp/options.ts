import { MAX_EXTENDED_ID, MAX_STANDARD_ID } from '../bus/frame.ts';
import { IsoTpConfigurationError } from './errors.ts';
import { encodeStMin, frameLayout, type FrameLayout } from './frame-codec.ts';

/** Timeouts of ISO 15765-2 §9.8.2, in milliseconds (the standard's defaults are 1000 ms each). */
export interface IsoTpTimeouts {
  /** Sender: a frame must be transmitted within N_As. */
  nAs: number;
  /** Receiver: a flow control must be transmitted within N_Ar. */
  nAr: number;
  /** Sender: a flow control must arrive within N_Bs after the FF or a block's last CF. */
  nBs: number;
  /** Receiver: the next consecutive frame must arrive within N_Cr. */
  nCr: number;
}

export interface IsoTpChannelOptions {
  /** CAN id this node transmits on (its data, and its flow control for the peer's data). */
  txId: number;
  /** CAN id this node receives on. */
  rxId: number;
  /** 29-bit ids for both directions (default 11-bit). */
  extended?: boolean;
  /** Send CAN FD frames (receiving accepts classic and FD frames either way). */
  fd?: boolean;
  /** TX_DL, data bytes per full frame: 8 for classic; 8-64 (a valid FD length) for FD, default 64. */
  dataLength?: number;
  /** FD bit rate switch on transmitted frames; default on for FD. */
  bitrateSwitch?: boolean;
  /** Fill byte for unused frame bytes (default 0xCC), or null for short frames where the bus allows it. */
  padding?: number | null;
  /** Block size this receiver announces (0 = the sender never waits for another flow control). */
  blockSize?: number;
  /** STmin this receiver announces, in ms: 0-127, or 0.1-0.9 for 100-900 µs. */
  stMin?: number;
  /** Longest message this receiver accepts; a longer first frame is refused with FC.OVFLW. Default 1 MiB. */
  maxMessageLength?: number;
  /**
   * Complete messages (or errors) kept for `receive()`. When the queue is full, a new multi-frame
   * message is held back with FC.WAIT and a new single frame is dropped and counted. Default 16.
   */
  receiveQueueLimit?: number;
  /**
   * N_WFTmax: as sender, the FC.WAIT frames accepted in a row before giving up (N_WFT_OVRN); as receiver,
   * the FC.WAIT frames sent in a row for a full queue before refusing with FC.OVFLW. Default 10.
   */
  maxWaitFrames?: number;
  /** Interval between FC.WAIT frames while the receive queue is full; must stay below the peer's N_Bs. Default 250 ms. */
  waitFrameIntervalMs?: number;
  /** With STmin 0, frames handed to the bus before waiting for the first of them to be transmitted. Default 32. */
  framesInFlight?: number;
  timeouts?: Partial<IsoTpTimeouts>;
  /**
   * Functional addressing (ISO 15765-2 §9.2.3): single frames only, no flow control in either direction;
   * a multi-frame message on the functional id is ignored and a send that needs one is refused.
   */
  functional?: boolean;
}

export interface ResolvedIsoTpOptions {
  txId: number;
  rxId: number;
  extended: boolean;
  layout: FrameLayout;
  bitrateSwitch: boolean;
  blockSize: number;
  stMinMs: number;
  stMinByte: number;
  maxMessageLength: number;
  receiveQueueLimit: number;
  maxWaitFrames: number;
  waitFrameIntervalMs: number;
  framesInFlight: number;
  timeouts: IsoTpTimeouts;
  functional: boolean;
}

export const DEFAULT_TIMEOUTS: IsoTpTimeouts = { nAs: 1000, nAr: 1000, nBs: 1000, nCr: 1000 };

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new IsoTpConfigurationError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function resolveOptions(options: IsoTpChannelOptions): ResolvedIsoTpOptions {
  const extended = options.extended ?? false;
  const maxId = extended ? MAX_EXTENDED_ID : MAX_STANDARD_ID;
  integerIn('txId', options.txId, 0, maxId);
  integerIn('rxId', options.rxId, 0, maxId);
  if (options.txId === options.rxId) {
    throw new IsoTpConfigurationError(`txId and rxId must differ (both 0x${options.txId.toString(16)})`);
  }
  const fd = options.fd ?? false;
  const stMinMs = options.stMin ?? 0;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!Number.isFinite(value) || value <= 0) throw new IsoTpConfigurationError(`timeout ${name} must be positive, got ${value}`);
  }
  return {
    txId: options.txId,
    rxId: options.rxId,
    extended,
    layout: frameLayout(fd, options.dataLength, options.padding),
    bitrateSwitch: fd && (options.bitrateSwitch ?? true),
    blockSize: integerIn('blockSize', options.blockSize ?? 0, 0, 0xff),
    stMinMs,
    stMinByte: encodeStMin(stMinMs),
    maxMessageLength: integerIn('maxMessageLength', options.maxMessageLength ?? 1 << 20, 1, 0xffff_ffff),
    receiveQueueLimit: integerIn('receiveQueueLimit', options.receiveQueueLimit ?? 16, 1, 1 << 20),
    maxWaitFrames: integerIn('maxWaitFrames', options.maxWaitFrames ?? 10, 0, 0xffff),
    waitFrameIntervalMs: options.waitFrameIntervalMs ?? 250,
    framesInFlight: integerIn('framesInFlight', options.framesInFlight ?? 32, 1, 4096),
    timeouts,
    functional: options.functional ?? false,
  };
}
