import { randomInt } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileExclusive } from '../files/atomic-write.ts';
import { parsePublicKey } from '../crypto/ed25519.ts';
import {
  VehicleConfigError, loadVehicleConfig, standardVehicleConfig, type BusConfig, type VehicleConfig,
} from './config.ts';
import { errorMessage } from '../errors/error-message.ts';

export interface ResolveVehicleConfigOptions {
  /** `--config F`: use this file (never written). */
  configPath?: string;
  /** The vehicle's state dir: `<stateDir>/vehicle.json` is the car every process there shares. */
  stateDir: string;
  /** `--vin`: the VIN of a new car; for an existing one it must match. */
  vin?: string;
  /** `--bus`: run every segment on this driver (the file is not changed). */
  driver?: BusConfig['driver'];
}

export interface ResolvedVehicleConfig {
  config: VehicleConfig;
  /** Where it came from. */
  path: string;
  /** True when this call created `<stateDir>/vehicle.json`. */
  created: boolean;
}

export const vehicleConfigPath = (stateDir: string): string => join(stateDir, 'vehicle.json');

/**
 * The car a command runs: `--config F`, else `<stateDir>/vehicle.json`, else a new standard car (random
 * security secrets) written there, so that separate processes (`canota ecu EDT`, `canota ecu CGW`,
 * `canota vehicle …`) started on one state dir are one car with one set of secrets. Two processes creating
 * it at the same moment agree: the file appears complete or not at all, and only the first one wins.
 */
export async function resolveVehicleConfig(options: ResolveVehicleConfigOptions): Promise<ResolvedVehicleConfig> {
  let resolved: ResolvedVehicleConfig;
  if (options.configPath !== undefined) {
    resolved = { config: await loadVehicleConfig(options.configPath), path: options.configPath, created: false };
  } else {
    const path = vehicleConfigPath(options.stateDir);
    const existing = await loadIfPresent(path);
    if (existing) resolved = { config: existing, path, created: false };
    else resolved = await createStandardCar(path, options);
  }
  const { config, path } = resolved;
  if (options.vin !== undefined && options.vin !== config.vin) {
    throw new VehicleConfigError(`--vin ${options.vin} does not match the VIN ${config.vin} of the car in ${path}`);
  }
  for (const [index, key] of config.trustedKeys.entries()) {
    try {
      parsePublicKey(key);
    } catch (error) {
      throw new VehicleConfigError(`${path} is invalid: trustedKeys[${index}]: ${errorMessage(error)}`);
    }
  }
  if (options.driver) {
    for (const bus of Object.values(config.buses)) bus.driver = options.driver;
  }
  return resolved;
}

async function loadIfPresent(path: string): Promise<VehicleConfig | null> {
  try {
    return await loadVehicleConfig(path);
  } catch (error) {
    if ((error as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') return null;
    throw error;
  }
}

async function createStandardCar(path: string, options: ResolveVehicleConfigOptions): Promise<ResolvedVehicleConfig> {
  const config = standardVehicleConfig(options.vin ?? randomVin(), options.driver ? { driver: options.driver } : {});
  await mkdir(options.stateDir, { recursive: true });
  // 0600: the file holds every ECU's security-access secret. A car another process created first is kept.
  if (!await writeFileExclusive(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })) {
    return { config: await loadVehicleConfig(path), path, created: false };
  }
  return { config, path, created: true };
}

/** VIN characters (ISO 3779: no I, O, Q). */
const VIN_ALPHABET = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789';

/** A random, well-formed VIN for a simulated car ("CNT" as a made-up manufacturer code). */
export function randomVin(): string {
  let vin = 'CNT';
  while (vin.length < 17) vin += VIN_ALPHABET[randomInt(VIN_ALPHABET.length)];
  return vin;
}
