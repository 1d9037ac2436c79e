import type { Logger } from '../../../logging/logger.ts';

export type Addressing = 'physical' | 'functional';

/** What an application callback learns about the request it serves. */
export interface RequestContext {
  readonly session: number;
  /** The unlocked security level (a requestSeed sub-function value), or null while locked. */
  readonly securityLevel: number | null;
  readonly addressing: Addressing;
}

/** `'any'` accepts whichever level is unlocked; a number requires exactly that level. */
export type SecurityRequirement = number | 'any';

export interface DataIdentifierDefinition {
  read?: (context: RequestContext) => Uint8Array | Promise<Uint8Array>;
  write?: (data: Uint8Array, context: RequestContext) => void | Promise<void>;
  /** Exact length a write must have (else 0x13). */
  writeLength?: number;
  /** Sessions where the DID can be read / written; default all. */
  readSessions?: readonly number[];
  writeSessions?: readonly number[];
  readSecurity?: SecurityRequirement;
  writeSecurity?: SecurityRequirement;
}

/** A routine's handlers get the routineControlOptionRecord and return the status record (or nothing). */
export type RoutineHandler = (options: Uint8Array, context: RequestContext) => Uint8Array | void | Promise<Uint8Array | void>;

export interface RoutineDefinition {
  start?: RoutineHandler;
  stop?: RoutineHandler;
  results?: RoutineHandler;
  /** Sessions where the routine exists (else 0x31); default all. */
  sessions?: readonly number[];
  security?: SecurityRequirement;
}

export interface DownloadRequestInfo {
  memoryAddress: number;
  memorySize: number;
  dataFormat: number;
}

export interface DownloadHandlers {
  /** Longest TransferData request accepted, SID and counter included (announced in the 0x34 response). Default 4095. */
  maxNumberOfBlockLength?: number;
  /** dataFormatIdentifiers accepted (else 0x31: the tester may then fall back to another); default [0x00], plain data. */
  dataFormats?: readonly number[];
  /** Security level RequestDownload needs; default any unlocked level (when security is configured), null for none. */
  security?: SecurityRequirement | null;
  /** Accept or refuse (throw RequestRejectedError 0x31/0x70/0x22; any other error is answered 0x70). */
  onRequestDownload: (request: DownloadRequestInfo, context: RequestContext) => void | Promise<void>;
  /**
   * Store one block; throwing answers 0x72 (generalProgrammingFailure) and ends the download. `offset` counts
   * memory bytes. For a dataFormat other than 0x00 (compressed or encrypted) the block's length says nothing
   * about the memory it fills, so the handler returns how many memory bytes the block produced (its
   * length when it returns nothing): memorySize, the uncompressed size (ISO 14229-1 §14.2.2), is held to these.
   */
  onTransferData: (data: Uint8Array, position: { offset: number; blockSequenceCounter: number }, context: RequestContext) => number | void | Promise<number | void>;
  /** All data arrived; verify or finalise. Returns the transferResponseParameterRecord, if any. */
  onTransferExit?: (record: Uint8Array, context: RequestContext) => Uint8Array | void | Promise<Uint8Array | void>;
}

export interface SecurityOptions {
  /** The per-ECU secret keys are derived from (HMAC-SHA256). */
  secret: Uint8Array | string;
  /** Security levels (requestSeed sub-functions, odd) and the sessions where each may be unlocked. Default {1: extended+programming}. */
  levels?: Readonly<Record<number, { sessions?: readonly number[] }>>;
  seedLength?: number;
  keyLength?: number;
  /** Wrong keys in a row before the delay timer starts (answered 0x36). Default 3. */
  maxAttempts?: number;
  /** Delay after too many wrong keys, during which seeds are refused with 0x37. Default 10 s. */
  delayMs?: number;
  /** Delay after power-up before the first seed (ISO 14229-1 §10.4.2). Default 0. */
  bootDelayMs?: number;
  /** Replaces canota's HMAC key derivation. */
  computeKey?: (seed: Uint8Array, level: number) => Uint8Array;
  /**
   * Keeps the failed-attempt counter and the delay timer across resets and power losses (ISO 14229-1
   * §10.4.2: otherwise every reboot would grant fresh guesses). Without it they live in memory only.
   */
  attempts?: SecurityAttemptStore;
  /** Wall clock, epoch ms (persisted delays must outlive the process, so no monotonic clock). Default Date.now. */
  now?: () => number;
}

/** The security-access counters as they are persisted. */
export interface SecurityAttempts {
  /** Wrong keys in a row since the last right one or the last delay. */
  failedAttempts: number;
  /** Epoch ms until which seeds are refused with 0x37 (not after now: no delay runs). */
  delayedUntil: number;
}

/**
 * Where SecurityState keeps its attempts. `load` runs at every power-up (a new server) and is synchronous,
 * so a store reads its medium beforehand; it returns null when nothing was ever saved and throws when what
 * was saved cannot be read (the server then fails closed: the full delay). `save` completes before the
 * answer to a key goes out, so a reset right after a wrong key cannot undo it.
 */
export interface SecurityAttemptStore {
  load(): SecurityAttempts | null;
  save(attempts: SecurityAttempts): Promise<void>;
}

/** Where ECUReset may be requested; checked like any service (0x7F outside `sessions`, 0x33 locked). */
export interface ResetAccess {
  /** Sessions where ECUReset is served; default all (ISO 14229-1 allows a reset in any session). */
  sessions?: readonly number[];
  /** Security level it needs; default none. */
  security?: SecurityRequirement;
}

export interface ServerTiming {
  /** P2server_max, announced in the 0x10 response; the first NRC 0x78 goes out before it. Default 50 ms. */
  p2Ms?: number;
  /** P2*server_max, announced in the 0x10 response. Default 5000 ms. */
  p2StarMs?: number;
  /** S3server: a non-default session without requests for this long falls back to default. Default 5000 ms. */
  s3Ms?: number;
  /** Interval between further NRC 0x78 while a handler runs. Default P2. */
  responsePendingIntervalMs?: number;
}

export interface UdsServerOptions {
  timing?: ServerTiming;
  security?: SecurityOptions;
  dids?: Readonly<Record<number, DataIdentifierDefinition>> | ReadonlyMap<number, DataIdentifierDefinition>;
  routines?: Readonly<Record<number, RoutineDefinition>> | ReadonlyMap<number, RoutineDefinition>;
  download?: DownloadHandlers;
  /** ECUReset types supported (else 0x12). Default hard, keyOffOn, soft; none: ECUReset is not served at all (0x11). */
  resetTypes?: readonly number[];
  /** Session and security ECUReset needs. Default: any session, no security. */
  resetAccess?: ResetAccess;
  /**
   * Veto a reset before its positive response goes out (throw RequestRejectedError, e.g. 0x22 while the
   * vehicle moves): once answered positively, the reset happens.
   */
  canReset?: (resetType: number, context: RequestContext) => void | Promise<void>;
  /** Called after the positive 0x11 response went out; the session is back to default by then. */
  onReset?: (resetType: number) => void | Promise<void>;
  /** Veto a session change (throw RequestRejectedError, e.g. 0x22 while driving). */
  canEnterSession?: (session: number, context: RequestContext) => void | Promise<void>;
  /** Every session change, including an S3 timeout and a reset. */
  onSessionChange?: (session: number, previous: number) => void;
  onCommunicationControl?: (controlType: number, communicationType: number, context: RequestContext) => void | Promise<void>;
  onControlDtcSetting?: (on: boolean, context: RequestContext) => void | Promise<void>;
  /** Default: only group 0xFFFFFF (all) is accepted, and nothing is stored to clear. */
  onClearDiagnosticInformation?: (group: number, context: RequestContext) => void | Promise<void>;
  /** Largest number of DIDs in one 0x22 request (else 0x13). Default 16. */
  maxDidsPerRead?: number;
  logger?: Logger;
}
