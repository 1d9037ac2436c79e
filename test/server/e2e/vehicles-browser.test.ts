import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser } from 'playwright-core';
import { admin, startTestServer } from '../support/server.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

const VIN = 'WCANTABRWS0000001';

// Debian's Chromium, never a downloaded browser.
async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

for (const javaScriptEnabled of [true, false]) {
  test(`browser (JavaScript ${javaScriptEnabled ? 'on' : 'off'}): after a report, /vehicles shows the vehicle with its ECU versions; its page the history`, async (t) => {
    const server = await startTestServer(t);
    const token = await registerVehicle(server.dataDir, VIN);
    const car = server.client();
    const post = (body: Record<string, unknown>) => car.fetch(`/api/v1/vehicles/${VIN}/reports`, {
      method: 'POST', body: JSON.stringify(body), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    assert.equal((await post(vehicleReport({
      outcome: 'failed', campaign_id: 'c-1111111111111111', message: 'EDT failed: <b>check</b>',
      ecus: { EDT: { version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running' } },
      updates: [{ ecu: 'EDT', from: '1.0.0', to: '2.0.0', release_id: '1', result: 'failed', error: 'the ECU refused the image' }],
      at: new Date(Date.now() - 60_000).toISOString(),
    }))).status, 201);
    assert.equal((await post(vehicleReport({ campaign_id: 'c-2222222222222222' }))).status, 201);

    const browser = await launch();
    t.after(() => browser.close());
    const page = await (await browser.newContext({ javaScriptEnabled })).newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(`${server.url}/vehicles`);
    assert.equal(new URL(page.url()).pathname, '/login', 'not logged in: sent to the login page');
    await page.fill('input[name=username]', admin.username);
    await page.fill('input[name=password]', admin.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/`);

    await page.click('header nav a:text-is("Vehicles")');
    await page.waitForURL(`${server.url}/vehicles`);
    assert.equal(await page.getAttribute('header nav a:text-is("Vehicles")', 'aria-current'), 'page');
    const row = page.locator('table.vehicles tbody tr', { hasText: VIN });
    const ecus = await row.locator('ul.ecus li').allTextContents();
    assert.deepEqual(ecus.map((text) => text.replace(/\s+/g, ' ').trim()),
      ['CGW 1.0.0 bank A Running', 'EDT 2.0.0 bank B Running', 'TMU 1.0.0 bank A Running']);
    assert.match(await row.locator('td.report').textContent() ?? '', /success/);
    assert.match(await row.locator('td.status').textContent() ?? '', /online\s+seen .* from 127\.0\.0\.1/);

    await row.locator('a.vin').click();
    await page.waitForURL(`${server.url}/vehicles/${VIN}`);
    assert.equal(await page.textContent('h1 .vin'), VIN);
    const reports = page.locator('table.reports tbody tr');
    assert.equal(await reports.count(), 2);
    const failed = reports.nth(1);
    assert.equal(await failed.getAttribute('class'), 'report outcome-failed');
    assert.match(await failed.textContent() ?? '', /EDT 1\.0\.0 → 2\.0\.0 failed\s*the ECU refused the image/);
    assert.equal(await failed.locator('td').last().textContent(), 'EDT failed: <b>check</b>', 'shown as text, never as markup');
    assert.equal(await page.locator('table.reports b').count(), 0);
    assert.deepEqual(cspViolations, [], 'the pages need nothing the CSP forbids');
  });
}
