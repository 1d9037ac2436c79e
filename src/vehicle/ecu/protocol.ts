import type { BankName, BankState, BootEvent } from './boot-record.ts';

/**
 * The bootloader's side of docs/vehicle-protocol.md that both ends need: data identifiers, routine ids,
 * the security level, and the encodings of the check result and the boot state. The ECU (bootloader.ts)
 * and the tester (tmu/flash-session.ts) import these, so the two cannot drift apart.
 */
export const BootloaderDid = {
  /** Running software version, ASCII. */
  SoftwareVersion: 0xf189,
  /** VIN, 17 ASCII characters. */
  Vin: 0xf190,
  /** Hardware id, ASCII (matched against a manifest's `hardware_id`). */
  HardwareId: 0xf191,
  /** ECU name, ASCII. */
  EcuName: 0xf18c,
  /** Boot state, JSON (BootState). */
  BootState: 0xf1a0,
  /** SHA-256 of the running image, 32 raw bytes. */
  ImageSha256: 0xf1a1,
} as const;

export const BootloaderRoutine = {
  EraseMemory: 0xff00,
  CheckProgrammingDependencies: 0xff01,
  /** Option record: empty, or an authenticated rollback order (needed once the running image is confirmed). */
  Rollback: 0xff02,
  /** Confirms the running image: no rollback from it without an authenticated order; the floor rises to it. */
  ConfirmImage: 0xff03,
} as const;

/** The security level (requestSeed sub-function) flashing needs; its sendKey is 0x02. */
export const PROGRAMMING_SECURITY_LEVEL = 0x01;

/** RoutineControl status bytes of the bootloader's routines. */
export const RoutineStatus = { Ok: 0x00, Refused: 0x01 } as const;

/**
 * RequestDownload's dataFormatIdentifiers the bootloader knows (compressionMethod ‖ encryptingMethod; ISO
 * 14229-1 leaves the methods' meaning to the manufacturer). memorySize is always the image's own size.
 * Deflate: the image as one zlib stream (RFC 1950/1951), its window no larger than the ECU's
 * (`transfer.window` in the vehicle config: the stream's header says which it needs).
 * Xz (0x20): the image as one .xz stream (xz file format 1.x): ARM-Thumb BCJ then LZMA2, a dictionary no
 * larger than the ECU's `transfer.window` (the block header says which it needs), CRC32 or no check.
 * Delta (0x30): a VCDIFF delta (RFC 3284, made by xdelta3 -S none with the ECU's target window and the
 * application header `base-sha256=<hex>`) from the image the ECU runs to the new one; the ECU applies it
 * against its active bank while it writes the inactive one.
 */
export const TransferFormat = { Plain: 0x00, Deflate: 0x10, Xz: 0x20, Delta: 0x30 } as const;

/** The tester writes a download to this address: the start of the inactive bank. */
export const DOWNLOAD_ADDRESS = 0;

/** The ECU secret in the vehicle config is hex; both sides key the HMAC with its bytes. */
export function securitySecretBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** What 0xFF01 answered. */
export type CheckResult = { ok: true } | { ok: false; reason: string };

export function encodeCheckResult(result: CheckResult): Uint8Array {
  if (result.ok) return Uint8Array.of(RoutineStatus.Ok);
  return new Uint8Array(Buffer.concat([Uint8Array.of(RoutineStatus.Refused), Buffer.from(result.reason, 'utf8')]));
}

export function decodeCheckResult(status: Uint8Array): CheckResult {
  if (status.length === 0) throw new BootloaderProtocolError('0xFF01 answered without a status byte');
  if (status[0] === RoutineStatus.Ok) return { ok: true };
  if (status[0] === RoutineStatus.Refused) {
    const reason = Buffer.from(status.subarray(1)).toString('utf8');
    return { ok: false, reason: reason || 'refused without a reason' };
  }
  throw new BootloaderProtocolError(`0xFF01 answered with unknown status 0x${status[0]!.toString(16)}`);
}

/** One bank as 0xF1A0 reports it. */
export interface BankSummary {
  state: BankState;
  version: string | null;
  sha256: string | null;
  size: number;
  reason?: string;
}

/** 0xF1A0: what the ECU runs and how it got there. */
export interface BootState {
  ecu: string;
  active: BankName;
  version: string | null;
  sha256: string | null;
  /** Bootloader state (can/canota.dbc EcuState name): Running, ProgrammingSession, … */
  state: string;
  lastBoot: BootEvent | null;
  /** Counts every boot; the tester compares it across a reset to know the ECU really restarted. */
  bootCount: number;
  /** An activation or rollback armed for the next reset. */
  trialPending: boolean;
  /** The running image is confirmed (0xFF03): it can no longer be rolled back without an authenticated order. */
  confirmed: boolean;
  /** The anti-rollback floor: the newest version ever confirmed (null: none yet). */
  floor: string | null;
  banks: Record<BankName, BankSummary>;
}

export class BootloaderProtocolError extends Error {
  override name = 'BootloaderProtocolError';
}

export function encodeBootState(state: BootState): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(state), 'utf8'));
}

export function decodeBootState(bytes: Uint8Array): BootState {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new BootloaderProtocolError('0xF1A0 is not JSON');
  }
  const state = value as Partial<BootState> | null;
  if (!state || (state.active !== 'A' && state.active !== 'B') || typeof state.bootCount !== 'number' || !state.banks) {
    throw new BootloaderProtocolError('0xF1A0 lacks active bank, boot count or banks');
  }
  if (typeof state.confirmed !== 'boolean' || (state.floor !== null && typeof state.floor !== 'string')) {
    throw new BootloaderProtocolError('0xF1A0 lacks whether the image is confirmed, or the floor');
  }
  return state as BootState;
}

export const asciiBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'ascii'));
export const asciiText = (bytes: Uint8Array): string => Buffer.from(bytes).toString('ascii');
