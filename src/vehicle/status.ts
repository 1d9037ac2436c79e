import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readBootRecord, type BankName, type BankState, type BootEvent, type BootRecord } from './ecu/boot-record.ts';
import { ecuStateDir } from './ecu/state-dir.ts';
import { VehicleConfigError, loadVehicleConfig, type VehicleConfig } from './config.ts';
import { vehicleConfigPath } from './config-file.ts';
import type { GatewayStatistics } from './cgw/gateway.ts';
import { firewallStatisticsPath, readFirewallStatistics } from './cgw/statistics-file.ts';
import { errorCode, errorMessage } from '../errors/error-message.ts';
import { readSecOcStatistics, type SecOcStatistics } from './ecu/status-receiver.ts';

/**
 * What an ECU's boot record says about it, without the ECU running:
 * `ok` (runs a verified image), `rolled-back` / `fell-back` (its last boot rejected an image),
 * `activation-pending` / `rollback-pending` (armed for the next boot), `not-started` (no flash yet),
 * `unreadable` (a damaged boot record: see `error`).
 */
export type EcuInstallState = 'ok' | 'rolled-back' | 'fell-back' | 'activation-pending' | 'rollback-pending' | 'not-started' | 'unreadable';

export interface BankReport {
  state: BankState;
  version: string | null;
  sha256: string | null;
  size: number;
  reason?: string;
}

/** One ECU in `canota vehicle status --json` (docs/architecture.md, "Vehicle commands"). */
export interface EcuReport {
  version: string | null;
  /** SHA-256 of the active image, hex. */
  sha256: string | null;
  active_bank: BankName | null;
  state: EcuInstallState;
  last_boot: BootEvent | null;
  boot_count: number;
  /** The active image is confirmed: it is not rolled back without an authenticated order (null: no flash yet). */
  confirmed: boolean | null;
  /** The anti-rollback floor: the newest version ever confirmed; nothing older is installed again. */
  floor: string | null;
  banks: Record<BankName, BankReport> | null;
  /**
   * The other ECUs' status frames this ECU verified, per sender: verified, MAC failures (forged or
   * corrupted), replays, malformed, the latest rejection; as it last wrote them (`ecus/<NAME>/secoc.json`,
   * every 2 s while running). Null when it never received any (or does not need to).
   */
  secoc: SecOcStatistics | null;
  error?: string;
}

export interface VehicleStatus {
  /** Null when the state dir holds no vehicle.json (and no --config was given). */
  vin: string | null;
  ecus: Record<string, EcuReport>;
  /** The gateway's firewall counters as it last wrote them (`ecus/<CGW>/firewall.json`); null if it never ran. */
  gateway?: GatewayStatistics | null;
}

export class VehicleStatusError extends Error {
  override name = 'VehicleStatusError';
}

/**
 * Reads every ECU's boot record under `<stateDir>/ecus/` (the ECUs of the vehicle config first, in its
 * order, then any other ECU directory found). Only reads: the car need not run, nothing is created.
 */
export async function readVehicleStatus(options: { stateDir: string; configPath?: string }): Promise<VehicleStatus> {
  const { stateDir } = options;
  const exists = await stat(stateDir).then((info) => info.isDirectory(), () => false);
  if (!exists) throw new VehicleStatusError(`no vehicle state in ${stateDir} (not a directory)`);
  const config = await configOf(options);
  const names = config ? config.ecus.map((ecu) => ecu.name) : [];
  for (const name of await ecuDirectories(stateDir)) if (!names.includes(name)) names.push(name);
  const ecus: Record<string, EcuReport> = {};
  for (const name of names) {
    ecus[name] = { ...await reportOf(join(ecuStateDir(stateDir, name), 'boot-record.json')), secoc: await readSecOcStatistics(stateDir, name) };
  }
  const gateway = await readFirewallStatistics(firewallStatisticsPath(stateDir, config?.gateway.ecu));
  return { vin: config?.vin ?? null, ecus, gateway };
}

async function configOf(options: { stateDir: string; configPath?: string }): Promise<VehicleConfig | null> {
  if (options.configPath !== undefined) return loadVehicleConfig(options.configPath);
  try {
    return await loadVehicleConfig(vehicleConfigPath(options.stateDir));
  } catch (error) {
    if (error instanceof VehicleConfigError && errorCode(error.cause) === 'ENOENT') return null;
    throw error;
  }
}

async function ecuDirectories(stateDir: string): Promise<string[]> {
  try {
    const entries = await readdir(join(stateDir, 'ecus'), { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
}

async function reportOf(recordPath: string): Promise<Omit<EcuReport, 'secoc'>> {
  let record: BootRecord | null;
  try {
    record = await readBootRecord(recordPath);
  } catch (error) {
    return { ...notStarted(), state: 'unreadable', error: errorMessage(error) };
  }
  if (!record) return notStarted();
  const active = record.banks[record.active];
  const bank = (name: BankName): BankReport => {
    const { state, version, sha256, size, reason } = record.banks[name];
    return { state, version, sha256, size, ...(reason ? { reason } : {}) };
  };
  return {
    version: active.version,
    sha256: active.sha256,
    active_bank: record.active,
    state: installState(record),
    last_boot: record.lastBoot,
    boot_count: record.bootCount,
    confirmed: record.confirmed,
    floor: record.floor,
    banks: { A: bank('A'), B: bank('B') },
  };
}

function installState(record: BootRecord): EcuInstallState {
  if (record.trial) return record.trial.rollback ? 'rollback-pending' : 'activation-pending';
  if (record.lastBoot?.outcome === 'rolled-back') return 'rolled-back';
  if (record.lastBoot?.outcome === 'fell-back') return 'fell-back';
  return 'ok';
}

const notStarted = (): Omit<EcuReport, 'secoc'> => ({
  version: null, sha256: null, active_bank: null, state: 'not-started', last_boot: null, boot_count: 0, confirmed: null, floor: null, banks: null,
});
