import { randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { encodeManifest, type SignedManifest } from '../../crypto/manifest.ts';
import type { EcuConfig, VehicleConfig } from '../config.ts';
import type { BankName } from '../ecu/boot-record.ts';
import { FlashError, type FlashBanks, type FlashTiming } from '../ecu/flash-banks.ts';
import type { BootState } from '../ecu/protocol.ts';
import { ReleaseRefusedError, checkRelease } from '../ecu/release-check.ts';
import { openEcuFlash, trustedKeysOf } from '../ecu/ecu-flash.ts';
import { ecuByName } from '../network.ts';
import { FlashSessionError, FlashStepError, ImageRefusedError, type FlashPhase } from './flash-errors.ts';
import type { BootReport, FlashProgress } from './flash-session.ts';
import type { ProgrammingAuthority } from './programming-authority.ts';
import { loadEcuKeys, type EcuKeys } from '../keys/ecu-keys.ts';
import { grantKeyName } from '../keys/key-plan.ts';
import { verifyGrant } from '../keys/programming-grant.ts';
import { ALWAYS_STOPPED, type VehicleCondition } from '../ecu/vehicle-condition.ts';

export interface LocalTargetOptions {
  config: VehicleConfig;
  /** The vehicle's state dir: the TMU's banks live in `<stateDir>/ecus/<TMU>/` like every ECU's. */
  stateDir: string;
  flashTiming?: FlashTiming;
  bankSize?: number;
  /** Like every ECU's bootloader, the TMU programs and reboots only while the vehicle is stopped. Default ALWAYS_STOPPED. */
  vehicleCondition?: VehicleCondition;
  /** The TMU's own keys, when the caller loaded them already (else read from its keys.json). */
  keys?: EcuKeys;
}

/**
 * The TMU updating itself: the same A/B banks, checks and boot rules as every ECU (FlashBanks and the
 * bootloader's release check), driven directly instead of over CAN. Like an ECU, a checked image is
 * activated only in the power cycle of its check: a TMU restarted in between programs it again.
 */
export class LocalTarget {
  readonly ecu: string;
  readonly config: EcuConfig;
  readonly banks: FlashBanks;
  readonly #trustedKeys: readonly KeyObject[];
  /** `grant:<TMU>`, shared with the CGW: the TMU's banks take an image only with the CGW's grant for it. */
  readonly #grantKey: Uint8Array;
  #checked = false;
  /**
   * Whether the vehicle is stopped: programming and every boot (activation, rollback) wait for it, as an
   * ECU's programming session and reset do. Set by the car once the TMU hears the motion source.
   */
  vehicleCondition: VehicleCondition = ALWAYS_STOPPED;
  #onProgress: ((progress: FlashProgress) => void) | undefined;

  private constructor(config: EcuConfig, banks: FlashBanks, trustedKeys: readonly KeyObject[], grantKey: Uint8Array) {
    this.#grantKey = grantKey;
    this.ecu = config.name;
    this.config = config;
    this.banks = banks;
    this.#trustedKeys = trustedKeys;
  }

  /** Opens (and boots) the TMU's banks, writing its factory image on first start. */
  static async open(options: LocalTargetOptions): Promise<LocalTarget> {
    const config = ecuByName(options.config, options.config.tester);
    const banks = await openEcuFlash(config, options.stateDir, {
      ...(options.bankSize !== undefined ? { bankSize: options.bankSize } : {}),
      ...(options.flashTiming !== undefined ? { flashTiming: options.flashTiming } : {}),
    });
    const keys = options.keys ?? await loadEcuKeys(options.config, options.stateDir, config.name);
    const local = new LocalTarget(config, banks, trustedKeysOf(options.config), keys.get(grantKeyName(config.name)));
    if (options.vehicleCondition) local.vehicleCondition = options.vehicleCondition;
    return local;
  }

  get version(): string | null {
    return this.banks.activeBank.version;
  }

  /** Progress of the next program/activate/rollback (the installation sets it per step). */
  set onProgress(listener: ((progress: FlashProgress) => void) | undefined) {
    this.#onProgress = listener;
  }

  async bootState(): Promise<BootState> {
    const record = this.banks.record;
    const summary = (bank: BankName) => {
      const { state, version, sha256, size, reason } = record.banks[bank];
      return { state, version, sha256, size, ...(reason ? { reason } : {}) };
    };
    const active = record.banks[record.active];
    return {
      ecu: this.ecu, active: record.active, version: active.version, sha256: active.sha256, state: 'Running',
      lastBoot: record.lastBoot, bootCount: record.bootCount, trialPending: record.trial !== null,
      confirmed: record.confirmed, floor: record.floor,
      banks: { A: summary('A'), B: summary('B') },
    };
  }

  /**
   * Like an ECU's bootloader, the TMU's banks take only the image the driver approved: a fresh challenge
   * goes to the CGW, whose grant (made with `grant:<TMU>`) must name exactly this image.
   */
  async program(image: { path: string }, manifest: SignedManifest, authority: ProgrammingAuthority): Promise<void> {
    this.#checked = false;
    this.#requireStopped('session');
    const approved = await this.#step('security', async () => {
      const seed = new Uint8Array(randomBytes(16));
      const { grant } = await authority.authorize({ ecu: this.ecu, purpose: 'program', seed });
      const verdict = verifyGrant(this.#grantKey, this.ecu, seed, grant);
      if (!verdict.ok) throw new FlashSessionError(this.ecu, 'security', `programming needs the CGW's grant: ${verdict.reason}`);
      if (verdict.grant.purpose !== 'program' || !verdict.grant.image) {
        throw new FlashSessionError(this.ecu, 'security', `a ${verdict.grant.purpose} grant does not allow programming`);
      }
      return verdict.grant.image;
    });
    const { size } = await this.#step('download', () => stat(image.path));
    if (size !== approved.size) throw new ImageRefusedError(this.ecu, `the image has ${size} bytes, but the driver approved ${approved.size}`);
    this.#progress('erase', 0, 0, 0);
    await this.#step('erase', () => this.banks.eraseInactive());
    this.#progress('erase', 0, 0, 100);
    await this.#download(image.path);
    this.#progress('check', 0, 0, 0);
    await this.#check(manifest, approved.sha256);
    this.#progress('check', 0, 0, 100);
    this.#checked = true;
  }

  async activate(): Promise<BootReport> {
    this.#requireStopped('reset');
    const checked = this.#checked && this.banks.inactiveBank.state === 'verified' && this.banks.record.trial === null;
    this.#checked = false;
    if (checked) await this.#step('reset', () => this.banks.activateInactive());
    return this.#boot();
  }

  /** Like 0xFF02: only while the running image is unconfirmed, never below the floor. */
  async rollback(): Promise<BootReport> {
    this.#requireStopped('rollback');
    this.#progress('rollback', 0, 0, 0);
    await this.#step('rollback', () => this.banks.rollback());
    return this.#boot();
  }

  /** Like 0xFF03: the running image stays, and the floor rises to its version. */
  async confirm(): Promise<void> {
    this.#progress('confirm', 0, 0, 0);
    await this.#step('confirm', () => this.banks.confirm());
    this.#progress('confirm', 0, 0, 100);
  }

  async #download(path: string): Promise<void> {
    const size = await this.#step('download', async () => (await stat(path)).size);
    const writer = await this.#step('download', () => this.banks.beginProgramming(size));
    this.#progress('download', 0, size, 0);
    let lastPercent = 0;
    await this.#step('download', async () => {
      try {
        for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) {
          await writer.write(chunk as Buffer);
          const percent = Math.floor((writer.written / size) * 100);
          if (percent !== lastPercent) {
            lastPercent = percent;
            this.#progress('download', writer.written, size, percent);
          }
        }
        await writer.finish();
      } catch (error) {
        await writer.abort();
        throw error;
      }
    });
  }

  async #check(manifest: SignedManifest, approvedSha256: string): Promise<void> {
    const banks = this.banks;
    let version: string;
    try {
      const { release } = checkRelease(encodeManifest(manifest), {
        ecu: this.ecu, hardwareId: this.config.hardwareId, runningVersion: banks.activeBank.version, floor: banks.floor,
        trustedKeys: this.#trustedKeys,
      });
      version = release.firmware_version;
      if (release.sha256 !== approvedSha256) throw new ReleaseRefusedError(`the image is not the one the driver approved (${approvedSha256})`);
      await banks.verifyInactive({ sha256: release.sha256, size: release.size, version, manifest });
    } catch (error) {
      if (error instanceof ReleaseRefusedError) {
        await banks.invalidateInactive(error.message);
        throw new ImageRefusedError(this.ecu, error.message);
      }
      // verifyInactive marked the bank invalid already.
      if (error instanceof FlashError) throw new ImageRefusedError(this.ecu, error.message);
      throw new FlashStepError(this.ecu, 'check', error);
    }
  }

  async #boot(): Promise<BootReport> {
    const before = this.banks.record;
    this.#progress('reset', 0, 0, 0);
    const event = await this.#step('reset', () => this.banks.boot());
    this.#progress('reset', 0, 0, 100);
    const after = await this.bootState();
    const report: BootReport = {
      ecu: this.ecu,
      activeBank: after.active,
      version: after.version,
      sha256: after.sha256,
      outcome: event.outcome,
      switched: event.outcome === 'booted' && after.active !== before.active,
      bootState: after,
    };
    if (event.reason) report.reason = event.reason;
    return report;
  }

  #requireStopped(step: FlashPhase): void {
    const reason = this.vehicleCondition.drivingReason();
    if (reason !== null) throw new FlashSessionError(this.ecu, step, `the vehicle is not stopped: ${reason}`);
  }

  async #step<T>(step: FlashPhase, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof FlashSessionError) throw error;
      throw new FlashStepError(this.ecu, step, error);
    }
  }

  #progress(phase: FlashPhase, bytes: number, total: number, percent: number): void {
    this.#onProgress?.({ ecu: this.ecu, phase, bytes, total, percent });
  }
}
