import type { Bus } from '../../can/bus/bus.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { Ecu, ecuStateDir, type EcuOptions } from '../ecu/ecu.ts';
import type { VehicleCondition } from '../ecu/vehicle-condition.ts';
import { connectToBus, ecuByName, type VehicleNetworkOptions } from '../network.ts';
import { ApprovalMemory } from './approval-memory.ts';
import { approvalRoutines } from './approval-routines.ts';
import { GrantIssuer } from './grant-issuer.ts';
import { ApprovalChannelGateway } from './approval-channel.ts';
import { loadEcuKeys } from '../keys/ecu-keys.ts';
import { UpdateApproval } from './approval.ts';
import { Gateway, type GatewayStatistics } from './gateway.ts';
import type { DriverHmi } from './hmi/driver-hmi.ts';
import { StatisticsFile, firewallStatisticsPath } from './statistics-file.ts';

export interface CentralGatewayOptions {
  config: VehicleConfig;
  /** How the driver is asked. The gateway takes it over and closes it on `close()`. */
  hmi: DriverHmi;
  /**
   * The vehicle's state dir: the CGW's own flash banks live in `<stateDir>/ecus/CGW/` (it is an ECU that
   * can be updated), its statistics in `<stateDir>/ecus/CGW/firewall.json`.
   */
  stateDir: string;
  /** The CGW's node on each segment. Default: one new connection per bus of the config (closed on `close()`). */
  buses?: ReadonlyMap<string, Bus> | Readonly<Record<string, Bus>>;
  network?: VehicleNetworkOptions;
  /** Firewall inactivity close; default 120 s (docs/vehicle-protocol.md). */
  inactivityMs?: number;
  /** How often firewall.json is rewritten (when it changed); default 2 s. */
  statisticsIntervalMs?: number;
  /** Passed to the CGW's ECU runtime (bootloader timing, simulated reboot, status frames, flash speed). */
  ecu?: Pick<EcuOptions, 'serverTiming' | 'rebootMs' | 'statusIntervalMs' | 'flashTiming' | 'bankSize' | 'maxBlockLength'>;
  /** Epoch milliseconds, for tests. */
  now?: () => number;
  /** Whether the vehicle stands still: the CGW's own reset and programming session wait for it. Default ALWAYS_STOPPED. */
  vehicleCondition?: VehicleCondition;
  logger?: Logger;
}

/**
 * The central gateway: one node on each segment routing frames (its firewall); on its own segment an ECU
 * like any other (bootloader, A/B banks, status frame) whose UDS server also carries the driver-approval
 * routines; the driver HMI; and the statistics file for `canota vehicle status`.
 *
 * ```ts
 * const hmi = await createDriverHmi('hmi', { port: 8080, logger });
 * const cgw = await CentralGateway.start({ config, hmi, stateDir, logger });
 * cgw.statistics();                                     // forwarded / dropped per segment and id
 * await cgw.close();
 * ```
 */
export class CentralGateway {
  readonly config: VehicleConfig;
  readonly gateway: Gateway;
  readonly approval: UpdateApproval;
  readonly hmi: DriverHmi;
  /** The CGW as an ECU: its bootloader serves UDS on the CGW's ids, with the approval routines added. */
  readonly ecu: Ecu;
  readonly statisticsFile: StatisticsFile;
  /** The authenticated approval channel (its counters show dropped forgeries). */
  readonly channel: ApprovalChannelGateway;
  readonly #ownedBuses: Bus[];
  readonly #memory: ApprovalMemory;
  #closed = false;

  private constructor(parts: {
    config: VehicleConfig; hmi: DriverHmi; gateway: Gateway; approval: UpdateApproval; memory: ApprovalMemory; ecu: Ecu;
    statisticsFile: StatisticsFile; ownedBuses: Bus[]; channel: ApprovalChannelGateway;
  }) {
    this.channel = parts.channel;
    this.config = parts.config;
    this.hmi = parts.hmi;
    this.gateway = parts.gateway;
    this.approval = parts.approval;
    this.ecu = parts.ecu;
    this.statisticsFile = parts.statisticsFile;
    this.#ownedBuses = parts.ownedBuses;
    this.#memory = parts.memory;
  }

  static async start(options: CentralGatewayOptions): Promise<CentralGateway> {
    const { config, hmi, logger } = options;
    const self = ecuByName(config, config.gateway.ecu);
    const buses = new Map<string, Bus>();
    const ownedBuses: Bus[] = [];
    let gateway: Gateway | undefined;
    let channel: ApprovalChannelGateway | undefined;
    try {
      if (options.buses) {
        for (const [name, bus] of options.buses instanceof Map ? options.buses : Object.entries(options.buses)) buses.set(name, bus);
      } else {
        for (const name of Object.keys(config.buses)) {
          const bus = await connectToBus(config, name, options.network);
          ownedBuses.push(bus);
          buses.set(name, bus);
        }
      }
      const now = options.now ? { now: options.now } : {};
      gateway = new Gateway({
        config, buses, ...now, ...(logger ? { logger } : {}),
        ...(options.inactivityMs !== undefined ? { inactivityMs: options.inactivityMs } : {}),
      });
      const memory = new ApprovalMemory(ecuStateDir(options.stateDir, self.name), logger);
      const approval = new UpdateApproval({
        config, hmi, ...now, ...(logger ? { logger } : {}), memory: { store: memory, remembered: await memory.load() },
      });
      const keys = await loadEcuKeys(config, options.stateDir, self.name);
      const grants = new GrantIssuer(approval, keys, logger);
      channel = await ApprovalChannelGateway.open(keys, options.stateDir);
      const ecu = await Ecu.start({
        ...options.ecu,
        config, name: self.name, stateDir: options.stateDir, bus: buses.get(self.bus)!, keys,
        // The motion source's frames are heard on its own segment: forwarded copies leave from the CGW's own node.
        ...(config.motionSource !== undefined ? { statusBus: buses.get(ecuByName(config, config.motionSource).bus) ?? buses.get(self.bus)! } : {}),
        ...(options.vehicleCondition ? { vehicleCondition: options.vehicleCondition } : {}),
        routines: approvalRoutines(approval, grants, channel, logger),
        ...(logger ? { logger } : {}),
      });
      const counted = channel;
      const statisticsFile = new StatisticsFile(firewallStatisticsPath(options.stateDir, self.name), () => ({
        ...gateway!.statistics(), approvalChannel: { ...counted.counters },
      }), {
        ...(options.statisticsIntervalMs ? { intervalMs: options.statisticsIntervalMs } : {}), ...(logger ? { logger } : {}),
      });
      const cgw = new CentralGateway({ config, hmi, gateway, approval, memory, ecu, statisticsFile, ownedBuses, channel });
      cgw.#wire();
      logger?.info({ ecu: self.name, segments: [...buses.keys()], hmi: hmi.kind, inactivityMs: gateway.inactivityMs }, 'cgw running');
      return cgw;
    } catch (error) {
      gateway?.stop();
      await channel?.close();
      await Promise.all(ownedBuses.map((bus) => bus.close()));
      throw error;
    }
  }

  statistics(): GatewayStatistics {
    return { ...this.gateway.statistics(), approvalChannel: { ...this.channel.counters } };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.approval.close();
    this.gateway.stop();
    await this.#memory.settled();
    await this.ecu.close();
    await this.channel.close();
    await this.statisticsFile.stop();
    await this.hmi.close();
    await Promise.all(this.#ownedBuses.map((bus) => bus.close()));
  }

  /** Approval opens the firewall, the TMU's stop closes it, and an inactivity close ends the approval. */
  #wire(): void {
    const { approval, gateway, statisticsFile } = this;
    approval.on('approved', (offer) => gateway.open(offer.ecus.map((ecu) => ecu.name)));
    approval.on('ended', () => gateway.close('stop'));
    gateway.on('closed', (state) => {
      if (state.closeReason === 'inactivity') approval.expire(Math.round(gateway.inactivityMs / 1000));
    });
    statisticsFile.start();
    const flush = () => void statisticsFile.flush();
    gateway.on('opened', flush);
    gateway.on('closed', flush);
  }
}
