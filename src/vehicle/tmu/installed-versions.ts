import { setTimeout as sleep } from 'node:timers/promises';
import type { UdsClient } from '../../can/uds/index.ts';
import type { Logger } from '../../logging/logger.ts';
import type { VehicleConfig } from '../config.ts';
import { BootloaderDid, asciiText } from '../ecu/protocol.ts';
import type { StatusReceiver } from '../ecu/status-receiver.ts';
import { ecuByName } from '../network.ts';

export interface InstalledVersion {
  version: string | null;
  /** How the TMU learnt it: its own banks, a UDS read (0x22 F189), or the ECU's periodic status frame. */
  source: 'local' | 'uds' | 'status-frame' | 'unknown';
}

export interface InstalledVersionsOptions {
  config: VehicleConfig;
  /**
   * The TMU's verifier of other ECUs' status frames (its own keys, attached to its node): only frames whose
   * MAC and freshness verified tell a version; forged and replayed ones are counted there and ignored here.
   */
  statusFrames: StatusReceiver;
  /** UDS client to an ECU on the TMU's own segment (the CGW). */
  clientFor: (ecu: string) => UdsClient;
  /** The TMU's own running version. */
  localVersion: () => string | null;
  /** How long a status frame counts as current. Default 1.5 s (frames come every 100 ms). */
  freshMs?: number;
  /** How long to wait for a status frame that has not arrived yet. Default 600 ms. */
  waitMs?: number;
  logger?: Logger;
}

/**
 * What each ECU runs, as the TMU can know it before any update is approved: its own version locally; an
 * ECU on its own segment over UDS (0x22 F189); an ECU behind the gateway from its authenticated status
 * frame, the one thing the CGW forwards outside an approved update (can/canota.dbc carries
 * major.minor.patch). An ECU it cannot hear about, or only through frames that fail verification, has an
 * unknown version, and the TMU offers it nothing.
 */
export class InstalledVersions {
  readonly #options: InstalledVersionsOptions;
  readonly #tester: string;
  readonly #byStatusId = new Map<number, string>();
  readonly #heard = new Map<string, { version: string; activeBank: 'A' | 'B'; at: number }>();
  readonly #unsubscribe: () => void;

  constructor(options: InstalledVersionsOptions) {
    this.#options = options;
    const { config } = options;
    this.#tester = config.tester;
    const testerBus = ecuByName(config, config.tester).bus;
    for (const ecu of config.ecus) if (ecu.bus !== testerBus) this.#byStatusId.set(ecu.statusId, ecu.name);
    const behindGateway = new Set(this.#byStatusId.values());
    this.#unsubscribe = options.statusFrames.onStatus(({ ecu, status, at }) => {
      if (behindGateway.has(ecu)) this.#heard.set(ecu, { version: status.version.join('.'), activeBank: status.activeBank, at });
    });
  }

  async read(ecu: string, signal?: AbortSignal): Promise<InstalledVersion> {
    if (ecu === this.#tester) return { version: this.#options.localVersion(), source: 'local' };
    if (!this.#byStatusId.has(ecuByName(this.#options.config, ecu).statusId)) return this.#readOverUds(ecu);
    const freshMs = this.#options.freshMs ?? 1500;
    const deadline = performance.now() + (this.#options.waitMs ?? 600);
    for (;;) {
      const heard = this.#heard.get(ecu);
      if (heard && performance.now() - heard.at <= freshMs) return { version: heard.version, source: 'status-frame' };
      if (performance.now() >= deadline || signal?.aborted) return { version: null, source: 'unknown' };
      await sleep(50);
    }
  }

  /** The last status frame heard from `ecu` (version and active bank), if any was. */
  lastHeard(ecu: string): { version: string; activeBank: 'A' | 'B' } | null {
    const heard = this.#heard.get(ecu);
    return heard ? { version: heard.version, activeBank: heard.activeBank } : null;
  }

  close(): void {
    this.#unsubscribe();
  }

  async #readOverUds(ecu: string): Promise<InstalledVersion> {
    try {
      const data = await this.#options.clientFor(ecu).readDataByIdentifier(BootloaderDid.SoftwareVersion);
      return { version: asciiText(data), source: 'uds' };
    } catch (error) {
      this.#options.logger?.debug({ ecu, err: error }, 'cannot read the ECU\'s version');
      return { version: null, source: 'unknown' };
    }
  }
}
