import type { CanFrame } from '../bus/frame.ts';
import { CanBusError } from '../bus/errors.ts';
import { IsoTpObserver, describePdu } from '../isotp/index.ts';
import { describeUdsMessage } from '../uds/index.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** The vehicle's diagnostic ids (docs/architecture.md, "In-vehicle network"): CGW, TMU, EDT request/response, and the functional request id. */
export const VEHICLE_DIAGNOSTIC_IDS: readonly number[] = [0x710, 0x718, 0x720, 0x728, 0x730, 0x738, 0x7df];

/** A long message (a TransferData block) is described by its start and its length. */
const MAX_NOTE_LENGTH = 120;

export class DecodeIdsError extends CanBusError {
  override name = 'DecodeIdsError';
}

/**
 * Notes on frames the ISO-TP observer does not follow (a signal layout such as a DBC message), supplied by
 * whoever knows the layout (the CAN stack knows none). `describe` returns null for a frame it does not know.
 */
export interface FrameDescriber {
  describe(frame: CanFrame): string[] | null;
}

/**
 * Notes for a bus monitor (`canota can dump --decode`): each frame on a diagnostic id is read as ISO-TP
 * by the passive observer (it never sends flow control), and each reassembled message is named by the
 * UDS layer: request, positive response, or negative response with its NRC. Other frames go to the
 * `describers`, in order, until one knows the frame. Never throws: a describer's error becomes a note.
 */
export class TrafficDecoder {
  readonly #observer: IsoTpObserver;
  readonly #describers: readonly FrameDescriber[];

  constructor(ids: readonly number[] = VEHICLE_DIAGNOSTIC_IDS, describers: readonly FrameDescriber[] = []) {
    this.#observer = new IsoTpObserver({ ids });
    this.#describers = describers;
  }

  /** `7E0:7E8,7DF` → [0x7e0, 0x7e8, 0x7df]; undefined or empty → the vehicle's ids. */
  static parseIdPairs(text: string | undefined): number[] {
    if (text === undefined || text.trim() === '') return [...VEHICLE_DIAGNOSTIC_IDS];
    const ids: number[] = [];
    for (const part of text.split(/[,:]/).map((item) => item.trim())) {
      if (!/^(?:0x)?[0-9a-f]{1,3}$/i.test(part) || parseInt(part, 16) > 0x7ff) {
        throw new DecodeIdsError(`decode id "${part}" is not an 11-bit hex id (e.g. 7E0:7E8,7DF)`);
      }
      ids.push(parseInt(part, 16));
    }
    return ids;
  }

  /** Notes for one frame; empty when the frame is not on a followed id and no describer knows it. */
  describe(frame: CanFrame): string[] {
    const observation = this.#observer.observe(frame);
    if (!observation) return this.#describeOther(frame);
    const notes = [observation.pdu.type === 'invalid' ? describePdu(observation.pdu) : `ISO-TP ${describePdu(observation.pdu)}`];
    if (observation.error) notes.push(`${observation.error.result}: ${observation.error.message}`);
    if (observation.message) {
      const note = `UDS ${describeUdsMessage(observation.message)}`;
      notes.push(note.length <= MAX_NOTE_LENGTH ? note : `${note.slice(0, MAX_NOTE_LENGTH)}… (${observation.message.length} bytes)`);
    }
    return notes;
  }

  #describeOther(frame: CanFrame): string[] {
    for (const describer of this.#describers) {
      try {
        const notes = describer.describe(frame);
        if (notes) return notes;
      } catch (error) {
        return [`not decoded: ${errorMessage(error)}`];
      }
    }
    return [];
  }
}
