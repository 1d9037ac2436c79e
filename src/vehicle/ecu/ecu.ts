import type { KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Bus } from '../../can/bus/bus.ts';
import type { VirtualNetwork } from '../../can/bus/virtual.ts';
import type { ServerTiming } from '../../can/uds/index.ts';
import type { Logger } from '../../logging/logger.ts';
import { compressionMethods, type EcuConfig, type VehicleConfig } from '../config.ts';
import { connectToBus, ecuByName, isoTpFrameOptions } from '../network.ts';
import type { BootEvent, BootRecord } from './boot-record.ts';
import { Bootloader, type BootloaderExtensions, type TransferStatistics } from './bootloader.ts';
import { DEFAULT_DELTA_WINDOW } from './patching-writer.ts';
import { openEcuFlash, trustedKeysOf } from './ecu-flash.ts';
import type { FlashBanks, FlashTiming } from './flash-banks.ts';
import type { BootState } from './protocol.ts';
import { loadEcuKeys, type EcuKeys } from '../keys/ecu-keys.ts';
import { grantKeyName } from '../keys/key-plan.ts';
import { ecuStateDir } from './state-dir.ts';
import { StatusBroadcast } from './status-broadcast.ts';
import { EcuState, versionTriple, type EcuStatus } from './status-frame.ts';
import { StatusReceiver } from './status-receiver.ts';
import { vehicleConditionFor } from './motion-listener.ts';
import { SecurityAttemptsFile } from './security-attempts-file.ts';
import type { VehicleCondition } from './vehicle-condition.ts';

export interface EcuOptions extends BootloaderExtensions {
  config: VehicleConfig;
  /** Which of the config's ECUs this is. */
  name: string;
  /** The vehicle's state dir; this ECU's flash lives in `<stateDir>/ecus/<NAME>/`. */
  stateDir: string;
  /** In-process network for the `virtual` driver (tests give each car its own). */
  virtualNetwork?: VirtualNetwork;
  /** Use this bus connection instead of opening one; it stays the caller's to close. */
  bus?: Bus;
  logger?: Logger;
  /** Simulated restart after 0x11: the ECU is silent this long. Default 200 ms. */
  rebootMs?: number;
  /** Status frame period (can/canota.dbc: 100 ms); 0 sends none. */
  statusIntervalMs?: number;
  /** UDS server timing (P2, P2*, S3, 0x78 interval). */
  serverTiming?: ServerTiming;
  /** maxNumberOfBlockLength for downloads. Default 64 KiB + 2 (DEFAULT_MAX_BLOCK_LENGTH). */
  maxBlockLength?: number;
  /** Overrides the config's simulated flash speed. */
  flashTiming?: FlashTiming;
  /** Bytes per bank (largest image). Default: the config's `flash.bankSize`. */
  bankSize?: number;
  /**
   * Whether the vehicle stands still (resets and the programming session wait for it). Default: from the
   * config's `motionSource`: the motion source asks its own `driving` input, every other ECU verifies the
   * motion source's status frames (heard on `statusBus`) and is stopped only while a verified one, at most
   * 1 s old, says so; without a `motionSource` the vehicle is always stopped (motion-listener.ts).
   */
  vehicleCondition?: VehicleCondition;
  /** The motion source's simulated drive input: sets VehicleMoving in its status frames (`canota ecu EDT --driving`). */
  driving?: () => boolean;
  /** The node on which this ECU hears other ECUs' status frames. Default: its own bus. */
  statusBus?: Bus;
  /** Wall clock (epoch ms) of the security-access delay, for tests. Default Date.now. */
  now?: () => number;
  /** Accepts an authenticated order to roll back a confirmed image (0xFF02). Default: none accepted. */
  authorizeRollback?: (order: Uint8Array) => boolean | Promise<boolean>;
  /** This ECU's keys, when the caller loaded them already (else read from its keys.json). */
  keys?: EcuKeys;
}

export { ecuStateDir };

/**
 * One running ECU: its flash (A/B banks, factory image on first start), its bootloader answering UDS on
 * its physical ids and the functional id, and its periodic status frame. A reset (0x11) takes it off the
 * bus for the simulated reboot, boots (activating a checked image, or rolling back), and brings up a fresh
 * bootloader in the default session.
 */
export class Ecu {
  readonly name: string;
  readonly config: EcuConfig;
  readonly bus: Bus;
  readonly #vehicle: VehicleConfig;
  readonly #options: EcuOptions;
  readonly #banks: FlashBanks;
  readonly #ownsBus: boolean;
  readonly #logger: Logger | undefined;
  readonly #status: StatusBroadcast;
  /** Other ECUs' status frames, verified (only when this ECU needs them: the motion source's). */
  readonly statusReceiver: StatusReceiver | null;
  readonly vehicleCondition: VehicleCondition & { close?: () => void };
  readonly #bootListeners = new Set<(event: BootEvent) => void>();
  readonly #trustedKeys: KeyObject[];
  /** This ECU's own keys (`ecus/<NAME>/keys.json`): its grant key and the status keys it sends or receives. */
  readonly keys: EcuKeys;
  #bootloader: Bootloader | null = null;
  #restarting: Promise<void> | null = null;
  #availableWaiters: (() => void)[] = [];
  /** `<ecu dir>/security-access.json`: the lockout outlives resets and power losses. */
  #securityAttempts: SecurityAttemptsFile | null = null;
  #closed = false;

  private constructor(options: EcuOptions, config: EcuConfig, bus: Bus, ownsBus: boolean, banks: FlashBanks, keys: EcuKeys, parts: {
    status: StatusBroadcast; statusReceiver: StatusReceiver | null;
  }) {
    this.keys = keys;
    this.#status = parts.status;
    this.statusReceiver = parts.statusReceiver;
    this.vehicleCondition = options.vehicleCondition ?? vehicleConditionFor(options.config, config.name, {
      receiver: parts.statusReceiver, ...(options.driving ? { driving: options.driving } : {}),
    });
    this.#options = options;
    this.#vehicle = options.config;
    this.name = config.name;
    this.config = config;
    this.bus = bus;
    this.#ownsBus = ownsBus;
    this.#banks = banks;
    this.#trustedKeys = trustedKeysOf(options.config);
    this.#logger = options.logger?.child({ ecu: config.name });
  }

  /** Opens the ECU's flash (booting it) and puts it on its bus. */
  static async start(options: EcuOptions): Promise<Ecu> {
    const config = ecuByName(options.config, options.name);
    // Keys are parsed before anything starts: a bad key must stop the ECU, not silently disable checks.
    trustedKeysOf(options.config);
    const keys = options.keys ?? await loadEcuKeys(options.config, options.stateDir, config.name);
    const banks = await openEcuFlash(config, options.stateDir, {
      ...(options.bankSize !== undefined ? { bankSize: options.bankSize } : {}),
      ...(options.flashTiming !== undefined ? { flashTiming: options.flashTiming } : {}),
    });
    const bus = options.bus ?? await connectToBus(options.config, config.bus, options.virtualNetwork ? { virtualNetwork: options.virtualNetwork } : {});
    // The broadcast starts with the bootloader (#powerOn), after the ECU exists.
    const self: { ecu?: Ecu } = {};
    const status = await StatusBroadcast.open({
      bus, intervalMs: options.statusIntervalMs ?? 100, status: () => self.ecu!.status(),
      config: options.config, keys, stateDir: options.stateDir, ecu: config.name,
      ...(options.logger ? { logger: options.logger.child({ ecu: config.name }) } : {}),
    });
    // Only what this ECU acts on is verified here: the motion source's frames, unless it is told the condition.
    const source = options.config.motionSource;
    const statusReceiver = options.vehicleCondition === undefined && source !== undefined && source !== config.name
      ? await StatusReceiver.open({ config: options.config, stateDir: options.stateDir, ecu: config.name, keys, senders: [source], ...(options.logger ? { logger: options.logger } : {}) })
      : null;
    statusReceiver?.attach(options.statusBus ?? bus);
    const ecu = new Ecu(options, config, bus, options.bus === undefined, banks, keys, { status, statusReceiver });
    self.ecu = ecu;
    ecu.#securityAttempts = await SecurityAttemptsFile.open(ecuStateDir(options.stateDir, config.name));
    const boot = banks.record.lastBoot;
    if (boot) ecu.#logBoot(boot);
    ecu.#powerOn();
    return ecu;
  }

  /** False while the ECU restarts (it answers nothing then). */
  get available(): boolean {
    return this.#bootloader !== null;
  }

  get state(): EcuState {
    return this.#bootloader?.state ?? EcuState.Resetting;
  }

  get bootRecord(): BootRecord {
    return this.#banks.record;
  }

  /** The download in progress or last finished in this power cycle (bytes over the bus, decoder memory); null while restarting. */
  transferStatistics(): TransferStatistics | null {
    return this.#bootloader?.transferStatistics ?? null;
  }

  /** The 0xF1A0 view; null while restarting. */
  bootState(): BootState | null {
    return this.#bootloader?.bootState() ?? null;
  }

  /** What the status frame carries (VehicleMoving only from the motion source's drive input). */
  status(): EcuStatus {
    const record = this.#banks.record;
    return {
      version: versionTriple(record.banks[record.active].version),
      state: this.state,
      activeBank: record.active,
      trialPending: record.trial !== null,
      lastBootRolledBack: record.lastBoot !== null && record.lastBoot.outcome !== 'booted',
      vehicleMoving: this.#vehicle.motionSource === this.name && (this.#options.driving?.() ?? false),
    };
  }

  /** Every boot after a reset (the first boot happened in start()). */
  onBoot(listener: (event: BootEvent) => void): () => void {
    this.#bootListeners.add(listener);
    return () => this.#bootListeners.delete(listener);
  }

  /** Resolves once the ECU answers again (at once if it does). */
  whenAvailable(): Promise<void> {
    if (this.available || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#availableWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#status.stop();
    const bootloader = this.#bootloader;
    this.#bootloader = null;
    await bootloader?.shutdown();
    await this.#restarting;
    for (const resolve of this.#availableWaiters.splice(0)) resolve();
    this.vehicleCondition.close?.();
    await this.statusReceiver?.close();
    await this.#status.close();
    if (this.#ownsBus) await this.bus.close();
  }

  #powerOn(): void {
    const bootloader = new Bootloader({
      banks: this.#banks,
      identity: { name: this.name, hardwareId: this.config.hardwareId, vin: this.#vehicle.vin },
      grantKey: this.keys.get(grantKeyName(this.name)),
      trustedKeys: this.#trustedKeys,
      decompression: compressionMethods(this.config.transfer).includes('deflate') ? { window: this.config.transfer.window } : null,
      xz: compressionMethods(this.config.transfer).includes('xz') ? { window: this.config.transfer.window } : null,
      delta: this.config.transfer.delta === 'vcdiff' ? { window: DEFAULT_DELTA_WINDOW } : null,
      ...(this.#options.serverTiming ? { timing: this.#options.serverTiming } : {}),
      ...(this.#options.maxBlockLength ? { maxBlockLength: this.#options.maxBlockLength } : {}),
      ...(this.#options.dids ? { dids: this.#options.dids } : {}),
      ...(this.#options.routines ? { routines: this.#options.routines } : {}),
      ...(this.#options.onSessionChange ? { onSessionChange: this.#options.onSessionChange } : {}),
      ...(this.#logger ? { logger: this.#logger } : {}),
      ...(this.#securityAttempts ? { securityAttempts: this.#securityAttempts } : {}),
      vehicleCondition: this.vehicleCondition,
      ...(this.#options.now ? { now: this.#options.now } : {}),
      ...(this.#options.authorizeRollback ? { authorizeRollback: this.#options.authorizeRollback } : {}),
      onRestart: (resetType) => this.#restart(resetType),
    });
    bootloader.server.listenOnBus(this.bus, {
      requestId: this.config.requestId,
      responseId: this.config.responseId,
      functionalId: this.#vehicle.functionalRequestId,
    }, isoTpFrameOptions(this.#vehicle.buses[this.config.bus]!));
    this.#bootloader = bootloader;
    this.#status.start();
    for (const resolve of this.#availableWaiters.splice(0)) resolve();
  }

  /** Called by the bootloader right after its positive 0x11 response: off the bus now, boot, come back. */
  #restart(resetType: number): void {
    const bootloader = this.#bootloader;
    if (!bootloader || this.#closed) return;
    this.#status.sendNow(); // the last word before going silent: Resetting
    this.#status.stop();
    this.#bootloader = null;
    const down = bootloader.shutdown();
    this.#logger?.info({ resetType }, 'ECU reset: restarting');
    this.#restarting = (async () => {
      await down;
      await sleep(this.#options.rebootMs ?? 200);
      if (this.#closed) return;
      const event = await this.#banks.boot();
      this.#logBoot(event);
      for (const listener of this.#bootListeners) listener(event);
      if (this.#closed) return;
      this.#powerOn();
    })().catch((error: unknown) => {
      // No bootable image at all: the ECU stays dark, as a bricked one would.
      this.#logger?.error({ err: error }, 'ECU failed to boot');
    }).finally(() => {
      this.#restarting = null;
    });
  }

  #logBoot(event: BootEvent): void {
    const fields = { bank: event.bank, version: event.version, outcome: event.outcome, ...(event.reason ? { reason: event.reason } : {}) };
    if (event.outcome === 'booted') this.#logger?.info(fields, 'ECU booted');
    else this.#logger?.warn(fields, `ECU booted after ${event.outcome === 'rolled-back' ? 'rolling back' : 'falling back'}`);
  }
}

