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

/** One ECU's periodic status, as laid out in can/canota.dbc (`<ECU>_Status`, 8 bytes, little-endian bits). */
export interface EcuStatus {
  /** Running software version, major.minor.patch each 0..255 (other version text reports as 0.0.0). */
  version: [number, number, number];
  state: EcuState;
  activeBank: BankName;
  trialPending: boolean;
  lastBootRolledBack: boolean;
  bootCount: number;
  aliveCounter: number;
}

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

export function encodeStatusFrame(status: EcuStatus): Uint8Array {
  const data = new Uint8Array(8);
  data.set(status.version, 0);
  data[3] = status.state;
  data[4] = (status.activeBank === 'B' ? 1 : 0) | (status.trialPending ? 2 : 0) | (status.lastBootRolledBack ? 4 : 0);
  data[5] = status.bootCount & 0xff;
  data[6] = status.aliveCounter & 0xff;
  data[7] = crc8SaeJ1850(data.subarray(0, 7));
  return data;
}

export function decodeStatusFrame(data: Uint8Array): EcuStatus {
  if (data.length !== 8) throw new StatusFrameError(`a status frame has 8 bytes, got ${data.length}`);
  if (crc8SaeJ1850(data.subarray(0, 7)) !== data[7]) throw new StatusFrameError('status frame CRC mismatch');
  const state = data[3]!;
  if (!(state in EcuState)) throw new StatusFrameError(`unknown ECU state ${state}`);
  return {
    version: [data[0]!, data[1]!, data[2]!],
    state,
    activeBank: (data[4]! & 1) ? 'B' : 'A',
    trialPending: (data[4]! & 2) !== 0,
    lastBootRolledBack: (data[4]! & 4) !== 0,
    bootCount: data[5]!,
    aliveCounter: data[6]!,
  };
}

/** CRC-8/SAE-J1850 (poly 0x1D, init 0xFF, xorout 0xFF), the AUTOSAR E2E profile 1/2 checksum. */
export function crc8SaeJ1850(bytes: Uint8Array): number {
  let crc = 0xff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x1d) & 0xff : (crc << 1) & 0xff;
  }
  return crc ^ 0xff;
}
