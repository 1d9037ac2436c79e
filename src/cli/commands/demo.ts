import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { readOptionsFromEnvironment } from '../env-options.ts';
import { parseInteger } from './server.ts';
import { nextStopSignal } from '../stop-signal.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { CommandFailedError } from '../exit-codes.ts';
import { StateDirLockedError, StateLock } from '../../files/state-lock.ts';
import type { DemoLayout } from '../demo/prepare.ts';

interface DemoOptions {
  dir: string;
  port: number;
  hmiPort: number;
  vin: string;
  approve: string;
  interval: number;
}

/** A valid VIN (17 characters, no I, O or Q) that says what it is. */
export const DEMO_VIN = 'WCANDEM0VEHC00001';

export function registerDemoCommand(program: Command): void {
  const demo = program.command('demo')
    .description('the whole system on this machine (npm start): OTA server with an admin, and a simulated vehicle with its driver HMI')
    .option('--dir <dir>', 'where the demo keeps its data, logs and sample firmware', './demo')
    .option('--port <port>', 'OTA server port on 127.0.0.1 (0: any free port; a busy 5000 falls back to one)', parseInteger(0, 65535), 5000)
    .option('--hmi-port <port>', 'driver HMI port on 127.0.0.1 (0: any free port; a busy 5001 falls back to one)', parseInteger(0, 65535), 5001)
    .option('--vin <vin>', 'the demo vehicle\'s VIN', DEMO_VIN)
    .addOption(new Option('--approve <mode>', 'how the driver is asked').choices(['hmi', 'prompt', 'auto', 'decline']).default('hmi'))
    .option('--interval <seconds>', 'how often the vehicle polls the server', parseInteger(1, 3600), 2)
    .action(async (options: DemoOptions) => runDemo(options));
  readOptionsFromEnvironment(demo);
}

async function runDemo(options: DemoOptions): Promise<void> {
  const { demoLayout } = await import('../demo/prepare.ts');
  // Before anything starts; a signal during start-up stops everything once it is up.
  const stopped = nextStopSignal().then(() => 'signal' as const);
  const layout = demoLayout(options.dir);
  await mkdir(layout.logsDir, { recursive: true });
  // One demo per dir: a second one would give the first one's admin a new password and its car a new token.
  const lock = new StateLock(layout.root, 'demo.lock');
  try {
    await lock.acquire();
  } catch (error) {
    if (!(error instanceof StateDirLockedError)) throw error;
    throw new CommandFailedError(`another canota demo is running on ${layout.root}: stop it first, or give this one its own --dir`);
  }
  try {
    await runLocked(options, layout, stopped);
  } finally {
    await lock.release();
  }
}

async function runLocked(options: DemoOptions, layout: DemoLayout, stopped: Promise<'signal'>): Promise<void> {
  const { prepareServerData, prepareVehicleConfig, writeSampleFirmware } = await import('../demo/prepare.ts');
  const [{ SupervisedProcess }, { demoGuide, vehicleMilestone }] = await Promise.all([import('../demo/supervised-process.ts'), import('../demo/guide.ts')]);
  console.log(`canota demo: preparing ${layout.root} …`);
  const credentials = await prepareServerData(layout, options.vin);
  await prepareVehicleConfig(layout, options.vin, credentials.trustedKey);
  const firmware = await writeSampleFirmware(layout);

  const startServer = (port: number) => SupervisedProcess.start({
    name: 'canota server',
    args: ['server', '--host', '127.0.0.1', '--port', String(port), '--data-dir', layout.serverDataDir],
    logPath: join(layout.logsDir, 'server.log'),
    ready: /listening at (http:\/\/[^\s"]+)/,
  });
  const server = await withPortFallback(options.port, 5000, startServer);
  const serverUrl = server.ready[1]!;

  const startVehicle = (hmiPort: number) => SupervisedProcess.start({
    name: 'canota vehicle',
    args: ['vehicle', '--server', serverUrl, '--vin', options.vin, '--token', credentials.vehicleToken,
      '--state-dir', layout.vehicleStateDir, '--approve', options.approve, '--hmi-port', String(hmiPort),
      '--interval', String(options.interval), '--log-can', join(layout.logsDir, 'can.log')],
    logPath: join(layout.logsDir, 'vehicle.log'),
    ready: /vehicle \S+ ready(?:; HMI at (http:\/\/[^\s"]+))?/,
    interactive: options.approve === 'prompt',
    onLine: (line) => {
      const milestone = vehicleMilestone(line);
      if (milestone) console.log(`[vehicle] ${milestone}`);
    },
  });
  let vehicle;
  try {
    vehicle = await withPortFallback(options.approve === 'hmi' ? options.hmiPort : 0, 5001, startVehicle);
  } catch (error) {
    await server.process.stop();
    throw error;
  }
  console.log(demoGuide({
    layout, serverUrl, hmiUrl: vehicle.ready[1], credentials, firmware, vin: options.vin, approve: options.approve,
  }));

  // Ctrl-C in a terminal signals the whole process group; the children stop on their own as well.
  const children = [vehicle.process, server.process];
  const stopAll = async () => {
    for (const child of children) await child.stop();
  };
  const ended = await Promise.race([stopped, ...children.map((child) => child.exited.then(() => child))]);
  await stopAll();
  if (ended !== 'signal') {
    throw new CommandFailedError(`${ended.name} stopped unexpectedly; its last lines (full log: ${ended.logPath}):\n${ended.lastLines()}`);
  }
  console.log('canota demo stopped');
}

/**
 * Starts with the preferred port; when that is the default and someone else holds it (a second demo, another
 * server), falls back to any free port instead of failing a newcomer's first `npm start`.
 */
async function withPortFallback<T>(port: number, defaultPort: number, start: (port: number) => Promise<T>): Promise<T> {
  try {
    return await start(port);
  } catch (error) {
    if (port !== defaultPort || !/EADDRINUSE/.test(errorMessage(error))) throw error;
    console.log(`port ${port} is busy; using a free port instead`);
    return start(0);
  }
}
