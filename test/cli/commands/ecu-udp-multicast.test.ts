import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { readVehicleStatus } from '../../../src/vehicle/status.ts';
import { canotaBin } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { namespaceUnavailableReason } from '../../can/bus/fixtures/namespace.ts';
import { NetworkNamespace, type NamespacedProcess } from '../../vehicle/ecu/fixtures/network-namespace.ts';
import { manifestFor, sha256 } from '../../vehicle/ecu/support.ts';

const flasher = fileURLToPath(new URL('../../vehicle/tmu/fixtures/flash-ecu.ts', import.meta.url));
const VIN = 'WCANTA1PR0CESS001';

interface FlasherLine {
  event: string;
  bytes?: number;
  total?: number;
  report?: { version: string; activeBank: string; switched: boolean; sha256: string };
  step?: string;
  message?: string;
}

const events = (process: NamespacedProcess): FlasherLine[] =>
  process.lines.filter((line) => line.startsWith('{"event"')).map((line) => JSON.parse(line) as FlasherLine);

test('canota ecu runs EDT alone over udp-multicast; a tester in another process flashes it; kill -9 mid-download keeps the old image and the next flash completes (private namespace)', async (t) => {
  const reason = namespaceUnavailableReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const stateDir = await tempDir(t);
  // The car both processes share, with flash slow enough (300 kB/s) that a kill lands mid-download.
  const config = standardVehicleConfig(VIN, { driver: 'udp-multicast' });
  config.ecus.find((ecu) => ecu.name === 'EDT')!.flash = { eraseBytesPerSecond: 0, programBytesPerSecond: 300_000 };
  await writeFile(join(stateDir, 'vehicle.json'), JSON.stringify(config), { mode: 0o600 });
  const release = async (version: string, size: number) => {
    const image = randomBytes(size);
    const imagePath = join(stateDir, `edt-${version}.bin`);
    const manifestPath = join(stateDir, `edt-${version}.json`);
    await writeFile(imagePath, image);
    await writeFile(manifestPath, JSON.stringify(manifestFor(image, null, { firmware_version: version })));
    return { image, args: [stateDir, 'EDT', imagePath, manifestPath] };
  };

  const namespace = await NetworkNamespace.create(t);
  const startEcu = async () => {
    const ecu = namespace.spawn(process.execPath, [canotaBin, 'ecu', 'EDT', '--bus', 'udp-multicast', '--state-dir', stateDir],
      { CANOTA_LOG_LEVEL: 'info' });
    await ecu.waitFor(/ECU EDT ready on canb \(0x730\/0x738\)/);
    return ecu;
  };
  const flash = (args: string[]) => namespace.spawn(process.execPath, ['--import', 'tsx', flasher, ...args]);

  // 1. A full flash from another process.
  let ecu = await startEcu();
  const v2 = await release('2.0.0', 60_000);
  const first = flash(v2.args);
  assert.equal(await first.exited, 0, first.lines.join('\n'));
  const booted = events(first).find((line) => line.event === 'booted')!.report!;
  assert.deepEqual([booted.version, booted.activeBank, booted.switched, booted.sha256], ['2.0.0', 'B', true, sha256(v2.image)]);
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), v2.image);
  await ecu.waitFor(/ECU booted.*2\.0\.0|2\.0\.0.*ECU booted/);

  // 2. Power loss in the middle of the next download.
  const v3 = await release('3.0.0', 240_000);
  const second = flash(v3.args);
  await second.waitFor(/"phase":"download".*"percent":(3\d|[4-9]\d)/);
  ecu.child.kill('SIGKILL');
  assert.equal(await ecu.exited, 'SIGKILL');
  assert.equal(await second.exited, 1);
  const failure = events(second).find((line) => line.event === 'error')!;
  assert.equal(failure.step, 'download', failure.message);
  assert.match(failure.message ?? '', /^EDT: download failed/);

  // 3. Restarted, the ECU still boots 2.0.0; the half-written bank is not taken for good.
  ecu = await startEcu();
  const edt = (await readVehicleStatus({ stateDir })).ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.state, edt.sha256], ['2.0.0', 'B', 'ok', sha256(v2.image)]);
  assert.equal(edt.banks?.A.state, 'programming');

  // 4. The next try completes.
  const third = flash(v3.args);
  assert.equal(await third.exited, 0, third.lines.join('\n'));
  const final = events(third).find((line) => line.event === 'booted')!.report!;
  assert.deepEqual([final.version, final.activeBank, final.switched], ['3.0.0', 'A', true]);
  const status = await readVehicleStatus({ stateDir });
  assert.equal(status.vin, VIN);
  assert.deepEqual([status.ecus.EDT!.version, status.ecus.EDT!.active_bank, status.ecus.EDT!.sha256], ['3.0.0', 'A', sha256(v3.image)]);

  ecu.child.kill('SIGTERM');
  assert.equal(await ecu.exited, 0);
  await ecu.waitFor(/ECU EDT stopped/);
});
