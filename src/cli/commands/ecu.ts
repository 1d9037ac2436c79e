import type { Command } from 'commander';
import { busDriverNames } from '../../can/bus/index.ts';
import { createLogger } from '../../logging/logger.ts';
import { VehicleConfigError, type BusConfig } from '../../vehicle/config.ts';
import { resolveVehicleConfig } from '../../vehicle/config-file.ts';
import { Ecu } from '../../vehicle/ecu/ecu.ts';
import { ecuByName } from '../../vehicle/network.ts';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { nextStopSignal } from '../stop-signal.ts';
import { driveInput } from '../drive-input.ts';

interface EcuCommandOptions {
  bus: string;
  stateDir: string;
  config?: string;
  vin?: string;
  driving?: boolean;
}

/** The state dir `canota ecu` and `canota vehicle` share by default. */
export const DEFAULT_VEHICLE_STATE_DIR = './vehicle-state';

export function registerEcuCommand(program: Command): void {
  const command = program.command('ecu')
    .description('run one ECU alone: its bootloader answers UDS on its CAN ids and sends its status frames')
    .argument('<name>', 'the ECU, as named in the vehicle config (EDT, CGW, TMU, …)')
    .option('--bus <driver>', `bus driver for every segment: ${busDriverNames().join(' | ')}`, 'udp-multicast')
    .option('--state-dir <dir>', 'vehicle state: vehicle.json (created if missing) and ecus/<NAME>/ (flash banks)', DEFAULT_VEHICLE_STATE_DIR)
    .option('--config <file>', 'vehicle config JSON (default: <state-dir>/vehicle.json, else the standard car)')
    .option('--vin <vin>', 'VIN of a new car (must match an existing one)')
    .option('--driving', 'the motion source (EDT in the standard car) reports the vehicle moving; SIGUSR1 toggles it')
    .action(async (name: string, options: EcuCommandOptions) => runEcu(name, options));
  readOptionsFromEnvironment(command);
}

async function runEcu(name: string, options: EcuCommandOptions): Promise<void> {
  const driver = busDriver(options.bus);
  if (options.vin !== undefined && !VIN_PATTERN.test(options.vin)) {
    throw new UsageError(`--vin ${options.vin} is not a VIN (17 characters: capitals and digits, no I, O or Q)`);
  }
  const logger = createLogger({ name: 'ecu' });
  const { config, path, created } = await resolveVehicleConfig({
    stateDir: options.stateDir,
    driver,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
    ...(options.vin !== undefined ? { vin: options.vin } : {}),
  });
  let target;
  try {
    target = ecuByName(config, name);
  } catch (error) {
    if (error instanceof VehicleConfigError) throw new UsageError(error.message);
    throw error;
  }
  if (created) logger.info({ path, vin: config.vin }, 'created a new standard car (random security secrets)');
  if (driver === 'virtual') logger.warn('--bus virtual: only nodes inside this process can reach this ECU');
  if (options.driving && config.motionSource !== target.name) {
    throw new UsageError(`--driving is the drive input of the motion source (${config.motionSource ?? 'none in this config'}), not of ${target.name}`);
  }
  const stopped = nextStopSignal();
  const drive = config.motionSource === target.name ? driveInput(options.driving ?? false, logger) : null;
  const ecu = await Ecu.start({ config, name: target.name, stateDir: options.stateDir, logger, ...(drive ? { driving: drive.driving } : {}) });
  const ids = `0x${target.requestId.toString(16).toUpperCase()}/0x${target.responseId.toString(16).toUpperCase()}`;
  logger.info({ ecu: ecu.name, bus: target.bus, driver, vin: config.vin, version: ecu.bootRecord.banks[ecu.bootRecord.active].version },
    `ECU ${ecu.name} ready on ${target.bus} (${ids})`);
  const signal = await stopped;
  await ecu.close();
  drive?.release();
  logger.info({ signal }, `ECU ${ecu.name} stopped`);
}

const VIN_PATTERN = /^[A-HJ-NPR-Z0-9]{17}$/;

function busDriver(text: string): BusConfig['driver'] {
  if (text === 'virtual' || text === 'udp-multicast') return text;
  throw new UsageError(`unknown --bus "${text}" (known: ${busDriverNames().join(', ')})`);
}
