import type { CanFrame } from '../bus/frame.ts';
import { IsoTpConfigurationError, IsoTpOverflowError, IsoTpSequenceError, IsoTpTimeoutError, IsoTpUnexpectedPduError, type IsoTpError } from './errors.ts';
import { decodePdu, parseFirstFrame, type IsoTpPdu } from './frame-codec.ts';
import { Reassembly } from './reassembly.ts';

export interface IsoTpObserverOptions {
  /**
   * CAN ids to follow, typically both of an address pair (`[0x730, 0x738]`) so requests and responses
   * are reassembled, each direction on its own. Frames on other ids are not ISO-TP to the observer.
   */
  ids: readonly number[];
  extended?: boolean;
  /** Longer messages are reported and skipped instead of buffered. Default 16 MiB. */
  maxMessageLength?: number;
  /** A partial message older than this (by frame timestamps) is dropped as N_Cr. Default 1000 ms. */
  nCrMs?: number;
}

export interface IsoTpObservation {
  frame: CanFrame;
  pdu: IsoTpPdu;
  /** The message this frame completed. */
  message?: Uint8Array;
  /** A reassembly this frame ended without a message (lost or reordered frames). */
  error?: IsoTpError;
}

interface Direction {
  reassembly: Reassembly;
  lastTimestamp: number | undefined;
}

/**
 * A passive ISO-TP reassembler for bus monitors (`canota can dump --decode`): it watches frames of the
 * given ids, never sends (no flow control of its own) and reports each frame's PDU plus every message
 * it completes. Timing comes from frame timestamps, so it works as well on a replayed candump log.
 */
export class IsoTpObserver {
  readonly #directions = new Map<number, Direction>();
  readonly #extended: boolean;
  readonly #maxMessageLength: number;
  readonly #nCrSeconds: number;

  constructor(options: IsoTpObserverOptions) {
    if (options.ids.length === 0) throw new IsoTpConfigurationError('an ISO-TP observer needs at least one id');
    this.#extended = options.extended ?? false;
    this.#maxMessageLength = options.maxMessageLength ?? 16 << 20;
    this.#nCrSeconds = (options.nCrMs ?? 1000) / 1000;
    for (const id of options.ids) {
      this.#directions.set(id, { reassembly: new Reassembly(), lastTimestamp: undefined });
    }
  }

  /** Decodes one frame; null when its id is not followed (or it is a remote/error frame). */
  observe(frame: CanFrame): IsoTpObservation | null {
    if (frame.extended !== this.#extended || frame.remote || frame.error) return null;
    const direction = this.#directions.get(frame.id);
    if (!direction) return null;
    const pdu = decodePdu(frame.data);
    const observation: IsoTpObservation = { frame, pdu };
    const context = `0x${frame.id.toString(16)}`;
    const reassembly = direction.reassembly;
    const stale = direction.lastTimestamp !== undefined && frame.timestamp !== undefined
      && frame.timestamp - direction.lastTimestamp > this.#nCrSeconds;
    if (pdu.type !== 'FC') direction.lastTimestamp = frame.timestamp;

    if (reassembly.active && stale && pdu.type !== 'FC') {
      reassembly.reset();
      observation.error = new IsoTpTimeoutError('N_Cr', this.#nCrSeconds * 1000, context);
    }
    switch (pdu.type) {
      case 'SF':
        if (reassembly.active) observation.error = interrupted(reassembly, context);
        observation.message = pdu.payload.slice();
        break;
      case 'FF': {
        if (reassembly.active) observation.error = interrupted(reassembly, context);
        const header = parseFirstFrame(frame.data)!;
        if (header.length > this.#maxMessageLength) {
          observation.error = new IsoTpOverflowError(`not buffering a ${header.length}-byte message on ${context}`, header.length);
        } else {
          reassembly.start(header, frame.data);
        }
        break;
      }
      case 'CF': {
        if (!reassembly.active) break;
        const expected = reassembly.expectedSequence;
        const result = reassembly.consecutive(frame.data);
        if (result === 'complete') observation.message = reassembly.take();
        else if (result === 'wrong-sequence') {
          reassembly.reset();
          observation.error = new IsoTpSequenceError(expected, pdu.sequence, context);
        }
        break;
      }
      default:
        break;
    }
    return observation;
  }
}

function interrupted(reassembly: Reassembly, context: string): IsoTpError {
  const error = new IsoTpUnexpectedPduError(context, reassembly.received, reassembly.length);
  reassembly.reset();
  return error;
}
