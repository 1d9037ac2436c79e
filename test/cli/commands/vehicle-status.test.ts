import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VehicleStatus } from '../../../src/vehicle/status.ts';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { ecuBench, manifestFor, sha256, VIN } from '../../vehicle/ecu/support.ts';

test('canota vehicle status --json prints the docs/architecture.md shape; without --json a table', async (t) => {
  const bench = await ecuBench(t);
  await writeFile(join(bench.stateDir, 'vehicle.json'), JSON.stringify(bench.config));
  const image = randomBytes(2048);
  await bench.session.program(image, manifestFor(image, null, { firmware_version: '2.0.0' }));
  await bench.session.activate();
  await bench.ecu.close(); // the car need not run

  const json = await runCanota(['vehicle', 'status', '--state-dir', bench.stateDir, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const status = JSON.parse(json.stdout) as VehicleStatus;
  assert.equal(status.vin, VIN);
  const edt = status.ecus.EDT!;
  assert.deepEqual({ version: edt.version, sha256: edt.sha256, active_bank: edt.active_bank, state: edt.state },
    { version: '2.0.0', sha256: sha256(image), active_bank: 'B', state: 'ok' });
  assert.equal(edt.last_boot?.outcome, 'booted');
  assert.deepEqual([edt.confirmed, edt.floor], [false, '1.0.0']);
  assert.equal(status.ecus.CGW!.state, 'not-started');

  const table = await runCanota(['vehicle', 'status'], { env: { CANOTA_STATE_DIR: bench.stateDir } });
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trim().split('\n');
  assert.equal(lines[0], `VIN ${VIN}`);
  assert.match(lines[1]!, /^ECU\s+VERSION\s+BANK\s+STATE\s+CONFIRMED\s+FLOOR\s+SHA-256\s+LAST BOOT$/);
  assert.match(lines.find((line) => line.startsWith('EDT'))!,
    new RegExp(`^EDT\\s+2\\.0\\.0\\s+B\\s+ok\\s+no \\(on trial\\)\\s+1\\.0\\.0\\s+${sha256(image).slice(0, 16)}…\\s+\\S+ booted$`));
  assert.match(lines.find((line) => line.startsWith('TMU'))!, /^TMU\s+-\s+-\s+not-started\s+-\s+-/);
});

test('canota vehicle status on a missing state dir fails with exit code 1 and says why', async (t) => {
  const dir = await tempDir(t);
  const result = await runCanota(['vehicle', 'status', '--state-dir', join(dir, 'nothing-here'), '--json']);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /no vehicle state in .*nothing-here/);
  assert.equal(result.stdout, '');
});
