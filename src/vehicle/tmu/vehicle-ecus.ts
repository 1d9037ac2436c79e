import type { Logger } from '../../logging/logger.ts';
import type { StatusReceiver } from '../ecu/status-receiver.ts';
import { compressionMethods, type VehicleConfig } from '../config.ts';
import { ecuByName } from '../network.ts';
import { FlashSession, type FlashProgress } from './flash-session.ts';
import { InstalledVersions } from './installed-versions.ts';
import type { LocalTarget } from './local-target.ts';
import type { ProgrammingAuthority } from './programming-authority.ts';
import type { ReportedEcu } from './server-api.ts';
import type { TesterLinks } from './tester-links.ts';
import { RemoteTarget, reportedEcu, type UpdateTarget } from './update-target.ts';

/** The car's ECUs as the TMU reaches them: what each runs, and each as a target to install to. */
export interface VehicleEcus {
  /** What `ecu` runs, as far as the TMU can learn before an approval; null when it cannot tell. */
  installedVersion(ecu: string, signal?: AbortSignal): Promise<string | null>;
  /** Every ECU of the car as it runs now, for a report. */
  describe(): Promise<Record<string, ReportedEcu>>;
  /** `ecu` as the installation drives it; its flashing progress goes to `onProgress`. */
  target(ecu: string, options: { signal: AbortSignal; onProgress: (progress: FlashProgress) => void }): UpdateTarget;
  close(): void;
}

export interface ConnectedEcusOptions {
  config: VehicleConfig;
  /** The TMU's verified view of other ECUs' status frames (stays the caller's). */
  statusFrames: StatusReceiver;
  /** The TMU's UDS clients (closed with these ECUs). */
  links: TesterLinks;
  /** The TMU's own banks. */
  local: LocalTarget;
  /** Security-access keys and programming grants (the CGW, through the TMU's approval link). */
  authority: ProgrammingAuthority;
  /** How long an ECU may take to answer after its reset. Default 15 s. */
  rebootTimeoutMs?: number;
  logger?: Logger;
}

/**
 * The real ECUs: the TMU's own banks locally, every other ECU over UDS (a FlashSession per installation)
 * and, before an approval opens the firewall, from its authenticated status frames (installed-versions.ts).
 */
export class ConnectedEcus implements VehicleEcus {
  readonly #options: ConnectedEcusOptions;
  readonly #versions: InstalledVersions;

  constructor(options: ConnectedEcusOptions) {
    this.#options = options;
    const { config, statusFrames, links, local, logger } = options;
    this.#versions = new InstalledVersions({
      config, statusFrames, clientFor: (ecu) => links.client(ecu), localVersion: () => local.version, ...(logger ? { logger } : {}),
    });
  }

  async installedVersion(ecu: string, signal?: AbortSignal): Promise<string | null> {
    return (await this.#versions.read(ecu, signal)).version;
  }

  /** Every ECU as it runs now: its boot state over UDS where it answers, else its status frame. */
  async describe(): Promise<Record<string, ReportedEcu>> {
    const { config, links, local } = this.#options;
    const ecus: Record<string, ReportedEcu> = {};
    for (const ecu of config.ecus) {
      const hardware = { hardware_id: ecu.hardwareId };
      if (ecu.name === config.tester) {
        ecus[ecu.name] = { ...reportedEcu(await local.bootState()), ...hardware };
        continue;
      }
      try {
        ecus[ecu.name] = { ...reportedEcu(await links.bootState(ecu.name)), ...hardware };
      } catch {
        const heard = this.#versions.lastHeard(ecu.name);
        ecus[ecu.name] = {
          version: heard?.version ?? null, sha256: null, active_bank: heard?.activeBank ?? null, state: heard ? 'Running' : 'unknown', ...hardware,
        };
      }
    }
    return ecus;
  }

  target(ecu: string, options: { signal: AbortSignal; onProgress: (progress: FlashProgress) => void }): UpdateTarget {
    const { config, links, local, rebootTimeoutMs, authority } = this.#options;
    if (ecu === config.tester) return localUpdateTarget(local, authority, options.onProgress);
    const ecuConfig = ecuByName(config, ecu);
    const session = new FlashSession({
      client: links.client(ecu), ecu: ecuConfig, authority, onProgress: options.onProgress, signal: options.signal,
      // Compressed with the ECU's methods and window; an ECU without a method says so (0x31) and gets the next, then plain.
      compression: compressionMethods(ecuConfig.transfer).length > 0
        ? { window: ecuConfig.transfer.window, methods: compressionMethods(ecuConfig.transfer) } : null,
      ...(rebootTimeoutMs !== undefined ? { rebootTimeoutMs } : {}),
    });
    return new RemoteTarget(session);
  }

  close(): void {
    this.#versions.close();
    this.#options.links.close();
  }
}

/**
 * The TMU's own banks as an update target: programmed only with the CGW's grant (from `authority`), reporting
 * progress to `onProgress` during each step (and to no one after).
 */
export function localUpdateTarget(local: LocalTarget, authority: ProgrammingAuthority, onProgress?: (progress: FlashProgress) => void): UpdateTarget {
  const reporting = async <T>(action: () => Promise<T>): Promise<T> => {
    local.onProgress = onProgress;
    try {
      return await action();
    } finally {
      local.onProgress = undefined;
    }
  };
  return {
    ecu: local.ecu,
    bootState: () => local.bootState(),
    program: (image, manifest) => reporting(() => local.program(image, manifest, authority)),
    activate: () => reporting(() => local.activate()),
    rollback: () => reporting(() => local.rollback()),
    confirm: () => reporting(() => local.confirm()),
  };
}
