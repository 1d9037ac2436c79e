import { buildSecuredPdu, parseSecuredPdu, STATUS_FRAME_PROFILE } from '../../can/secoc/index.ts';
import type { BankName } from './boot-record.ts';

/** Bootloader/application state as the periodic status frame reports it (can/canota.dbc, EcuState). */
export enum EcuState {
  Running = 0,
  ProgrammingSession = 1,
  Erasing = 2,
  Programming = 3,
  Verifying = 4,
  Resetting = 5,
  Error = 6,
  /** A non-default, non-programming session (extended diagnostics: e.g. the CGW's approval routines). */
  ExtendedSession = 7,
}

/**
 * One ECU's periodic status: the Authentic I-PDU of `<ECU>_Status` (can/canota.dbc), 4 bytes:
 * bytes 0–2 major/minor/patch; byte 3 EcuState (bits 0–2), ActiveBank (3), TrialPending (4),
 * LastBootRolledBack (5), VehicleMoving (6), bit 7 reserved (sent 0, ignored).
 */
export interface EcuStatus {
  /** Running software version, major.minor.patch each 0..255 (other version text reports as 0.0.0). */
  version: [number, number, number];
  state: EcuState;
  activeBank: BankName;
  trialPending: boolean;
  lastBootRolledBack: boolean;
  /** Set only by the vehicle's motion source (config `motionSource`): the vehicle is driving. */
  vehicleMoving: boolean;
}

/** Bytes of the status payload; with the 8-bit freshness and the 24-bit MAC the frame has 8 (classic CAN). */
export const STATUS_PAYLOAD_BYTES = 4;
export const STATUS_FRAME_BYTES = 8;

export class StatusFrameError extends Error {
  override name = 'StatusFrameError';
}

/** "2.10.3" → [2, 10, 3]; parts beyond 255 or non-numeric text cannot be carried and read as 0. */
export function versionTriple(version: string | null): [number, number, number] {
  const parts = (version ?? '').split(/[.+-]/).slice(0, 3).map((part) => Number.parseInt(part, 10));
  const triple = [0, 1, 2].map((i) => {
    const value = parts[i];
    return value !== undefined && Number.isInteger(value) && value >= 0 && value <= 255 ? value : 0;
  });
  return triple as [number, number, number];
}

export function encodeStatusPayload(status: EcuStatus): Uint8Array {
  const data = new Uint8Array(STATUS_PAYLOAD_BYTES);
  data.set(status.version, 0);
  data[3] = (status.state & 0x07)
    | (status.activeBank === 'B' ? 0x08 : 0)
    | (status.trialPending ? 0x10 : 0)
    | (status.lastBootRolledBack ? 0x20 : 0)
    | (status.vehicleMoving ? 0x40 : 0);
  return data;
}

/** The status in a 4-byte payload (every bit pattern is a status: nothing to refuse but the length). */
export function decodeStatusPayload(payload: Uint8Array): EcuStatus {
  if (payload.length !== STATUS_PAYLOAD_BYTES) throw new StatusFrameError(`a status payload has ${STATUS_PAYLOAD_BYTES} bytes, got ${payload.length}`);
  const flags = payload[3]!;
  return {
    version: [payload[0]!, payload[1]!, payload[2]!],
    state: (flags & 0x07) as EcuState,
    activeBank: (flags & 0x08) ? 'B' : 'A',
    trialPending: (flags & 0x10) !== 0,
    lastBootRolledBack: (flags & 0x20) !== 0,
    vehicleMoving: (flags & 0x40) !== 0,
  };
}

/**
 * The 8 data bytes of `<ECU>_Status`: payload ‖ low byte of `freshness` ‖ 24-bit MAC (SecOC status-frame
 * profile) under the ECU's `status:<ECU>` key, with the CAN id as the Data Identifier.
 */
export function encodeStatusFrame(key: Uint8Array, canId: number, status: EcuStatus, freshness: bigint): Uint8Array {
  return buildSecuredPdu(key, canId, encodeStatusPayload(status), freshness, STATUS_FRAME_PROFILE);
}

/**
 * What a status frame claims, NOT verified (for a bus monitor's display; receivers use a SecOcReceiver and
 * act only on its verified payload). Throws StatusFrameError for a frame that is not 8 bytes.
 */
export function readStatusFrame(data: Uint8Array): { status: EcuStatus; freshness: number; mac: Uint8Array } {
  const parts = data.length === STATUS_FRAME_BYTES ? parseSecuredPdu(data, STATUS_FRAME_PROFILE, STATUS_PAYLOAD_BYTES) : null;
  if (!parts) throw new StatusFrameError(`a status frame has ${STATUS_FRAME_BYTES} bytes, got ${data.length}`);
  return { status: decodeStatusPayload(parts.authenticPdu), freshness: Number(parts.truncatedFreshness), mac: parts.truncatedMac };
}
