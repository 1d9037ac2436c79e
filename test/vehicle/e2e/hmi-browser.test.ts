import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startOtaServer } from '../../support/ota-server.ts';
import { carDir, firmware, pendingReports, sha256, startVehicle, vehicleStatus, waitForLog, writeCar } from './support.ts';

const VIN = 'WCANTAHM100000001';

test('approval in the HMI page (Chromium): the offer appears, Approve installs, progress and the result show live', async (t) => {
  const server = await startOtaServer(t);
  const stateDir = await carDir(t);
  // Flash slow enough (500 kB/s) that the page has progress to show.
  await writeCar(stateDir, VIN, (config) => {
    config.ecus.find((ecu) => ecu.name === 'EDT')!.flash = { eraseBytesPerSecond: 0, programBytesPerSecond: 500_000 };
  });
  const vehicle = await startVehicle(server.url, stateDir, ['--approve', 'hmi', '--hmi-port', '0']);
  const hmiUrl = vehicle.url!;
  assert.match(hmiUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(hmiUrl);
  await page.locator('#status', { hasText: 'No update is waiting' }).waitFor();

  const image = firmware(400_000);
  await server.upload('edt-2.1.0.bin', image, { ecu: 'EDT', firmware_version: '2.1.0', notes: 'Quieter inverter at low speed.' });

  // The open page learns about the offer by itself.
  await page.locator('button.approve').waitFor({ timeout: 15_000 });
  assert.match(await page.locator('table.offer tbody').innerText(), /EDT\s+1\.0\.0\s+2\.1\.0\s+390\.6 KiB\s+about \d+ s/);
  // The release notes came with the release (/api/v1/releases/latest) and reach the driver.
  assert.equal(await page.locator('#notes').innerText(), 'Quieter inverter at low speed.');
  // Nothing is flashed before the driver says yes.
  assert.equal((await vehicleStatus(stateDir)).ecus.EDT!.banks!.B.state, 'empty');

  await page.locator('button.approve').click();
  const row = page.locator('tr[data-ecu="EDT"]');
  await row.locator('.phase', { hasText: 'programming' }).waitFor({ timeout: 10_000 });
  await page.locator('#status', { hasText: 'Update installed.' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.locator('#result').innerText(), 'Installed EDT 2.1.0.\nEDT: installed, version 2.1.0');
  assert.deepEqual(problems, []);

  const done = await waitForLog(vehicle, /^campaign c-[0-9a-f]{16} reported: success$/);
  assert.equal(done.outcome, 'success');
  assert.deepEqual(await readFile(join(stateDir, 'ecus', 'EDT', 'bank-B.img')), image);
  const edt = (await vehicleStatus(stateDir)).ecus.EDT!;
  assert.deepEqual([edt.version, edt.active_bank, edt.sha256], ['2.1.0', 'B', sha256(image)]);
  assert.equal((await pendingReports(stateDir)).at(-1)?.outcome, 'success');
});
