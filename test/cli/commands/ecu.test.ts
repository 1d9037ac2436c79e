import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCanota, startCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';

test('canota ecu starts an ECU on a new car in the state dir (from CANOTA_STATE_DIR), logs readiness, stops on SIGTERM', async (t) => {
  const stateDir = await tempDir(t);
  const ecu = await startCanota(['ecu', 'edt', '--bus', 'virtual', '--vin', 'WCANTA1EC0C0MMAND'], {
    env: { CANOTA_STATE_DIR: stateDir }, ready: /ECU EDT ready on canb \(0x730\/0x738\)/,
  });
  t.after(() => ecu.stop());
  const ready = JSON.parse(ecu.output.find((line) => line.includes('ready on'))!) as Record<string, unknown>;
  assert.equal(ready.version, '1.0.0');
  assert.equal(ready.vin, 'WCANTA1EC0C0MMAND');
  assert.equal(ready.driver, 'virtual');
  assert.ok(ecu.output.some((line) => line.includes('only nodes inside this process')), 'the lonely virtual bus is pointed out');
  assert.equal((await stat(join(stateDir, 'vehicle.json'))).mode & 0o777, 0o600);
  const record = JSON.parse(await readFile(join(stateDir, 'ecus', 'EDT', 'boot-record.json'), 'utf8')) as { active: string };
  assert.equal(record.active, 'A');
  assert.equal(await ecu.stop(), 0, ecu.output.join('\n'));
  assert.ok(ecu.output.some((line) => /ECU EDT stopped.*|"signal":"SIGTERM"/.test(line)));
});

test('canota ecu refuses bad arguments with exit code 2, and a broken config with exit code 1', async (t) => {
  const stateDir = await tempDir(t);
  const unknownEcu = await runCanota(['ecu', 'ABS', '--bus', 'virtual', '--state-dir', stateDir]);
  assert.equal(unknownEcu.code, 2);
  assert.match(unknownEcu.stderr, /the vehicle has no ECU "ABS" \(it has TMU, CGW, EDT\)/);
  const badBus = await runCanota(['ecu', 'EDT', '--bus', 'socketcan', '--state-dir', stateDir]);
  assert.equal(badBus.code, 2);
  assert.match(badBus.stderr, /unknown --bus "socketcan" \(known: virtual, udp-multicast\)/);
  const badVin = await runCanota(['ecu', 'EDT', '--vin', 'IOQ', '--state-dir', stateDir]);
  assert.equal(badVin.code, 2);
  assert.match(badVin.stderr, /--vin IOQ is not a VIN/);
  const missing = await runCanota(['ecu', 'EDT', '--bus', 'virtual', '--config', join(stateDir, 'none.json'), '--state-dir', stateDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read vehicle config .*none\.json/);
});

test('canota ecu EDT --driving: its authenticated status frames say moving until SIGUSR1 stops the car; only the motion source drives', async (t) => {
  const stateDir = await tempDir(t);
  const port = 20_000 + Math.floor(Math.random() * 40_000);
  const config = standardVehicleConfig('WCANTA1EC0C0MMAND', { driver: 'udp-multicast' });
  config.buses.canb!.port = port;
  await writeFile(join(stateDir, 'vehicle.json'), JSON.stringify(config), { mode: 0o600 });
  const ecu = await startCanota(['ecu', 'EDT', '--driving', '--state-dir', stateDir], { ready: /ECU EDT ready on canb/ });
  t.after(() => ecu.stop());
  const dump = async () => {
    const result = await runCanota(['can', 'dump', '--decode', '--state-dir', stateDir, '--channel', 'canb', '--udp-port', String(port), '--count', '2', '--filter', '530:7FF']);
    assert.equal(result.code, 0, result.stderr);
    return result.stdout.trim().split('\n').map((line) => line.split('  ; ')[1]);
  };
  for (const note of await dump()) assert.match(note ?? '', /^EDT_Status 1\.0\.0 Running bank=A moving fv=\d+\/\d+ mac=ok$/);
  ecu.child.kill('SIGUSR1');
  await ecu.waitFor(/drive input: the vehicle stopped/);
  const notes = await dump();
  assert.match(notes.at(-1) ?? '', /^EDT_Status 1\.0\.0 Running bank=A stopped fv=\d+\/\d+ mac=ok$/);
  assert.equal(await ecu.stop(), 0);

  const notTheSource = await runCanota(['ecu', 'CGW', '--driving', '--bus', 'virtual', '--state-dir', stateDir]);
  assert.equal(notTheSource.code, 2);
  assert.match(notTheSource.stderr, /--driving is the drive input of the motion source \(EDT\), not of CGW/);
});
