import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { UpdateProgress, UpdateResult } from '../../src/vehicle/cgw/approval-protocol.ts';
import type { DriverDecision, DriverHmi, PresentedOffer } from '../../src/vehicle/cgw/hmi/driver-hmi.ts';
import { Car } from '../../src/vehicle/car.ts';
import { standardVehicleConfig } from '../../src/vehicle/config.ts';
import { readVehicleStatus } from '../../src/vehicle/status.ts';
import type { VehicleReport } from '../../src/vehicle/tmu/server-api.ts';
import { startOtaServer, type OtaTestServer } from '../support/ota-server.ts';
import { eventually } from './cgw/support.ts';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A driver who answers each offer with `decide` (which may keep it waiting): the HMI for library tests. */
class ScriptedDriver implements DriverHmi {
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

interface RunningCar {
  car: Car;
  stateDir: string;
  logs: Array<Record<string, unknown>>;
  reports: VehicleReport[];
}

/** The whole car in this process (virtual buses), its TMU polling the real server every 300 ms. */
async function startCar(t: TestContext, server: OtaTestServer, hmi: DriverHmi): Promise<RunningCar> {
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

const messages = (logs: Array<Record<string, unknown>>, pattern: RegExp) => logs.filter((line) => pattern.test(String(line.msg)));

test('the car in one process against a real server', async (t) => {
  const server = await startOtaServer(t);

  await t.test('a newer release while the driver thinks withdraws the offer; CGW + EDT together; CGW fails its boot → EDT rolled back, both on their old versions', async (t) => {
    const driver = new ScriptedDriver((_offer, index) => (index === 0 ? new Promise<never>(() => {}) : { decision: 'approve' }));
    const { car, stateDir, logs, reports } = await startCar(t, server, driver);
    await server.upload('edt-2.0.0.bin', randomBytes(30_000), { ecu: 'EDT', firmware_version: '2.0.0' });
    await eventually(() => driver.offers.length === 1, 'the EDT offer', 10_000);
    assert.deepEqual(driver.offers[0]!.ecus.map((ecu) => ecu.name), ['EDT']);

    // The CGW's rot: its freshly checked bank is damaged before its reset.
    car.tmu.on('target-status', (ecu, status) => {
      if (ecu === 'CGW' && status === 'programmed') writeFileSync(join(stateDir, 'ecus', 'CGW', 'bank-B.img'), randomBytes(64));
    });
    await server.upload('cgw-2.0.0.bin', randomBytes(20_000), { ecu: 'CGW', firmware_version: '2.0.0' });
    // The newest release of each ECU now makes another campaign: the pending one is withdrawn, both are offered.
    await eventually(() => driver.offers.length === 2, 'the CGW + EDT offer', 10_000);
    assert.deepEqual(driver.offers[1]!.ecus.map((ecu) => `${ecu.name} ${ecu.from}→${ecu.to}`), ['EDT 1.0.0→2.0.0', 'CGW 1.0.0→2.0.0']);
    assert.equal(messages(logs, /: withdrawn, newer releases make campaign/).length, 1);

    await eventually(() => reports.length === 1, 'the report', 20_000);
    const [report] = reports;
    assert.equal(report!.outcome, 'rolled-back');
    assert.deepEqual(report!.updates.map((update) => [update.ecu, update.result]), [['EDT', 'rolled-back'], ['CGW', 'failed']]);
    assert.match(report!.updates[1]!.error!, /image bytes no longer match their SHA-256/);
    const status = await readVehicleStatus({ stateDir });
    assert.deepEqual([status.ecus.EDT!.version, status.ecus.EDT!.active_bank], ['1.0.0', 'A']);
    assert.deepEqual([status.ecus.CGW!.version, status.ecus.CGW!.active_bank], ['1.0.0', 'A']);
    assert.deepEqual(report!.ecus.EDT, { version: '1.0.0', sha256: status.ecus.EDT!.sha256, active_bank: 'A', state: 'Running' });
    // The HMI saw EDT switch and come back, and the result.
    assert.ok(driver.shown.some((p) => p.ecu === 'EDT' && p.phase === 'rolled-back'));
    // The HMI was told the first offer was withdrawn, then the update's result.
    await eventually(() => driver.results.length === 2, 'the result on the HMI');
    assert.match(driver.results[0]!.message ?? '', /^withdrawn: campaign c-[0-9a-f]{16} replaces it$/);
    assert.equal(driver.results[1]!.outcome, 'rolled-back');
    assert.equal(car.cgw.gateway.firewall.open, false);
  });

  await t.test('postponed for a second: offered again once the second is up, then installed (the TMU updating itself too)', async (t) => {
    const driver = new ScriptedDriver((_offer, index) => (index === 0 ? { decision: 'postpone', seconds: 1 } : { decision: 'approve' }));
    const tmuImage = randomBytes(25_000);
    await server.upload('tmu-1.1.0.bin', tmuImage, { ecu: 'TMU', firmware_version: '1.1.0' });
    const { car, stateDir, reports, logs } = await startCar(t, server, driver);
    await eventually(() => driver.offers.length === 1, 'the offer', 10_000);
    // A new car: the server's newest EDT and CGW releases (uploaded above) come along with the TMU's.
    assert.deepEqual(driver.offers[0]!.ecus.map((ecu) => ecu.name), ['EDT', 'CGW', 'TMU']);
    await eventually(() => driver.offers.length === 2, 'the offer again', 10_000);
    const waited = Date.parse(driver.offers[1]!.receivedAt) - Date.parse(driver.offers[0]!.receivedAt);
    assert.ok(waited >= 1000, `asked again after ${waited} ms`);
    assert.equal(driver.offers[1]!.campaignId, driver.offers[0]!.campaignId);
    assert.equal(messages(logs, /postponed by the driver for 1 s$/).length, 1);

    await eventually(() => reports.some((report) => report.outcome === 'success'), 'the success report', 20_000);
    assert.deepEqual(reports.map((report) => report.outcome), ['postponed', 'success']);
    assert.equal(car.local.version, '1.1.0');
    assert.deepEqual(reports[1]!.updates.map((update) => [update.ecu, update.result]), [['EDT', 'installed'], ['CGW', 'installed'], ['TMU', 'installed']]);
    const tmu = (await readVehicleStatus({ stateDir })).ecus.TMU!;
    assert.deepEqual([tmu.version, tmu.active_bank, tmu.sha256], ['1.1.0', 'B', sha256(tmuImage)]);
    assert.deepEqual(await readFile(join(stateDir, 'ecus', 'TMU', 'bank-B.img')), tmuImage);
  });
});
