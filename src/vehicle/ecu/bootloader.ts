import type { KeyObject } from 'node:crypto';
import type { Logger } from '../../logging/logger.ts';
import {
  DiagnosticSessionType, NegativeResponseCode as Nrc, RequestRejectedError, UdsServer,
  type DataIdentifierDefinition, type RoutineDefinition, type SecurityAttemptStore, type ServerTiming, type UdsServerOptions,
} from '../../can/uds/index.ts';
import { ALWAYS_STOPPED, type VehicleCondition } from './vehicle-condition.ts';
import { EcuError } from './errors.ts';
import { FlashError, type BankWriter, type FlashBanks } from './flash-banks.ts';
import { InflatingWriter, type DecoderMemory } from './inflating-writer.ts';
import { XzWriter } from './xz-writer.ts';
import { patchingWriterFor, type DeltaOptions } from './delta-download.ts';
import { DeltaBaseMismatchError, PatchingWriter } from './patching-writer.ts';
import type { VcdiffMemory } from './vcdiff-decoder.ts';
import {
  BootloaderRoutine, DOWNLOAD_ADDRESS, PROGRAMMING_SECURITY_LEVEL, RoutineStatus, TransferFormat,
  encodeCheckResult, type BootState, type CheckResult,
} from './protocol.ts';
import { ReleaseRefusedError, checkRelease } from './release-check.ts';
import { EcuState } from './status-frame.ts';
import { bootStateOf, identificationDids, type EcuIdentity } from './identification.ts';
import { securityAccessKey, verifyGrant, type GrantFields } from '../keys/programming-grant.ts';

/** 64 KiB of image data per TransferData, plus its SID and block sequence counter. */
export const DEFAULT_MAX_BLOCK_LENGTH = 0x10000 + 2;
export type { EcuIdentity };

type IdTable<T> = Readonly<Record<number, T>> | ReadonlyMap<number, T>;

/**
 * What a component built on an ECU adds to its diagnostic server (the CGW adds the approval routines
 * 0xF001/0xF002 and its own DIDs). Ids the bootloader itself serves cannot be replaced.
 */
export interface BootloaderExtensions {
  dids?: IdTable<DataIdentifierDefinition>;
  routines?: IdTable<RoutineDefinition>;
  /** Called after the bootloader's own handling of every session change (including S3 timeouts and resets). */
  onSessionChange?: (session: number, previous: number) => void;
}

export interface BootloaderOptions extends BootloaderExtensions {
  banks: FlashBanks;
  identity: EcuIdentity;
  /**
   * The ECU's `grant:<NAME>` key, shared with the CGW alone (src/vehicle/keys/): the security-access key for a
   * seed and the programming grants are made with it, so only the CGW, for an update the driver approved,
   * can let a tester program this ECU.
   */
  grantKey: Uint8Array;
  /** Release signing keys the ECU trusts; empty: signatures are not checked. */
  trustedKeys: readonly KeyObject[];
  timing?: ServerTiming;
  /**
   * maxNumberOfBlockLength announced for downloads (SID and counter included). Default 64 KiB of data + 2:
   * every block costs a round trip (FF, FC, response) that crosses the gateway twice, so small blocks waste
   * the bus (bench:vehicle: 4095-byte blocks reach 0.80 of the FD limit through the CGW, 64 KiB blocks 0.95).
   */
  maxBlockLength?: number;
  logger?: Logger;
  /**
   * Compressed downloads (dataFormatIdentifier 0x10, deflate) the bootloader decompresses while it programs,
   * with a window of at most `window` bytes (512 B to 32 KiB); null or absent: plain downloads only (a
   * compressed one is refused with NRC 0x31, and the tester falls back to plain).
   */
  decompression?: { window: number; pageSize?: number } | null;
  /**
   * Compressed downloads as .xz (dataFormatIdentifier 0x20: ARM-Thumb BCJ + LZMA2), decompressed while it
   * programs with a dictionary of at most `window` bytes (4 KiB or more); null or absent: refused with NRC 0x31
   * (the tester falls back to deflate, then plain).
   */
  xz?: { window: number; pageSize?: number } | null;
  /**
   * Delta downloads (dataFormatIdentifier 0x30, VCDIFF) applied against the running image, with target windows
   * of at most `window` bytes; null or absent: refused with NRC 0x31 (the tester sends the full image).
   */
  delta?: DeltaOptions | null;
  /**
   * The ECU must restart now: the positive 0x11 response is out and an activation is armed if there was
   * one. Called synchronously; the caller takes the ECU off the bus before it returns.
   */
  onRestart: (resetType: number) => void;
  /**
   * Whether the vehicle stands still: a reset and the programming session interrupt what the ECU does, so
   * they wait for it (NRC 0x22). Default ALWAYS_STOPPED.
   */
  vehicleCondition?: VehicleCondition;
  /** Keeps the security-access attempts and delay across resets and power losses (the ECU's security-access.json). */
  securityAttempts?: SecurityAttemptStore;
  /** Wall clock (epoch ms) of the security-access delay. Default Date.now. */
  now?: () => number;
  /**
   * Accepts an authenticated rollback order (0xFF02's option record) for a confirmed image. Default: the
   * CGW's rollback grant for this session's seed (src/vehicle/keys/programming-grant.ts); nothing else.
   */
  authorizeRollback?: (order: Uint8Array) => boolean | Promise<boolean>;
}

type Activity = 'erasing' | 'programming' | 'verifying' | 'resetting';

/** What the last download of this power cycle carried, and what decoding it cost the ECU. */
export interface TransferStatistics {
  dataFormat: number;
  /** Bytes that came over the bus (TransferData payloads). */
  transferred: number;
  /** Image bytes written to the bank. */
  imageBytes: number;
  /** The decoder's working memory at its largest (null for plain data: nothing is decoded). */
  decoderMemory: DecoderMemory | VcdiffMemory | null;
}

const PROGRAMMING_ONLY = [DiagnosticSessionType.Programming];

/**
 * The bootloader of one ECU for one power cycle (docs/vehicle-protocol.md): a UDS server whose DIDs,
 * routines and download handlers operate the ECU's A/B flash. What a power cycle forgets (an unfinished
 * download, a check passed but not yet activated) lives here; what must survive a crash lives in the
 * FlashBanks' boot record. A reset ends the instance: the ECU builds a new one after it booted.
 */
export class Bootloader {
  readonly server: UdsServer;
  readonly #banks: FlashBanks;
  readonly #options: BootloaderOptions;
  readonly #logger: Logger | undefined;
  #activity: Activity | null = null;
  #failed = false;
  #writer: BankWriter | InflatingWriter | XzWriter | PatchingWriter | null = null;
  #transfer: TransferStatistics | null = null;
  /** A complete image arrived in the inactive bank during this power cycle. */
  #downloaded = false;
  /** 0xFF01 accepted the inactive bank during this power cycle: the next reset activates it. */
  #checked = false;
  /** The seed whose key unlocked security access in this session: grants must be bound to it. */
  #unlockSeed: Uint8Array | null = null;
  /** The CGW's program grant accepted at this session's erase: the download and the check are held to it. */
  #grant: GrantFields | null = null;
  /** A grant was spent in this session (one erase per grant: the next needs a new seed, so a new grant). */
  #grantSpent = false;

  constructor(options: BootloaderOptions) {
    this.#options = options;
    this.#banks = options.banks;
    this.#logger = options.logger;
    this.server = new UdsServer(this.#serverOptions());
  }

  /** The bootloader's state as the status frame and 0xF1A0 report it. */
  get state(): EcuState {
    switch (this.#activity) {
      case 'erasing': return EcuState.Erasing;
      case 'programming': return EcuState.Programming;
      case 'verifying': return EcuState.Verifying;
      case 'resetting': return EcuState.Resetting;
      default:
        if (this.#failed) return EcuState.Error;
        switch (this.server.session) {
          case DiagnosticSessionType.Default: return EcuState.Running;
          case DiagnosticSessionType.Programming: return EcuState.ProgrammingSession;
          default: return EcuState.ExtendedSession;
        }
    }
  }

  bootState(): BootState {
    return bootStateOf(this.#banks, this.#options.identity, this.state);
  }

  /** The download in progress or last finished in this power cycle, or null. */
  get transferStatistics(): TransferStatistics | null {
    const transfer = this.#transfer;
    if (!transfer) return null;
    const writer = this.#writer;
    const decoderMemory = writer instanceof InflatingWriter || writer instanceof XzWriter || writer instanceof PatchingWriter
      ? writer.memory : transfer.decoderMemory;
    return { ...transfer, ...(writer ? { imageBytes: writer.written } : {}), decoderMemory };
  }


  /** Takes the bootloader off the bus (power off): the server stops, an unfinished download is dropped. */
  async shutdown(): Promise<void> {
    const closing = this.server.close();
    this.#dropWriter();
    await closing;
  }

  #serverOptions(): UdsServerOptions {
    const { identity, timing } = this.#options;
    const banks = this.#banks;
    const programming = { sessions: PROGRAMMING_ONLY, security: PROGRAMMING_SECURITY_LEVEL };
    const dids = identificationDids(banks, identity, () => this.state);
    const routines = new Map<number, RoutineDefinition>([
      [BootloaderRoutine.EraseMemory, { ...programming, start: (grant) => this.#erase(grant) }],
      [BootloaderRoutine.CheckProgrammingDependencies, { ...programming, start: (manifest) => this.#check(manifest) }],
      [BootloaderRoutine.Rollback, { ...programming, start: (order) => this.#armRollback(order) }],
      [BootloaderRoutine.ConfirmImage, { ...programming, start: () => this.#confirm() }],
    ]);
    merge('DID', dids, this.#options.dids);
    merge('routine', routines, this.#options.routines);
    return {
      timing: { p2Ms: 50, p2StarMs: 5000, s3Ms: 5000, responsePendingIntervalMs: 1000, ...timing },
      security: {
        secret: this.#options.grantKey,
        // Records the seed it answers for: when the key matches, that seed unlocked the session (an unlocked
        // level answers seeds of zeros and takes no key), and the program grant must carry it.
        computeKey: (seed) => {
          this.#unlockSeed = new Uint8Array(seed);
          return securityAccessKey(this.#options.grantKey, this.#options.identity.name, seed);
        },
        levels: { [PROGRAMMING_SECURITY_LEVEL]: { sessions: [DiagnosticSessionType.Programming, DiagnosticSessionType.ExtendedDiagnostic] } },
        ...(this.#options.securityAttempts ? { attempts: this.#options.securityAttempts } : {}),
        ...(this.#options.now ? { now: this.#options.now } : {}),
      },
      dids,
      routines,
      download: {
        maxNumberOfBlockLength: this.#options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH,
        security: PROGRAMMING_SECURITY_LEVEL,
        dataFormats: [
          ...(this.#options.decompression ? [TransferFormat.Plain, TransferFormat.Deflate] : [TransferFormat.Plain]),
          ...(this.#options.xz ? [TransferFormat.Xz] : []),
          ...(this.#options.delta ? [TransferFormat.Delta] : []),
        ],
        onRequestDownload: ({ memoryAddress, memorySize, dataFormat }) => this.#beginDownload(memoryAddress, memorySize, dataFormat),
        onTransferData: (data, { offset }) => this.#program(data, offset),
        onTransferExit: () => this.#endDownload(),
      },
      // Only a tester that may flash may reboot the ECU, and not while the vehicle moves (issue 10: `11 01`
      // from any node used to reboot it, and each reboot cleared the security-access lockout).
      resetAccess: { sessions: [DiagnosticSessionType.Programming, DiagnosticSessionType.ExtendedDiagnostic], security: PROGRAMMING_SECURITY_LEVEL },
      canReset: () => this.#requireStopped('ECU reset'),
      canEnterSession: (session) => {
        if (session === DiagnosticSessionType.Programming) this.#requireStopped('programming session');
      },
      onReset: (resetType) => this.#reset(resetType),
      onSessionChange: (session, previous) => {
        // Leaving a session ends a download (ServerState aborts its side; the bank file is ours to close).
        this.#dropWriter();
        this.#unlockSeed = null;
        this.#grant = null;
        this.#grantSpent = false;
        if (session === DiagnosticSessionType.Default) this.#failed = false;
        this.#options.onSessionChange?.(session, previous);
      },
      ...(this.#logger ? { logger: this.#logger } : {}),
    };
  }

  async #erase(grantBytes: Uint8Array): Promise<Uint8Array> {
    if (this.#writer) {
      throw new RequestRejectedError(Nrc.RequestSequenceError, 'a download is in progress; finish it or restart the programming session');
    }
    this.#acceptGrant(grantBytes);
    this.#downloaded = false;
    this.#checked = false;
    this.#failed = false;
    this.#activity = 'erasing';
    try {
      await this.#banks.eraseInactive();
    } catch (error) {
      throw this.#refusal(error, Nrc.ConditionsNotCorrect);
    } finally {
      this.#activity = null;
    }
    this.#logger?.info({ bank: this.#banks.inactive }, 'inactive bank erased');
    return Uint8Array.of(RoutineStatus.Ok);
  }

  async #beginDownload(memoryAddress: number, memorySize: number, dataFormat: number): Promise<void> {
    const banks = this.#banks;
    if (memoryAddress !== DOWNLOAD_ADDRESS) {
      throw new RequestRejectedError(Nrc.RequestOutOfRange, `downloads start at address ${DOWNLOAD_ADDRESS} (the inactive bank), not 0x${memoryAddress.toString(16)}`);
    }
    const approved = this.#grant?.image;
    if (!approved) throw new RequestRejectedError(Nrc.ConditionsNotCorrect, 'no programming grant in this session: erase with the CGW\'s grant first');
    if (memorySize !== approved.size) {
      throw new RequestRejectedError(Nrc.RequestOutOfRange, `${memorySize} bytes announced, but the driver approved a ${approved.size}-byte image`);
    }
    if (memorySize > banks.bankSize) {
      throw new RequestRejectedError(Nrc.RequestOutOfRange, `${memorySize} bytes do not fit the ${banks.bankSize}-byte bank`);
    }
    const bank = banks.inactiveBank;
    if (bank.state !== 'erased') {
      throw new RequestRejectedError(Nrc.ConditionsNotCorrect, `bank ${banks.inactive} is ${bank.state}, not erased: erase it first (0x31 01 FF00)`);
    }
    this.#downloaded = false;
    this.#checked = false;
    if (dataFormat === TransferFormat.Delta && this.#options.delta) {
      // The bank stays erased until the delta names the running image as its base (patching-writer.ts).
      try {
        this.#writer = patchingWriterFor(banks, memorySize, this.#options.delta);
      } catch (error) {
        throw this.#refusal(error, Nrc.ConditionsNotCorrect);
      }
      this.#transfer = { dataFormat, transferred: 0, imageBytes: 0, decoderMemory: null };
      this.#activity = 'programming';
      this.#logger?.info({ bank: banks.inactive, bytes: memorySize, dataFormat, base: banks.activeBank.version }, 'download started');
      return;
    }
    let writer: BankWriter;
    try {
      writer = await banks.beginProgramming(memorySize);
    } catch (error) {
      throw this.#refusal(error, Nrc.ConditionsNotCorrect);
    }
    const decompression = this.#options.decompression;
    const xz = this.#options.xz;
    this.#writer = dataFormat === TransferFormat.Deflate && decompression ? new InflatingWriter(writer, decompression)
      : dataFormat === TransferFormat.Xz && xz ? new XzWriter(writer, xz) : writer;
    this.#transfer = { dataFormat, transferred: 0, imageBytes: 0, decoderMemory: null };
    this.#activity = 'programming';
    this.#logger?.info({ bank: banks.inactive, bytes: memorySize, dataFormat }, 'download started');
  }

  /** Writes one block (decompressing it first for a compressed download); returns the image bytes it made. */
  async #program(data: Uint8Array, offset: number): Promise<number> {
    const writer = this.#writer;
    if (!writer) throw new RequestRejectedError(Nrc.RequestSequenceError, 'no download in progress');
    try {
      if (offset !== writer.written) throw new FlashError(`block at offset ${offset}, but ${writer.written} bytes are written`);
      if (this.#transfer) this.#transfer.transferred += data.length;
      if (writer instanceof InflatingWriter || writer instanceof XzWriter || writer instanceof PatchingWriter) return await writer.write(data);
      await writer.write(data);
      return data.length;
    } catch (error) {
      // The server answers 0x72 and ends the download; the bank stays `programming`, never bootable.
      this.#failed = true;
      this.#dropWriter();
      // A delta for another base: nothing was written (the bank is still erased), the tester may send the image.
      if (error instanceof DeltaBaseMismatchError) throw new RequestRejectedError(Nrc.RequestOutOfRange, error.message);
      throw error;
    }
  }

  async #endDownload(): Promise<void> {
    const writer = this.#writer;
    if (!writer) throw new RequestRejectedError(Nrc.RequestSequenceError, 'no download in progress');
    this.#writer = null;
    const transfer = this.#transfer;
    if (transfer) {
      transfer.imageBytes = writer.written;
      if (writer instanceof InflatingWriter || writer instanceof XzWriter || writer instanceof PatchingWriter) transfer.decoderMemory = writer.memory;
    }
    try {
      const sha256 = await writer.finish();
      this.#downloaded = true;
      this.#logger?.info({
        bank: this.#banks.inactive, bytes: writer.size, sha256,
        ...(transfer ? { dataFormat: transfer.dataFormat, transferred: transfer.transferred, decoderPeakBytes: transfer.decoderMemory?.peak ?? 0 } : {}),
      }, 'download complete');
    } catch (error) {
      this.#failed = true;
      throw error;
    } finally {
      this.#activity = null;
    }
  }

  async #check(manifestBytes: Uint8Array): Promise<Uint8Array> {
    const banks = this.#banks;
    if (this.#writer) throw new RequestRejectedError(Nrc.RequestSequenceError, 'the download has not ended (0x37)');
    // Only an image downloaded in full may be checked; a bank that merely holds an older verified image
    // (the one kept for rollback) must not be re-verified under a new manifest, nor invalidated by a wrong one.
    if (!this.#downloaded && banks.inactiveBank.state !== 'written') {
      throw new RequestRejectedError(Nrc.RequestSequenceError,
        `no downloaded image to check (bank ${banks.inactive} is ${banks.inactiveBank.state}): erase and download first`);
    }
    this.#checked = false;
    this.#activity = 'verifying';
    let result: CheckResult;
    try {
      result = await this.#verify(manifestBytes);
    } finally {
      this.#activity = null;
    }
    this.#checked = result.ok;
    this.#failed = !result.ok;
    if (result.ok) this.#logger?.info({ bank: banks.inactive, version: banks.inactiveBank.version }, 'image verified');
    else this.#logger?.warn({ bank: banks.inactive, reason: result.reason }, 'image refused');
    return encodeCheckResult(result);
  }

  async #verify(manifestBytes: Uint8Array): Promise<CheckResult> {
    const banks = this.#banks;
    const bank = banks.inactiveBank;
    if (bank.state === 'invalid') return { ok: false, reason: `bank ${banks.inactive} is invalid: ${bank.reason ?? 'unknown'}` };
    try {
      const { signed, release } = checkRelease(manifestBytes, {
        ecu: this.#options.identity.name,
        hardwareId: this.#options.identity.hardwareId,
        runningVersion: banks.activeBank.version,
        floor: banks.floor,
        trustedKeys: this.#options.trustedKeys,
      });
      await banks.verifyInactive({ sha256: release.sha256, size: release.size, version: release.firmware_version, manifest: signed });
      // The bytes are the manifest's (just re-read and hashed); they must also be what the driver approved.
      const approved = this.#grant?.image;
      if (!approved || approved.sha256 !== release.sha256 || approved.size !== release.size) {
        throw new ReleaseRefusedError(`the image is not the one the driver approved (grant: ${approved ? `${approved.sha256}, ${approved.size} bytes` : 'none in this session'})`);
      }
      return { ok: true };
    } catch (error) {
      if (error instanceof ReleaseRefusedError) {
        await banks.invalidateInactive(error.message);
        return { ok: false, reason: error.message };
      }
      // verifyInactive marked the bank invalid already.
      if (error instanceof FlashError) return { ok: false, reason: error.message };
      throw error;
    }
  }

  /**
   * 0xFF02: while the running image is unconfirmed, a rollback needs nothing more; once confirmed, the
   * option record must be an authenticated order that `authorizeRollback` accepts. Never below the floor.
   */
  async #armRollback(order: Uint8Array): Promise<Uint8Array> {
    const banks = this.#banks;
    const authorized = banks.confirmed && order.length > 0 && await this.#authorizeRollback(order);
    try {
      await banks.rollback({ authorized });
    } catch (error) {
      if (error instanceof FlashError) this.#logger?.warn({ reason: error.message }, 'rollback refused');
      throw this.#refusal(error, Nrc.ConditionsNotCorrect);
    }
    // The rollback is what the next reset boots, not a freshly checked image.
    this.#checked = false;
    this.#logger?.info({ bank: this.#banks.record.trial?.bank }, 'rollback armed for the next reset');
    return Uint8Array.of(RoutineStatus.Ok);
  }

  async #authorizeRollback(order: Uint8Array): Promise<boolean> {
    const authorize = this.#options.authorizeRollback;
    if (!authorize) {
      // The CGW's order: a rollback grant made with grant:<NAME> for the seed that unlocked this session.
      const verdict = verifyGrant(this.#options.grantKey, this.#options.identity.name, this.#unlockSeed, order);
      if (!verdict.ok || verdict.grant.purpose !== 'rollback') {
        this.#logger?.warn({ reason: verdict.ok ? `a ${verdict.grant.purpose} grant is no rollback order` : verdict.reason }, 'rollback order not accepted');
        return false;
      }
      return true;
    }
    try {
      return await authorize(order) === true;
    } catch (error) {
      this.#logger?.warn({ err: error }, 'rollback order not accepted');
      return false;
    }
  }

  /** 0xFF03: the running image stays; rollbacks from it need an authenticated order, and the floor rises. */
  async #confirm(): Promise<Uint8Array> {
    const banks = this.#banks;
    try {
      await banks.confirm();
    } catch (error) {
      throw this.#refusal(error, Nrc.ConditionsNotCorrect);
    }
    this.#logger?.info({ bank: banks.active, version: banks.activeBank.version, floor: banks.floor }, 'image confirmed');
    return Uint8Array.of(RoutineStatus.Ok);
  }

  async #reset(resetType: number): Promise<void> {
    this.#dropWriter();
    const banks = this.#banks;
    if (this.#checked && banks.inactiveBank.state === 'verified' && banks.record.trial === null) {
      try {
        await banks.activateInactive();
        this.#logger?.info({ bank: banks.inactive, version: banks.inactiveBank.version }, 'activation armed: booting the new image');
      } catch (error) {
        // The reset was promised (its positive response is out): restart on the old image; the tester sees no switch.
        this.#logger?.error({ err: error }, 'could not arm the activation; restarting on the running image');
      }
    }
    this.#checked = false;
    this.#activity = 'resetting';
    this.#options.onRestart(resetType);
  }

  /**
   * The erase's option record must be the CGW's program grant for this ECU, bound to the seed that unlocked
   * this session and naming an image; it is spent at once (docs/in-vehicle-security.md).
   */
  #acceptGrant(grantBytes: Uint8Array): void {
    if (this.#grantSpent) {
      throw new RequestRejectedError(Nrc.ConditionsNotCorrect, 'this session\'s grant is spent: unlock again and ask the CGW for a new one');
    }
    const verdict = verifyGrant(this.#options.grantKey, this.#options.identity.name, this.#unlockSeed, grantBytes);
    if (!verdict.ok) {
      this.#logger?.warn({ reason: verdict.reason }, 'erase refused: no valid programming grant');
      throw new RequestRejectedError(Nrc.SecurityAccessDenied, `programming needs the CGW's grant: ${verdict.reason}`);
    }
    if (verdict.grant.purpose !== 'program' || !verdict.grant.image) {
      throw new RequestRejectedError(Nrc.SecurityAccessDenied, `a ${verdict.grant.purpose} grant does not allow programming`);
    }
    this.#grant = verdict.grant;
    this.#grantSpent = true;
    this.#logger?.info({ sha256: verdict.grant.image.sha256, size: verdict.grant.image.size }, 'programming granted by the CGW');
  }

  #dropWriter(): void {
    const writer = this.#writer;
    if (!writer) return;
    this.#writer = null;
    if (this.#activity === 'programming') this.#activity = null;
    writer.abort().catch((error: unknown) => this.#logger?.warn({ err: error }, 'closing the bank after a dropped download failed'));
  }

  /** A FlashError is the ECU saying "not now / not like this": the tester gets `nrc`; anything else is a fault. */
  #refusal(error: unknown, nrc: Nrc): unknown {
    if (error instanceof FlashError) return new RequestRejectedError(nrc, error.message);
    return error;
  }

  /** Refuses (0x22) what would interrupt driving unless the vehicle is stopped. */
  #requireStopped(what: string): void {
    const reason = (this.#options.vehicleCondition ?? ALWAYS_STOPPED).drivingReason();
    if (reason === null) return;
    this.#logger?.warn({ reason }, `${what} refused: the vehicle is not stopped`);
    throw new RequestRejectedError(Nrc.ConditionsNotCorrect, `${what} refused while driving: ${reason}`);
  }
}

function merge<T>(what: string, own: Map<number, T>, extra: IdTable<T> | undefined): void {
  if (!extra) return;
  const entries = extra instanceof Map ? [...extra.entries()] : Object.entries(extra).map(([id, value]) => [Number(id), value as T] as const);
  for (const [id, value] of entries) {
    if (own.has(id)) throw new EcuError(`${what} 0x${id.toString(16).toUpperCase()} belongs to the bootloader and cannot be replaced`);
    own.set(id, value);
  }
}
