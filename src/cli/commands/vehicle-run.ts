import { InvalidArgumentError, Option, type Command } from 'commander';
import { busDriverNames } from '../../can/bus/index.ts';
import { createLogger } from '../../logging/logger.ts';
import type { BusConfig } from '../../vehicle/config.ts';
import { UsageError } from '../exit-codes.ts';
import { addDownloadClientOptions, downloadAgentOptions, type DownloadClientOptions } from './client.ts';
import { DEFAULT_VEHICLE_STATE_DIR } from './ecu.ts';
import { abortOnStopSignal } from '../stop-signal.ts';
import { driveInput } from '../drive-input.ts';

export interface VehicleRunOptions extends Omit<DownloadClientOptions, 'server' | 'downloadDir' | 'stateDir'> {
  server?: string;
  stateDir: string;
  config?: string;
  vin?: string;
  approve: string;
  hmiPort: number;
  bus: string;
  logCan?: string;
  external: string[];
  reofferAfter: number;
  driving?: boolean;
}

const APPROVE_MODES = ['hmi', 'prompt', 'auto', 'decline'];

/**
 * `canota vehicle --server URL …`: the options of the whole car in one process (docs/architecture.md, "Vehicle
 * commands"). The download client's options pass through to the TMU; `--server` is checked in the action,
 * not by commander, so that `canota vehicle status` (a subcommand) does not need it.
 */
export function addVehicleRunOptions(command: Command): Command {
  addDownloadClientOptions(command, { directories: false });
  command.options.find((option) => option.long === '--server')?.makeOptionMandatory(false);
  // The client's no-downgrade settings do not apply: the TMU compares with what each ECU runs (refused if given).
  for (const option of command.options) if (option.long === '--installed-version' || option.long === '--allow-downgrade') option.hideHelp();
  return command
    .option('--vin <vin>', 'VIN of a new car (must match an existing one)')
    .option('--config <file>', 'vehicle config JSON (default: <state-dir>/vehicle.json, else a new standard car)')
    .option('--state-dir <dir>', 'vehicle state: vehicle.json, ecus/<NAME>/ (flash banks), tmu/ (downloads, update state, reports)',
      DEFAULT_VEHICLE_STATE_DIR)
    .option('--approve <mode>', `how the driver is asked: ${APPROVE_MODES.join(' | ')} (auto and decline are test-bench policies)`, 'hmi')
    .addOption(new Option('--hmi-port <port>', 'port of the HMI web page on 127.0.0.1 (0: any free port)').argParser(port).default(0))
    .option('--bus <driver>', `bus driver for every segment: ${busDriverNames().join(' | ')}`, 'virtual')
    .option('--log-can <file>', 'write every frame of every segment to this candump log')
    .addOption(new Option('--external <ecus>', 'ECUs that run in their own process (canota ecu NAME, needs --bus udp-multicast), comma-separated')
      .argParser(ecuList).default([]))
    .option('--driving', 'the motion source (EDT in the standard car) reports the vehicle moving; SIGUSR1 toggles it')
    .addOption(new Option('--reoffer-after <seconds>', 'a declined or failed update is offered again only for newer releases or after this long')
      .argParser(nonNegativeNumber).default(86_400));
}

export async function runVehicle(options: VehicleRunOptions): Promise<void> {
  if (options.server === undefined) throw new UsageError('canota vehicle needs --server URL (or a subcommand: status)');
  if (!APPROVE_MODES.includes(options.approve)) throw new UsageError(`unknown --approve "${options.approve}" (known: ${APPROVE_MODES.join(', ')})`);
  const driver = busDriver(options.bus);
  if (options.external.length > 0 && driver === 'virtual') {
    throw new UsageError('--external ECUs run in other processes: they need a bus those can reach (--bus udp-multicast)');
  }
  if (options.installedVersion !== undefined || options.allowDowngrade) {
    throw new UsageError('--installed-version and --allow-downgrade do not apply to canota vehicle: the TMU reads what each ECU runs, and ECUs refuse downgrades');
  }
  const logger = createLogger({ name: 'vehicle' });
  const download = await downloadAgentOptions({ ...options, server: options.server, downloadDir: '', stateDir: '' }, logger);
  // Loaded here, not at start-up: other commands do not pay for the whole car.
  const [{ resolveVehicleConfig }, { createDriverHmi, WebHmi }, { Car }] = await Promise.all([
    import('../../vehicle/config-file.ts'), import('../../vehicle/cgw/hmi/index.ts'), import('../../vehicle/car.ts'),
  ]);
  const { config, path, created } = await resolveVehicleConfig({
    stateDir: options.stateDir, driver,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
    ...(options.vin !== undefined ? { vin: options.vin } : {}),
  });
  if (created) logger.info({ path, vin: config.vin }, 'created a new standard car (random security secrets)');
  const source = config.motionSource;
  if (options.driving && (source === undefined || source === config.tester || source === config.gateway.ecu || options.external.includes(source))) {
    throw new UsageError(source === undefined
      ? '--driving: this vehicle has no motion source (motionSource in its config)'
      : `--driving is the drive input of ${source}, which does not run in this process${options.external.includes(source) ? ` (give it to canota ecu ${source})` : ''}`);
  }
  if (config.trustedKeys.length === 0) {
    logger.warn('the vehicle trusts no release signing key: releases are checked by SHA-256 only (add trustedKeys to the vehicle config)');
  }

  const stop = abortOnStopSignal((signal) => logger.info({ signal }, 'stopping'));
  const drive = driveInput(options.driving ?? false, logger);
  try {
    const hmi = await createDriverHmi(options.approve, { port: options.hmiPort, logger });
    const { downloadDir: _d, stateDir: _s, logger: _l, installedVersion: _i, ...settings } = download;
    const car = await Car.start({
      config, stateDir: options.stateDir, hmi, download: settings, external: options.external, driving: drive.driving,
      ...(options.logCan !== undefined ? { logCan: options.logCan } : {}),
      tmu: { reofferAfterSeconds: options.reofferAfter },
      logger,
    });
    const url = hmi instanceof WebHmi ? hmi.url : undefined;
    const started = [config.tester, ...config.ecus.map((ecu) => ecu.name).filter((name) => name !== config.tester && !options.external.includes(name))];
    logger.info({
      vin: config.vin, server: download.server.toString(), approve: options.approve, bus: driver, ecus: started,
      external: options.external, stateDir: options.stateDir, ...(url ? { hmi: url } : {}), ...(options.logCan ? { logCan: options.logCan } : {}),
    }, `vehicle ${config.vin} ready${url ? `; HMI at ${url}` : ''}`);
    if (!stop.signal.aborted) await car.run(stop.signal);
    await car.close();
    logger.info({ vin: config.vin }, `vehicle ${config.vin} stopped`);
  } finally {
    stop.release();
    drive.release();
  }
}

function busDriver(text: string): BusConfig['driver'] {
  if (text === 'virtual' || text === 'udp-multicast') return text;
  throw new UsageError(`unknown --bus "${text}" (known: ${busDriverNames().join(', ')})`);
}

function port(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || number > 65_535) throw new InvalidArgumentError('expected a port number (0-65535)');
  return number;
}

function nonNegativeNumber(value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < 0) throw new InvalidArgumentError('expected a number >= 0');
  return number;
}

/** `EDT,BMS` (also repeated: `--external EDT --external BMS`). */
function ecuList(value: string, previous: string[] = []): string[] {
  const names = value.split(',').map((name) => name.trim().toUpperCase()).filter((name) => name !== '');
  if (names.length === 0) throw new InvalidArgumentError('expected ECU names, e.g. EDT');
  return [...previous, ...names];
}
