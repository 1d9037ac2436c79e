import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import {
  BusLoadMeter, busDriverNames, nowSeconds, openBus, type Bus, type BusTiming, type CanFilter, type CanFrame,
  type OpenBusOptions,
} from '../../can/bus/index.ts';
import { CandumpFormatError, CandumpWriter, formatCandumpLine, parseCandumpFrame } from '../../can/log/index.ts';
import { TrafficDecoder } from '../../can/log/traffic-decoder.ts';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { UsageError } from '../exit-codes.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** The options that pick and open a bus, shared by every `can` subcommand (and usable by other commands). */
export interface BusCommandOptions {
  bus: string;
  channel: string;
  filter?: CanFilter[];
  group?: string;
  udpPort?: number;
  hopLimit?: number;
  multicastInterface?: string;
}

interface ListenOptions extends BusCommandOptions {
  count?: number;
  duration?: number;
  bitrate?: number;
  dataBitrate?: number;
}

function integer(min: number, max: number, what: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
      throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError('expected a number of seconds > 0');
  return value;
}

/** `ID:MASK` in hex as candump takes it (`7E0:7F0`, `0x18DA00F1:1FFFFF00`); repeatable or comma-separated. */
export function parseFilter(text: string, previous: CanFilter[] | undefined): CanFilter[] {
  const filters = [...(previous ?? [])];
  for (const part of text.split(',').map((item) => item.trim()).filter(Boolean)) {
    const match = /^(?:0x)?([0-9a-f]{1,8}):(?:0x)?([0-9a-f]{1,8})$/i.exec(part);
    if (!match) throw new InvalidArgumentError(`filter "${part}" is not ID:MASK in hex (e.g. 7E0:7F0)`);
    const id = parseInt(match[1]!, 16);
    const mask = parseInt(match[2]!, 16);
    if (id > 0x1fffffff || mask > 0x1fffffff) throw new InvalidArgumentError(`filter "${part}" exceeds 29 bits`);
    filters.push({ id, mask });
  }
  return filters;
}

/** Adds `--bus`, `--channel`, `--filter` and the udp-multicast options to a command. */
export function addBusOptions(command: Command): Command {
  return command
    .option('--bus <driver>', `bus driver: ${busDriverNames().join(' | ')} (virtual is in-process only)`, 'udp-multicast')
    .option('--channel <name>', 'bus segment name (cant, canb); for udp-multicast a multicast address also selects the group', 'cant')
    .option('--filter <id:mask>', 'only frames with (id & mask) == (ID & mask), hex; repeatable', parseFilter)
    .option('--group <address>', 'udp-multicast group (default 239.74.163.2, or --channel if it is a multicast address)')
    .option('--udp-port <port>', 'udp-multicast UDP port (default 43113)', integer(1, 65535, '--udp-port'))
    .option('--hop-limit <n>', 'udp-multicast TTL / hop limit (default 1)', integer(1, 255, '--hop-limit'))
    .option('--multicast-interface <address>', 'udp-multicast interface address, ::%NAME for IPv6 (default: loopback only)');
}

/** Opens the bus the options describe. */
export function openBusFromOptions(options: BusCommandOptions): Promise<Bus> {
  if (!busDriverNames().includes(options.bus)) {
    throw new UsageError(`unknown --bus "${options.bus}" (known: ${busDriverNames().join(', ')})`);
  }
  const busOptions: OpenBusOptions = { channel: options.channel };
  if (options.filter?.length) busOptions.filters = options.filter;
  if (options.group !== undefined) busOptions.group = options.group;
  if (options.udpPort !== undefined) busOptions.port = options.udpPort;
  if (options.hopLimit !== undefined) busOptions.hopLimit = options.hopLimit;
  if (options.multicastInterface !== undefined) busOptions.multicastInterface = options.multicastInterface;
  return openBus(options.bus, busOptions);
}

function describeBus(bus: Bus, options: BusCommandOptions): string {
  const where = 'group' in bus && 'port' in bus ? ` ${String(bus.group)} port ${String(bus.port)}` : '';
  return `${options.bus}${where} (channel ${options.channel})`;
}

function addListenOptions(command: Command): Command {
  return command
    .option('--count <n>', 'stop after this many frames', integer(1, Number.MAX_SAFE_INTEGER, '--count'))
    .option('--duration <seconds>', 'stop after this long', seconds)
    .option('--bitrate <bit/s>', 'nominal bit rate of the real bus, to report bus load at the end', integer(1, 1_000_000, '--bitrate'))
    .option('--data-bitrate <bit/s>', 'CAN FD data bit rate, for the bus load', integer(1, 16_000_000, '--data-bitrate'));
}

/**
 * Runs `onFrame` for received frames until --count, --duration, SIGINT or SIGTERM; then reports what it
 * saw on stderr (stdout belongs to the frames).
 */
async function listen(bus: Bus, options: ListenOptions, onFrame: (frame: CanFrame) => void): Promise<number> {
  const timing: BusTiming | undefined = options.bitrate === undefined ? undefined
    : { bitrate: options.bitrate, ...(options.dataBitrate === undefined ? {} : { dataBitrate: options.dataBitrate }) };
  const meter = timing ? new BusLoadMeter(timing) : undefined;
  const started = nowSeconds();
  let frames = 0;
  await new Promise<void>((done) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      unsubscribe();
      done();
    };
    const unsubscribe = bus.onFrame((frame) => {
      frames += 1;
      meter?.add(frame);
      onFrame(frame);
      if (options.count !== undefined && frames >= options.count) stop();
    });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.duration !== undefined) timer = setTimeout(stop, options.duration * 1000);
    console.error(`canota can: listening on ${describeBus(bus, options)}`);
  });
  const elapsed = nowSeconds() - started;
  const load = meter ? `, bus load ${meter.loadPercent(elapsed).toFixed(2)}% at ${options.bitrate}${options.dataBitrate ? `/${options.dataBitrate}` : ''} bit/s` : '';
  console.error(`canota can: ${frames} frames in ${elapsed.toFixed(3)} s${load}`);
  return frames;
}

function writeOut(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Status frames as `--decode` shows them: the vehicle of `stateDir` with its keys, else the standard car's ids unverified. */
async function statusDescriber(stateDir: string | undefined) {
  const [{ vehicleStatusDescriber }, { loadVehicleConfig }, { vehicleConfigPath }] = await Promise.all([
    import('../../vehicle/ecu/status-frame-describer.ts'), import('../../vehicle/config.ts'), import('../../vehicle/config-file.ts'),
  ]);
  if (stateDir === undefined) return vehicleStatusDescriber({});
  let config;
  try {
    config = await loadVehicleConfig(vehicleConfigPath(stateDir));
  } catch (error) {
    throw new UsageError(`--state-dir ${stateDir}: ${errorMessage(error)}`);
  }
  const describer = await vehicleStatusDescriber({ config, stateDir });
  process.stderr.write(`canota can: verifying the status frames of ${describer.verifying.join(', ') || 'no ECU (no keys found)'}\n`);
  return describer;
}

export function registerCanCommand(program: Command): void {
  const can = program.command('can').description('watch, record and send CAN traffic (candump format)');

  addListenOptions(addBusOptions(can.command('dump')
    .description('print live traffic as candump lines; --decode adds ISO-TP messages and UDS services')))
    .option('--decode', 'reassemble ISO-TP on the diagnostic ids and name UDS services and NRCs; decode status frames (mac=ok|bad|replay|unverified)')
    .option('--decode-ids <pairs>', 'request:response id pairs to decode, hex (default: the vehicle\'s 710:718,720:728,730:738 and 7DF)')
    .option('--state-dir <dir>', 'the vehicle\'s state dir: its vehicle.json and the ECUs\' status keys (read only), so --decode verifies status frames')
    .action(async (options: ListenOptions & { decode?: boolean; decodeIds?: string; stateDir?: string }) => {
      let ids: number[] | undefined;
      try {
        ids = options.decode || options.decodeIds || options.stateDir ? TrafficDecoder.parseIdPairs(options.decodeIds) : undefined;
      } catch (error) {
        throw new UsageError(errorMessage(error));
      }
      const decoder = ids ? new TrafficDecoder(ids, [await statusDescriber(options.stateDir)]) : undefined;
      const bus = await openBusFromOptions(options);
      try {
        await listen(bus, options, (frame) => {
          const line = formatCandumpLine(frame, { channel: options.channel });
          const notes = decoder?.describe(frame) ?? [];
          writeOut(notes.length > 0 ? `${line}  ; ${notes.join('; ')}` : line);
        });
      } finally {
        await bus.close();
      }
    });

  addListenOptions(addBusOptions(can.command('log')
    .description('record live traffic into a candump log file (readable by python-can\'s can.LogReader)')))
    .requiredOption('-o, --output <file>', 'candump .log file to write')
    .option('--append', 'append to the file instead of replacing it')
    .action(async (options: ListenOptions & { output: string; append?: boolean }) => {
      const bus = await openBusFromOptions(options);
      let log: CandumpWriter | undefined;
      try {
        log = await CandumpWriter.open(resolve(options.output), { channel: options.channel, append: options.append ?? false });
        const writer = log;
        await listen(bus, options, (frame) => writer.write(frame));
      } finally {
        await bus.close();
        await log?.close();
      }
      console.error(`canota can: wrote ${log.lines} frames to ${options.output}`);
    });

  addBusOptions(can.command('send')
    .description('send frames given in candump syntax: 7E0#0210030000000000, 18DAF110#02A1, 730##1CCCC, 123#R')
    .argument('<frames...>', 'ID#DATA frames, sent in order'))
    .option('--gap <ms>', 'pause between frames', integer(0, 60_000, '--gap'), 0)
    .action(async (texts: string[], options: BusCommandOptions & { gap: number }) => {
      let frames: CanFrame[];
      try {
        frames = texts.map((text) => parseCandumpFrame(text));
      } catch (error) {
        if (error instanceof CandumpFormatError) throw new UsageError(error.message);
        throw error;
      }
      const bus = await openBusFromOptions(options);
      try {
        for (const [index, frame] of frames.entries()) {
          if (index > 0 && options.gap > 0) await new Promise((done) => setTimeout(done, options.gap));
          await bus.send(frame);
        }
      } finally {
        await bus.close();
      }
      console.error(`canota can: sent ${frames.length} frame${frames.length === 1 ? '' : 's'} on ${options.bus} (channel ${options.channel})`);
    });

  readOptionsFromEnvironment(can);
}
