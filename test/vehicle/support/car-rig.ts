import type { TestContext } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import type { UpdateProgress, UpdateResult } from '../../../src/vehicle/cgw/approval-protocol.ts';
import type { DriverDecision, DriverHmi, PresentedOffer } from '../../../src/vehicle/cgw/hmi/driver-hmi.ts';
import { Car } from '../../../src/vehicle/car.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import type { VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import type { OtaTestServer } from '../../support/ota-server.ts';

/** A driver who answers each offer with `decide` (which may keep it waiting): the HMI for library tests. */
export class ScriptedDriver implements DriverHmi {
  readonly kind = 'auto' as const;
  readonly offers: PresentedOffer[] = [];
  readonly shown: UpdateProgress[] = [];
  readonly results: UpdateResult[] = [];
  constructor(private readonly decide: (offer: PresentedOffer, index: number) => DriverDecision | Promise<DriverDecision>) {}

  present(offer: PresentedOffer, signal: AbortSignal): Promise<DriverDecision> {
    const index = this.offers.push(offer) - 1;
    return new Promise((resolve, reject) => {
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      void Promise.resolve(this.decide(offer, index)).then(resolve);
    });
  }

  progress(progress: UpdateProgress): void {
    this.shown.push(progress);
  }

  result(result: UpdateResult): void {
    this.results.push(result);
  }

  async close(): Promise<void> {}
}

export interface RunningCar {
  car: Car;
  stateDir: string;
  logs: Array<Record<string, unknown>>;
  reports: VehicleReport[];
}

/** The whole car in this process (virtual buses), its TMU polling the real server every 300 ms. */
export async function startCar(t: TestContext, server: OtaTestServer, hmi: DriverHmi, options: { virtualNetwork?: VirtualNetwork } = {}): Promise<RunningCar> {
  const stateDir = await mkdtemp(join(tmpdir(), 'canota-car-'));
  const config = standardVehicleConfig('WCANTACAR00000001');
  await writeFile(join(stateDir, 'vehicle.json'), JSON.stringify(config), { mode: 0o600 });
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      if (process.env.CANOTA_TEST_VERBOSE) process.stderr.write(chunk);
      done();
    },
  }));
  const car = await Car.start({
    config, stateDir, hmi, logger,
    download: { server: server.url, intervalSeconds: 0.3, retryBackoffSeconds: 0.05, timeoutSeconds: 5 },
    tmu: { approvalPollMs: 50 },
    ecu: { rebootMs: 50, statusIntervalMs: 50 },
    ...(options.virtualNetwork ? { virtualNetwork: options.virtualNetwork } : {}),
  });
  const stop = new AbortController();
  const running = car.run(stop.signal);
  const reports: VehicleReport[] = [];
  car.tmu.on('report', (report) => reports.push(report));
  // The car stops before its state dir goes: a running TMU writes into it.
  t.after(async () => {
    stop.abort();
    await running;
    await car.close();
    await rm(stateDir, { recursive: true, force: true });
  });
  return { car, stateDir, logs, reports };
}

export const messages = (logs: Array<Record<string, unknown>>, pattern: RegExp) => logs.filter((line) => pattern.test(String(line.msg)));
