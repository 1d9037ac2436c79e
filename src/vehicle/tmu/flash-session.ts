import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { createDeflate } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DiagnosticSessionType, NegativeResponseCode as Nrc, NegativeResponseError, ResetType, UdsTimeoutError, UdsTransportError,
  ServiceId, downloadImage, type DownloadOptions, type ImageSource, type UdsClient,
} from '../../can/uds/index.ts';
import { encodeManifest, type SignedManifest } from '../../crypto/manifest.ts';
import type { BankName, BootOutcome } from '../ecu/boot-record.ts';
import {
  BootloaderDid, BootloaderRoutine, DOWNLOAD_ADDRESS, PROGRAMMING_SECURITY_LEVEL, RoutineStatus, TransferFormat,
  asciiText, decodeBootState, decodeCheckResult, type BootState, type CheckResult,
} from '../ecu/protocol.ts';
import {
  EcuUnreachableError, FlashSessionError, FlashStepError, ImageRefusedError, type FlashPhase,
} from './flash-errors.ts';
import type { GrantPurpose } from '../keys/programming-grant.ts';
import type { ProgrammingAuthority } from './programming-authority.ts';
import { errorMessage } from '../../errors/error-message.ts';
import type { DeltaImage } from './delta-image.ts';
import type { CompressionMethod } from '../config.ts';
import { XzUnavailableError, startXzCompression } from './xz-compress.ts';

export interface FlashProgress {
  ecu: string;
  phase: FlashPhase;
  /** Image bytes acknowledged by the ECU (download), else 0. */
  bytes: number;
  /** Image size (download), else 0. */
  total: number;
  /** Of the current phase, 0-100. */
  percent: number;
}

export interface FlashSessionOptions {
  /** A UDS client on the ECU's physical ids (request/response); it and its channel stay the caller's. */
  client: UdsClient;
  /** The target ECU's name. */
  ecu: { name: string };
  /** The CGW, which alone makes the ECU's security-access keys and programming grants (for an approved update). */
  authority: ProgrammingAuthority;
  onProgress?: (progress: FlashProgress) => void;
  /** How long activate()/rollback() wait for the ECU to answer after its reset. Default 15 s. */
  rebootTimeoutMs?: number;
  /** Interval between attempts to reach a restarting ECU. Default 100 ms. */
  pollIntervalMs?: number;
  /** Cap on TransferData size below the ECU's maxNumberOfBlockLength. */
  maxBlockLength?: number;
  /**
   * Send images compressed with at most this window, the ECU's (`transfer.window` of the vehicle config), with
   * the first of `methods` (default deflate) the ECU takes: `xz` (dataFormatIdentifier 0x20), `deflate` (0x10).
   * A method the ECU refuses (NRC 0x31 to the 0x34), or xz when this system has no `xz`, is skipped from then
   * on; after the last one, plain. `xzCommand`: the xz program (default /usr/bin/xz). Null or absent: plain.
   */
  compression?: { window: number; methods?: readonly CompressionMethod[]; xzCommand?: string } | null;
  signal?: AbortSignal;
}

/**
 * The image to flash: a file (streamed, never read whole) or bytes already in memory; a file may come with a
 * delta from the image the ECU runs (sent instead when the ECU runs exactly its base), and with `ensure`
 * when only the delta was downloaded: it fetches the file, called once and only if the image must go.
 */
export type FlashImage = { path: string; delta?: DeltaImage; ensure?: () => Promise<void> } | Uint8Array;

export interface EcuIdentification {
  name: string;
  version: string;
  hardwareId: string;
  vin: string;
  bootState: BootState;
}

/** What an ECU runs after a reset. */
export interface BootReport {
  ecu: string;
  activeBank: BankName;
  version: string | null;
  sha256: string | null;
  /** The boot's outcome: `booted`, or `rolled-back` when the armed image failed its boot check. */
  outcome: BootOutcome;
  /** The ECU now runs the image that was armed (a checked image or a rollback target). */
  switched: boolean;
  /** The ECU's reason when it did not keep the armed image. */
  reason?: string;
  bootState: BootState;
}

/**
 * The tester's side of flashing one ECU (docs/vehicle-protocol.md), one UDS step per method so the TMU can
 * compose an all-or-nothing update of several ECUs: `program()` = programming session, security access,
 * erase (0xFF00), download (0x34/0x36/0x37), check (0xFF01); `activate()` = reset and learn what booted;
 * `rollback()` = 0xFF02 and reset. Failures are FlashSessionErrors naming the ECU and the step.
 *
 * ```ts
 * const session = new FlashSession({ client, ecu: ecuByName(config, 'EDT'), onProgress });
 * await session.program({ path: 'edt-2.0.0.bin' }, manifest);   // ImageRefusedError if the ECU says no
 * const boot = await session.activate();                        // boot.switched, boot.version
 * ```
 */
export class FlashSession {
  readonly ecu: string;
  readonly #client: UdsClient;
  readonly #options: FlashSessionOptions;
  /** Compression methods the ECU refused (NRC 0x31 to the 0x34) or the TMU cannot make: not tried again. */
  readonly #unavailable = new Set<CompressionMethod>();
  /** The ECU refused a delta download (NRC 0x31 to the 0x34): full images from now on. */
  #noDeltas = false;

  constructor(options: FlashSessionOptions) {
    this.#options = options;
    this.#client = options.client;
    this.ecu = options.ecu.name;
  }

  /** Reads name, version, hardware id, VIN and boot state (default session is enough). */
  async identify(): Promise<EcuIdentification> {
    return this.#step('identify', async () => {
      const read = async (did: number) => asciiText(await this.#client.readDataByIdentifier(did));
      return {
        name: await read(BootloaderDid.EcuName),
        version: await read(BootloaderDid.SoftwareVersion),
        hardwareId: await read(BootloaderDid.HardwareId),
        vin: await read(BootloaderDid.Vin),
        bootState: decodeBootState(await this.#client.readDataByIdentifier(BootloaderDid.BootState)),
      };
    });
  }

  async readBootState(): Promise<BootState> {
    return this.#step('identify', async () => decodeBootState(await this.#client.readDataByIdentifier(BootloaderDid.BootState)));
  }

  /** Session, security, erase, download, check. Throws ImageRefusedError with the ECU's reason on refusal. */
  async program(image: FlashImage, manifest: SignedManifest): Promise<void> {
    const delta = image instanceof Uint8Array ? undefined : image.delta;
    const ensure = image instanceof Uint8Array ? undefined : image.ensure;
    let fetched = false;
    const fetchImage = async (): Promise<void> => {
      if (!ensure || fetched) return;
      await this.#step('download', ensure);
      fetched = true;
    };
    // Only the delta was downloaded: without a usable one, fetch the image before the ECU waits in its programming session.
    if (ensure && !(delta && (await this.readBootState()).sha256 === delta.base.sha256)) await fetchImage();
    const grant = await this.openProgrammingSession('program');
    await this.erase(grant);
    if (!delta || !await this.downloadDelta(delta, manifest.signed.size)) {
      await fetchImage();
      await this.download(image);
    }
    const result = await this.check(manifest);
    if (!result.ok) throw new ImageRefusedError(this.ecu, result.reason);
  }

  /**
   * 0x10 02, then security access level 0x01: the ECU's seed goes to the CGW, which answers the key and a
   * grant for `purpose` (only for an ECU of the update the driver approved). Returns the grant.
   */
  async openProgrammingSession(purpose: GrantPurpose = 'access'): Promise<Uint8Array> {
    const client = this.#client;
    await this.#step('session', () => client.diagnosticSessionControl(DiagnosticSessionType.Programming));
    return this.#step('security', async () => {
      let seed = await client.requestSeed(PROGRAMMING_SECURITY_LEVEL);
      if (seed.every((byte) => byte === 0)) {
        // Already unlocked (zeros instead of a seed): a grant needs a fresh seed, so a fresh session.
        await client.diagnosticSessionControl(DiagnosticSessionType.Default);
        await client.diagnosticSessionControl(DiagnosticSessionType.Programming);
        seed = await client.requestSeed(PROGRAMMING_SECURITY_LEVEL);
      }
      const { key, grant } = await this.#options.authority.authorize({ ecu: this.ecu, purpose, seed });
      await client.sendKey(PROGRAMMING_SECURITY_LEVEL, key);
      return grant;
    });
  }

  /** 0x31 01 FF00 with the CGW's program grant: erases the inactive bank (the ECU answers 0x78 while it works). */
  async erase(grant: Uint8Array): Promise<void> {
    this.#progress('erase', 0, 0, 0);
    await this.#step('erase', async () => {
      const status = await this.#client.startRoutine(BootloaderRoutine.EraseMemory, grant);
      if (status[0] !== RoutineStatus.Ok) throw new FlashSessionError(this.ecu, 'erase', `erase answered status 0x${(status[0] ?? 0).toString(16)}`);
    });
    this.#progress('erase', 0, 0, 100);
  }

  /**
   * 0x34 / 0x36… / 0x37 into the erased inactive bank, streaming a file block by block: compressed when the
   * session was given the ECU's window, plain when it was not or the ECU refuses the compressed format.
   * `bytes` counts what went over the bus, `imageBytes` the image.
   */
  async download(image: FlashImage): Promise<DownloadReport> {
    const compression = this.#options.compression;
    for (const method of compression ? compression.methods ?? ['deflate'] : []) {
      if (this.#unavailable.has(method)) continue;
      try {
        return method === 'xz' ? await this.#downloadXz(image, compression!) : await this.#downloadCompressed(image, compression!.window);
      } catch (error) {
        // Refused before a byte was written (the 0x34 itself), or never sent: the bank is still erased.
        const refused = error instanceof FlashStepError && error.nrc === Nrc.RequestOutOfRange && refusedRequestDownload(error);
        if (!refused && !(error instanceof FlashStepError && error.cause instanceof XzUnavailableError)) throw error;
        this.#unavailable.add(method);
      }
    }
    const { source, size } = await this.#step('download', () => openImage(image));
    this.#progress('download', 0, size, 0);
    const result = await this.#step('download', () => downloadImage(this.#client, source, {
      ...this.#downloadOptions(size),
      onProgress: (bytes, total) => this.#progress('download', bytes, total, percentOf(bytes, total)),
    }));
    return { bytes: result.bytes, blocks: result.blocks, imageBytes: size, dataFormat: TransferFormat.Plain };
  }

  /**
   * 0x34 with 0x30 / 0x36… / 0x37: the delta, when the ECU runs its base (0xF1A0's SHA-256). False when the
   * full image must be sent instead, with the inactive bank erased and ready for it: the ECU runs another
   * image, takes no deltas (0x31 to the 0x34), or refused the delta's base at its first block (0x31, nothing
   * written); after any other failure (a corrupt delta, a window that fails its check) the bank holds part of
   * an image, so it is erased again with a new grant first.
   */
  async downloadDelta(delta: DeltaImage, imageSize: number): Promise<boolean> {
    if (this.#noDeltas) return false;
    const running = await this.readBootState();
    if (running.sha256 !== delta.base.sha256) return false;
    this.#progress('download', 0, imageSize, 0);
    try {
      await this.#step('download', () => downloadImage(this.#client, createReadStream(delta.path, { highWaterMark: 64 * 1024 }), {
        ...this.#downloadOptions(imageSize),
        dataFormat: TransferFormat.Delta,
        // Delta bytes acknowledged, as the share of the image they stand for.
        onProgress: (bytes) => this.#progress('download', Math.floor((Math.min(bytes, delta.size) / delta.size) * imageSize), imageSize,
          percentOf(bytes, delta.size)),
      }));
      return true;
    } catch (error) {
      if (!(error instanceof FlashStepError) || this.#options.signal?.aborted) throw error;
      if (error.nrc === Nrc.RequestOutOfRange) {
        if (refusedRequestDownload(error)) this.#noDeltas = true;
        return false;
      }
      await this.erase(await this.openProgrammingSession('program'));
      return false;
    }
  }

  /** The image as one .xz stream with 0x20, sent while xz compresses it (xz-compress.ts). */
  async #downloadXz(image: FlashImage, options: { window: number; xzCommand?: string }): Promise<DownloadReport> {
    const size = image instanceof Uint8Array ? image.length : (await this.#step('download', () => stat(image.path))).size;
    const xz = await this.#step('download', () => startXzCompression(image instanceof Uint8Array ? image : { path: image.path }, {
      window: options.window, ...(options.xzCommand ? { command: options.xzCommand } : {}),
    }));
    this.#progress('download', 0, size, 0);
    try {
      const result = await this.#step('download', () => downloadImage(this.#client, xz.chunks, {
        ...this.#downloadOptions(size),
        dataFormat: TransferFormat.Xz,
        // What the ECU acknowledged is compressed: progress counts the image bytes behind it.
        onProgress: (bytes) => {
          const imageBytes = xz.imageBytesFor(bytes);
          this.#progress('download', imageBytes, size, percentOf(imageBytes, size));
        },
      }));
      return { bytes: result.bytes, blocks: result.blocks, imageBytes: size, dataFormat: TransferFormat.Xz };
    } finally {
      xz.stop();
    }
  }

  async #downloadCompressed(image: FlashImage, window: number): Promise<DownloadReport> {
    const { source, size } = await this.#step('download', () => openImage(image));
    // Level 9 and the ECU's window: the ECU's inflater can keep up with anything, so spend the effort here.
    const deflate = createDeflate({ level: 9, windowBits: Math.log2(window), memLevel: 9 });
    const input = source instanceof Readable ? source : Readable.from([source as Uint8Array]);
    input.on('error', (error) => deflate.destroy(error));
    input.pipe(deflate);
    this.#progress('download', 0, size, 0);
    try {
      const result = await this.#step('download', () => downloadImage(this.#client, deflate, {
        ...this.#downloadOptions(size),
        dataFormat: TransferFormat.Deflate,
        // What the ECU acknowledged is compressed; the image bytes behind it are what the deflater consumed.
        onProgress: () => this.#progress('download', Math.min(deflate.bytesWritten, size), size, percentOf(deflate.bytesWritten, size)),
      }));
      return { bytes: result.bytes, blocks: result.blocks, imageBytes: size, dataFormat: TransferFormat.Deflate };
    } finally {
      input.destroy();
      deflate.destroy();
    }
  }

  #downloadOptions(size: number): DownloadOptions {
    return {
      memoryAddress: DOWNLOAD_ADDRESS,
      memorySize: size,
      addressLength: 4,
      sizeLength: 4,
      ...(this.#options.maxBlockLength ? { maxBlockLength: this.#options.maxBlockLength } : {}),
      ...(this.#options.signal ? { signal: this.#options.signal } : {}),
    };
  }

  /** 0x31 01 FF01 with the signed manifest: the ECU checks length, SHA-256, signature, target and version. */
  async check(manifest: SignedManifest): Promise<CheckResult> {
    this.#progress('check', 0, 0, 0);
    const result = await this.#step('check', async () =>
      decodeCheckResult(await this.#client.startRoutine(BootloaderRoutine.CheckProgrammingDependencies, encodeManifest(manifest))));
    this.#progress('check', 0, 0, 100);
    return result;
  }

  /**
   * Programming session and security (a reset needs both), then 0x11 01: the ECU activates the checked image
   * and boots; reports what actually runs afterwards.
   */
  async activate(): Promise<BootReport> {
    await this.openProgrammingSession();
    return this.#resetAndReport();
  }

  /**
   * Undoes an activation (all-or-nothing across ECUs): programming session, security, 0x31 01 FF02 (the
   * ECU arms its previous image), reset. A FlashStepError with nrc 0x22 means there is nothing to roll back to.
   */
  async rollback(): Promise<BootReport> {
    const order = await this.openProgrammingSession('rollback');
    this.#progress('rollback', 0, 0, 0);
    await this.#step('rollback', async () => {
      const status = await this.#client.startRoutine(BootloaderRoutine.Rollback, order);
      if (status[0] !== RoutineStatus.Ok) throw new FlashSessionError(this.ecu, 'rollback', `rollback answered status 0x${(status[0] ?? 0).toString(16)}`);
    });
    return this.#resetAndReport();
  }

  /**
   * Programming session, security, 0x31 01 FF03: the ECU confirms the image it runs (from then on no rollback
   * without an authenticated order, and nothing older than it is accepted), then back to the default session.
   */
  async confirm(): Promise<void> {
    await this.openProgrammingSession();
    this.#progress('confirm', 0, 0, 0);
    await this.#step('confirm', async () => {
      const status = await this.#client.startRoutine(BootloaderRoutine.ConfirmImage);
      if (status[0] !== RoutineStatus.Ok) throw new FlashSessionError(this.ecu, 'confirm', `confirm answered status 0x${(status[0] ?? 0).toString(16)}`);
      // Done with this ECU: the keep-alive would otherwise hold its programming session open.
      await this.#client.diagnosticSessionControl(DiagnosticSessionType.Default);
    });
    this.#progress('confirm', 0, 0, 100);
  }

  async #resetAndReport(): Promise<BootReport> {
    const before = await this.readBootState();
    this.#progress('reset', 0, 0, 0);
    await this.#step('reset', () => this.#client.ecuReset(ResetType.HardReset));
    const after = await this.#waitForBoot(before.bootCount);
    this.#progress('reset', 0, 0, 100);
    const outcome = after.lastBoot?.outcome ?? 'booted';
    const report: BootReport = {
      ecu: this.ecu,
      activeBank: after.active,
      version: after.version,
      sha256: after.sha256,
      outcome,
      switched: outcome === 'booted' && after.active !== before.active,
      bootState: after,
    };
    if (after.lastBoot?.reason) report.reason = after.lastBoot.reason;
    return report;
  }

  /** Polls 0xF1A0 until the ECU answers with a boot count above `bootCount` (a reboot really happened). */
  async #waitForBoot(bootCount: number): Promise<BootState> {
    const timeoutMs = this.#options.rebootTimeoutMs ?? 15_000;
    const deadline = performance.now() + timeoutMs;
    let last: unknown;
    while (performance.now() < deadline) {
      this.#options.signal?.throwIfAborted();
      try {
        const state = decodeBootState(await this.#client.readDataByIdentifier(BootloaderDid.BootState));
        if (state.bootCount > bootCount) return state;
        last = `still boot count ${state.bootCount}`;
      } catch (error) {
        // Silence (timeouts) and "busy" are what a restarting ECU looks like; anything else is a real answer.
        const restarting = error instanceof UdsTimeoutError || error instanceof UdsTransportError
          || (error instanceof NegativeResponseError && error.nrc === Nrc.BusyRepeatRequest);
        if (!restarting) throw new FlashStepError(this.ecu, 'reset', error);
        last = error;
      }
      await sleep(this.#options.pollIntervalMs ?? 100);
    }
    throw new EcuUnreachableError(this.ecu, 'reset',
      `no answer within ${timeoutMs} ms after the reset${last === undefined ? '' : ` (${errorMessage(last)})`}`);
  }

  async #step<T>(step: FlashPhase, action: () => Promise<T>): Promise<T> {
    this.#options.signal?.throwIfAborted();
    try {
      return await action();
    } catch (error) {
      if (error instanceof FlashSessionError) throw error;
      if (this.#options.signal?.aborted) throw error;
      throw new FlashStepError(this.ecu, step, error);
    }
  }

  #progress(phase: FlashPhase, bytes: number, total: number, percent: number): void {
    this.#options.onProgress?.({ ecu: this.ecu, phase, bytes, total, percent });
  }
}

/** What one download carried. */
export interface DownloadReport {
  /** Bytes sent in TransferData. */
  bytes: number;
  blocks: number;
  /** The image's own size (memorySize). */
  imageBytes: number;
  /** The dataFormatIdentifier used (TransferFormat). */
  dataFormat: number;
}

function percentOf(bytes: number, total: number): number {
  return total === 0 ? 100 : Math.min(100, Math.floor((bytes / total) * 100));
}

/** The step failed because the ECU refused the RequestDownload itself (not a later TransferData). */
function refusedRequestDownload(error: FlashStepError): boolean {
  return error.cause instanceof NegativeResponseError && error.cause.sid === ServiceId.RequestDownload;
}

async function openImage(image: FlashImage): Promise<{ source: ImageSource; size: number }> {
  if (image instanceof Uint8Array) return { source: image, size: image.length };
  const { size } = await stat(image.path);
  // Read lazily by downloadImage, one 64 KiB chunk at a time: a 1 GiB image costs what a 1 MiB one does.
  return { source: createReadStream(image.path, { highWaterMark: 64 * 1024 }), size };
}
