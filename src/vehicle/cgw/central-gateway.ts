import type { Bus } from '../../can/bus/bus.ts';
import { UdsServer } from '../../can/uds/server/server.ts';
import type { ServerTiming } from '../../can/uds/server/options.ts';
import { DiagnosticSessionType } from '../../can/uds/services/diagnostic-session-control.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { connectToBus, ecuByName, isoTpFrameOptions, type VehicleNetworkOptions } from '../network.ts';
import { approvalRoutines } from './approval-routines.ts';
import { UpdateApproval } from './approval.ts';
import { Gateway, type GatewayStatistics } from './gateway.ts';
import type { DriverHmi } from './hmi/driver-hmi.ts';
import { securitySecretBytes } from './security-secret.ts';
import { StatisticsFile, firewallStatisticsPath } from './statistics-file.ts';

export interface CentralGatewayOptions {
  config: VehicleConfig;
  /** How the driver is asked. The gateway takes it over and closes it on `close()`. */
  hmi: DriverHmi;
  /** The vehicle's state dir: statistics go to `<stateDir>/ecus/CGW/firewall.json`. None: no file. */
  stateDir?: string;
  /** The CGW's node on each segment. Default: one new connection per bus of the config (closed on `close()`). */
  buses?: ReadonlyMap<string, Bus> | Readonly<Record<string, Bus>>;
  network?: VehicleNetworkOptions;
  /** Firewall inactivity close; default 120 s (docs/vehicle-protocol.md). */
  inactivityMs?: number;
  /** How often firewall.json is rewritten (when it changed); default 2 s. */
  statisticsIntervalMs?: number;
  udsTiming?: ServerTiming;
  /** Epoch milliseconds, for tests. */
  now?: () => number;
  logger?: Logger;
}

/**
 * The central gateway: one node on each segment routing frames (its firewall), its own UDS server on
 * its diagnostic ids with the driver-approval routines, the driver HMI, and the statistics file.
 *
 * ```ts
 * const cgw = await CentralGateway.start({ config, hmi: await createDriverHmi('hmi', { port: 8080 }), stateDir });
 * …
 * await cgw.close();
 * ```
 */
export class CentralGateway {
  readonly config: VehicleConfig;
  readonly gateway: Gateway;
  readonly approval: UpdateApproval;
  readonly hmi: DriverHmi;
  readonly server: UdsServer;
  readonly statisticsFile: StatisticsFile | null;
  readonly #ownedBuses: Bus[];
  #closed = false;

  private constructor(options: CentralGatewayOptions, buses: Map<string, Bus>, ownedBuses: Bus[]) {
    const { config, hmi, logger } = options;
    this.config = config;
    this.hmi = hmi;
    this.#ownedBuses = ownedBuses;
    const self = ecuByName(config, config.gateway.ecu);
    this.gateway = new Gateway({
      config, buses, logger,
      ...(options.inactivityMs !== undefined ? { inactivityMs: options.inactivityMs } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    this.approval = new UpdateApproval({ config, hmi, logger, ...(options.now ? { now: options.now } : {}) });
    this.approval.on('approved', (offer) => this.gateway.open(offer.ecus.map((ecu) => ecu.name)));
    this.approval.on('ended', () => this.gateway.close('stop'));
    this.gateway.on('closed', (state) => {
      if (state.closeReason === 'inactivity') this.approval.expire(Math.round(this.gateway.inactivityMs / 1000));
    });

    // Until the ECU runtime's bootloader can be extended, the CGW serves the approval on a plain UDS server.
    this.server = new UdsServer({
      security: {
        secret: securitySecretBytes(self),
        levels: { 1: { sessions: [DiagnosticSessionType.Programming, DiagnosticSessionType.ExtendedDiagnostic] } },
      },
      routines: approvalRoutines(this.approval, logger),
      ...(options.udsTiming ? { timing: options.udsTiming } : {}),
      ...(logger ? { logger } : {}),
    });
    this.server.listenOnBus(buses.get(self.bus)!, {
      requestId: self.requestId, responseId: self.responseId, functionalId: config.functionalRequestId,
    }, isoTpFrameOptions(config.buses[self.bus]!));

    this.statisticsFile = options.stateDir === undefined ? null : new StatisticsFile(
      firewallStatisticsPath(options.stateDir, self.name), () => this.gateway.statistics(),
      { ...(options.statisticsIntervalMs ? { intervalMs: options.statisticsIntervalMs } : {}), ...(logger ? { logger } : {}) },
    );
    if (this.statisticsFile) {
      this.statisticsFile.start();
      const flush = () => void this.statisticsFile!.flush();
      this.gateway.on('opened', flush);
      this.gateway.on('closed', flush);
    }
    logger?.info({ ecu: self.name, segments: [...buses.keys()], hmi: hmi.kind, inactivityMs: this.gateway.inactivityMs }, 'cgw running');
  }

  static async start(options: CentralGatewayOptions): Promise<CentralGateway> {
    const { config } = options;
    const buses = new Map<string, Bus>();
    const owned: Bus[] = [];
    try {
      if (options.buses) {
        for (const [name, bus] of options.buses instanceof Map ? options.buses : Object.entries(options.buses)) buses.set(name, bus);
      } else {
        for (const name of Object.keys(config.buses)) {
          const bus = await connectToBus(config, name, options.network);
          owned.push(bus);
          buses.set(name, bus);
        }
      }
      return new CentralGateway(options, buses, owned);
    } catch (error) {
      await Promise.all(owned.map((bus) => bus.close()));
      throw error;
    }
  }

  statistics(): GatewayStatistics {
    return this.gateway.statistics();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.approval.close();
    this.gateway.stop();
    await this.server.close();
    await this.statisticsFile?.stop();
    await this.hmi.close();
    await Promise.all(this.#ownedBuses.map((bus) => bus.close()));
  }
}
