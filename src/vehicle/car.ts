import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bus } from '../can/bus/bus.ts';
import { VirtualNetwork } from '../can/bus/virtual.ts';
import { CandumpWriter } from '../can/log/index.ts';
import { StateLock } from '../files/state-lock.ts';
import type { Logger } from '../logging/logger.ts';
import { CentralGateway } from './cgw/central-gateway.ts';
import type { DriverHmi } from './cgw/hmi/driver-hmi.ts';
import { VehicleConfigError, type VehicleConfig } from './config.ts';
import { Ecu, type EcuOptions } from './ecu/ecu.ts';
import { StatusBroadcast } from './ecu/status-broadcast.ts';
import { EcuState, versionTriple } from './ecu/status-frame.ts';
import { StatusReceiver } from './ecu/status-receiver.ts';
import { vehicleConditionFor } from './ecu/motion-listener.ts';
import { connectToBus, ecuByName, type VehicleNetworkOptions } from './network.ts';
import { LocalTarget } from './tmu/local-target.ts';
import { TmuError } from './tmu/errors.ts';
import { ReleaseDownloads, type DownloadSettings } from './tmu/release-downloads.ts';
import { Tmu, type TmuSettings } from './tmu/tmu.ts';
import { startTmuDiagnostics } from './tmu/tmu-diagnostics.ts';
import type { UdsServer } from '../can/uds/index.ts';
import { parsePublicKey } from '../crypto/ed25519.ts';
import { errorMessage } from '../errors/error-message.ts';
import { DriverApproval } from './tmu/driver-approval.ts';
import { ApprovalChannelTester } from './cgw/approval-channel.ts';
import { loadEcuKeys, type EcuKeys } from './keys/ecu-keys.ts';
import { ReportOutbox } from './tmu/report-outbox.ts';
import { ServerApi } from './tmu/server-api.ts';
import { TesterLinks } from './tmu/tester-links.ts';
import { TmuStateFile } from './tmu/tmu-state.ts';
import { ConnectedEcus } from './tmu/vehicle-ecus.ts';

export interface CarOptions {
  config: VehicleConfig;
  /** The vehicle's state dir: every ECU's banks in `ecus/<NAME>/`, the TMU's state in `tmu/`. */
  stateDir: string;
  /** How the driver is asked (taken over: closed with the car). */
  hmi: DriverHmi;
  /** The download client's options for the TMU (`--server`, `--token`, `--interval`, …). */
  download: DownloadSettings;
  /** ECUs that run in processes of their own (`canota ecu NAME`) on a shared bus: not started here. */
  external?: readonly string[];
  /** A candump log of every frame on every segment (`--log-can F.log`). */
  logCan?: string;
  /** In-process network for the `virtual` driver. Default: one of the car's own. */
  virtualNetwork?: VirtualNetwork;
  /** TMU settings beyond the download options (re-offer period, timeouts). */
  tmu?: Pick<TmuSettings, 'reofferAfterSeconds' | 'approvalPollMs' | 'maxTransferTries' | 'maxUpdateAttempts'> & {
    /** How long an ECU may take to answer after its reset. Default 15 s. */
    rebootTimeoutMs?: number;
  };
  /** ECU runtime settings for every ECU started here (simulated reboot time, status frame period, …). */
  ecu?: Pick<EcuOptions, 'rebootMs' | 'statusIntervalMs' | 'serverTiming'>;
  /** The motion source's simulated drive input (`canota vehicle --driving`), when it runs in this process. */
  driving?: () => boolean;
  logger?: Logger;
}

/**
 * The whole car in one process: every ECU of the config on its segment (the CGW with its firewall,
 * approval and HMI; EDT and any other ECU with its bootloader), and the TMU with its download client on
 * CAN-T. On the `virtual` driver the segments exist only inside this process; on `udp-multicast` other
 * processes (`canota ecu EDT`, python-can tools) share them, and `external` ECUs run there instead.
 */
export class Car {
  readonly config: VehicleConfig;
  readonly cgw: CentralGateway;
  /** The ECUs started here, other than the CGW and the TMU. */
  readonly ecus: ReadonlyMap<string, Ecu>;
  readonly tmu: Tmu;
  readonly local: LocalTarget;
  readonly log: CandumpWriter | null;
  readonly #buses: Bus[];
  readonly #tmuStatus: StatusBroadcast;
  /** The TMU's verifier of other ECUs' status frames (versions behind the gateway, the vehicle's motion). */
  readonly tmuStatusFrames: StatusReceiver;
  readonly #tmuDiagnostics: UdsServer;
  readonly #lock: StateLock;
  readonly #logger: Logger | undefined;
  #closed = false;

  private constructor(parts: {
    config: VehicleConfig; cgw: CentralGateway; ecus: Map<string, Ecu>; tmu: Tmu; local: LocalTarget; log: CandumpWriter | null; buses: Bus[];
    tmuStatus: StatusBroadcast; tmuStatusFrames: StatusReceiver; tmuDiagnostics: UdsServer; lock: StateLock; logger: Logger | undefined;
  }) {
    this.config = parts.config;
    this.cgw = parts.cgw;
    this.ecus = parts.ecus;
    this.tmu = parts.tmu;
    this.local = parts.local;
    this.log = parts.log;
    this.#buses = parts.buses;
    this.#tmuStatus = parts.tmuStatus;
    this.tmuStatusFrames = parts.tmuStatusFrames;
    this.#tmuDiagnostics = parts.tmuDiagnostics;
    this.#lock = parts.lock;
    this.#logger = parts.logger;
  }

  static async start(options: CarOptions): Promise<Car> {
    const { config, logger } = options;
    const external = new Set((options.external ?? []).map((name) => ecuByName(config, name).name));
    for (const name of [config.tester, config.gateway.ecu]) {
      if (external.has(name)) throw new VehicleConfigError(`${name} cannot run outside the vehicle process (it is the ${name === config.tester ? 'TMU' : 'gateway'})`);
    }
    // One car per state dir: a second one would boot the same banks and run a second TMU on the same state.
    // (`canota ecu NAME` processes share the dir on purpose: they are the `external` ECUs.)
    const lock = new StateLock(join(options.stateDir, 'tmu'));
    await mkdir(join(options.stateDir, 'tmu'), { recursive: true });
    try {
      await lock.acquire();
    } catch (error) {
      await options.hmi.close();
      throw new TmuError(`${options.stateDir} is in use by another canota vehicle: ${errorMessage(error)}`, { cause: error });
    }
    const network: VehicleNetworkOptions = { virtualNetwork: options.virtualNetwork ?? new VirtualNetwork() };
    const buses: Bus[] = [];
    const ecus = new Map<string, Ecu>();
    let log: CandumpWriter | null = null;
    let cgw: CentralGateway | undefined;
    let tmu: Tmu | undefined;
    let tmuStatusFrames: StatusReceiver | undefined;
    try {
      if (options.logCan) {
        log = await CandumpWriter.open(options.logCan);
        // A listening node per segment: it hears every frame the others send (a node never hears its own).
        for (const name of Object.keys(config.buses)) {
          const bus = await connectToBus(config, name, network);
          buses.push(bus);
          log.record(bus);
        }
      }
      const ecuOptions = { ...options.ecu, ...(logger ? { logger } : {}) };
      for (const ecu of config.ecus) {
        if (ecu.name === config.tester || ecu.name === config.gateway.ecu || external.has(ecu.name)) continue;
        const driving = ecu.name === config.motionSource && options.driving ? { driving: options.driving } : {};
        ecus.set(ecu.name, await Ecu.start({ ...ecuOptions, ...driving, config, name: ecu.name, stateDir: options.stateDir, ...network }));
      }
      cgw = await CentralGateway.start({
        config, hmi: options.hmi, stateDir: options.stateDir, network, ...(logger ? { logger } : {}),
        ...(options.ecu ? { ecu: options.ecu } : {}),
      });
      // The TMU's own keys (ecus/TMU/keys.json, and nobody else's), read once for all its parts.
      const tmuKeys = await loadEcuKeys(config, options.stateDir, config.tester);
      const local = await LocalTarget.open({ config, stateDir: options.stateDir, keys: tmuKeys });
      const tester = ecuByName(config, config.tester);
      const tmuBus = await connectToBus(config, tester.bus, network);
      buses.push(tmuBus);
      // TMU_Status (can/canota.dbc), like every ECU's: what the TMU itself runs.
      const tmuStatus = await StatusBroadcast.open({
        config, stateDir: options.stateDir, ecu: tester.name, keys: tmuKeys, bus: tmuBus, intervalMs: options.ecu?.statusIntervalMs ?? 100, status: () => {
          const record = local.banks.record;
          return {
            version: versionTriple(local.version), state: EcuState.Running, activeBank: record.active, trialPending: record.trial !== null,
            lastBootRolledBack: record.lastBoot !== null && record.lastBoot.outcome !== 'booted', vehicleMoving: false,
          };
        }, ...(logger ? { logger } : {}),
      });
      // The TMU verifies status frames with its own keys only, once, for all its parts.
      tmuStatusFrames = await StatusReceiver.open({ config, stateDir: options.stateDir, ecu: tester.name, keys: tmuKeys, ...(logger ? { logger } : {}) });
      tmuStatusFrames.attach(tmuBus);
      local.vehicleCondition = vehicleConditionFor(config, tester.name, { receiver: tmuStatusFrames });
      tmu = await startTmu(options, tmuBus, local, tmuStatusFrames, tmuKeys);
      tmuStatus.start();
      const tmuDiagnostics = startTmuDiagnostics({ config, bus: tmuBus, local, ...(logger ? { logger } : {}) });
      return new Car({ config, cgw, ecus, tmu, local, log, buses, tmuStatus, tmuStatusFrames, tmuDiagnostics, lock, logger });
    } catch (error) {
      await tmu?.close();
      await tmuStatusFrames?.close();
      if (cgw) await cgw.close();
      else await options.hmi.close();
      await Promise.all([...ecus.values()].map((ecu) => ecu.close()));
      await Promise.all(buses.map((bus) => bus.close()));
      await log?.close().catch(() => undefined);
      await lock.release();
      throw error;
    }
  }

  /** The TMU's polling loop, until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    return this.tmu.run(signal);
  }

  /** Stops the TMU first (an update in flight stops as a power cut would, to resume at the next start), then the rest. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tmuStatus.close();
    await this.#tmuDiagnostics.close();
    await this.tmu.close();
    await this.tmuStatusFrames.close();
    await this.cgw.close();
    await Promise.all([...this.ecus.values()].map((ecu) => ecu.close()));
    await Promise.all(this.#buses.map((bus) => bus.close()));
    if (this.log) {
      try {
        await this.log.close();
      } catch (error) {
        this.#logger?.error({ err: error }, `the CAN log ${this.log.path} is incomplete`);
      }
    }
    await this.#lock.release();
  }
}

/**
 * The TMU with its real parts: the OTA server, a download agent per ECU, the driver's approval on the CGW
 * and the ECUs over the TMU's UDS links, its state and reports in `<state-dir>/tmu/`.
 */
async function startTmu(options: CarOptions, bus: Bus, local: LocalTarget, statusFrames: StatusReceiver, keys: EcuKeys): Promise<Tmu> {
  const { config, download, tmu: settings = {} } = options;
  const directory = join(options.stateDir, 'tmu');
  const logger = options.logger?.child({ component: 'tmu' });
  const trustedKeys = config.trustedKeys.map((key) => parsePublicKey(key));
  const gateway = ecuByName(config, config.gateway.ecu);
  const server = new ServerApi({ server: download.server, token: download.token, ca: download.ca, timeoutMs: (download.timeoutSeconds ?? 30) * 1000 });
  const links = new TesterLinks(config, bus);
  const approval = new DriverApproval(links.client(gateway.name), await ApprovalChannelTester.open(keys, options.stateDir), logger);
  return Tmu.start({
    config,
    intervalSeconds: download.intervalSeconds,
    reofferAfterSeconds: settings.reofferAfterSeconds,
    approvalPollMs: settings.approvalPollMs,
    maxTransferTries: settings.maxTransferTries,
    maxUpdateAttempts: settings.maxUpdateAttempts,
    ...(logger ? { logger } : {}),
  }, {
    server,
    downloads: new ReleaseDownloads({ directory: join(directory, 'downloads'), settings: download, trustedKeys, logger }),
    approval,
    ecus: new ConnectedEcus({
      config, statusFrames, links, local, authority: approval, ...(settings.rebootTimeoutMs !== undefined ? { rebootTimeoutMs: settings.rebootTimeoutMs } : {}), ...(logger ? { logger } : {}),
    }),
    store: new TmuStateFile(directory),
    outbox: new ReportOutbox(join(directory, 'reports'), logger),
  });
}
