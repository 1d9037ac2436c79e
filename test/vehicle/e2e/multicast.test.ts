import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canotaBin, runCanota } from '../../support/canota-process.ts';
import { adminName, adminPassword } from '../../support/ota-server.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { namespaceUnavailableReason } from '../../can/bus/fixtures/namespace.ts';
import { NetworkNamespace } from '../ecu/fixtures/network-namespace.ts';
import { firmware, sha256, vehicleStatus, writeCar } from './support.ts';

const uploadFixture = fileURLToPath(new URL('./fixtures/upload.ts', import.meta.url));
const VIN = 'WCANTAMVLT1PR0C01';

test('the whole flow with EDT in its own process: canota ecu EDT + canota vehicle --bus udp-multicast --external EDT (private namespace)', async (t) => {
  const reason = namespaceUnavailableReason();
  if (reason) {
    t.skip(reason);
    return;
  }
  const root = await tempDir(t, 'canota-multicast-');
  const dataDir = join(root, 'server');
  const stateDir = join(root, 'car');
  const added = await runCanota(['user', 'add', adminName, '--role', 'admin', '--password-stdin', '--data-dir', dataDir], { stdin: `${adminPassword}\n` });
  assert.equal(added.code, 0, added.stderr);
  await mkdir(stateDir);
  await writeCar(stateDir, VIN);

  // Server, EDT, and the rest of the car: three processes in a namespace of their own (loopback only).
  const namespace = await NetworkNamespace.create(t);
  const env = { CANOTA_LOG_LEVEL: 'info' };
  const server = namespace.spawn(process.execPath, [canotaBin, 'server', '--port', '0', '--data-dir', dataDir], env);
  const url = /listening at (http:\/\/[^\s"]+)/.exec(await server.waitFor(/listening at http:/))![1]!;
  const edt = namespace.spawn(process.execPath, [canotaBin, 'ecu', 'EDT', '--bus', 'udp-multicast', '--state-dir', stateDir], env);
  await edt.waitFor(/ECU EDT ready on canb \(0x730\/0x738\)/);
  const vehicle = namespace.spawn(process.execPath, [
    canotaBin, 'vehicle', '--server', url, '--state-dir', stateDir, '--bus', 'udp-multicast', '--external', 'EDT',
    '--approve', 'auto', '--interval', '1', '--log-can', join(root, 'bus.log'),
  ], env);
  const ready = await vehicle.waitFor(/"msg":"vehicle [A-Z0-9]{17} ready/);
  assert.deepEqual((JSON.parse(ready) as { ecus: string[]; external: string[] }).ecus, ['TMU', 'CGW']);
  await vehicle.waitFor(/"msg":"up to date"/);

  const image = firmware(150_000);
  await writeFile(join(root, 'edt.bin'), image);
  const upload = namespace.spawn(process.execPath, ['--import', 'tsx', uploadFixture, url, join(root, 'edt.bin'), 'edt-2.0.0.bin', 'EDT', '2.0.0']);
  assert.equal(await upload.exited, 0, upload.lines.join('\n'));

  // EDT's running version reaches the TMU in its status frame, which the CGW forwards from CAN-B.
  await vehicle.waitFor(/"msg":"new releases: campaign c-[0-9a-f]{16} \(EDT 1\.0\.0→2\.0\.0\)"/, 10_000);
  await vehicle.waitFor(/"msg":"campaign c-[0-9a-f]{16} reported: success"/, 40_000);
  // EDT, in its own process, received the image over the multicast bus through the CGW and booted it.
  await edt.waitFor(/"bank":"B","version":"2\.0\.0","outcome":"booted","msg":"ECU booted"/);
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), image);
  const status = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([status.version, status.active_bank, status.sha256], ['2.0.0', 'B', sha256(image)]);
  // The vehicle's candump log saw EDT's side of the flash on CAN-B.
  assert.match(await readFile(join(root, 'bus.log'), 'utf8'), /\) canb 738#/);

  vehicle.child.kill('SIGTERM');
  assert.equal(await vehicle.exited, 0);
  edt.child.kill('SIGTERM');
  assert.equal(await edt.exited, 0);
});
