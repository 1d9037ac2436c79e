import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Page } from 'playwright-core';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { image } from '../support/images.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

const vin = 'WCANTANARR0000001';

async function pageWidth(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
}

async function inViewport(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).first().boundingBox();
  return box !== null && box.x >= 0 && box.x + box.width <= page.viewportSize()!.width && box.y >= 0;
}

// The complaint: at 390 px the admin pages were 513 px wide and Log out was off-screen. Every page of
// the admin UI, with content in it, on a phone-sized Chromium (Debian's, never a downloaded browser).
test('every admin page fits a 390 px phone: no horizontal scroll, every navigation link and Log out on screen', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const token = await registerVehicle(server.dataDir, vin);
  const uploaded = await boss.upload('edt-2.0.0-with-a-rather-long-file-name-for-a-phone.bin', image('EDT 2.0.0'), {
    ecu: 'EDT', firmware_version: '2.0.0', notes: 'A long release note that a phone has to wrap somewhere sensible. '.repeat(4),
  });
  assert.equal(uploaded.status, 200);
  const report = await server.client().fetch(`/api/v1/vehicles/${vin}/reports`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(vehicleReport({ message: 'EDT: boot check failed after activation; rolled back to 1.0.0 and reported. '.repeat(3), outcome: 'failed' })),
  });
  assert.equal(report.status, 201);
  const csrf = csrfTokenIn((await boss.fetch('/')).text);
  const created = await boss.fetch('/api/v1/deployments', {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    body: JSON.stringify({ name: 'A deployment with a long name to see it wrap on a phone', release_ids: [uploaded.json<{ release: { id: number } }>().release.id], target: { all: true } }),
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json<{ id: number }>().id;

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update'] });
  t.after(() => browser.close());
  const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  await page.goto(`${server.url}/login`);
  assert.ok(await pageWidth(page) <= 390, `/login is ${await pageWidth(page)} px wide`);
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', admin.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${server.url}/`);

  // (/docs is Swagger UI's own page, not ours.)
  for (const path of ['/', '/vehicles', `/vehicles/${vin}`, '/deployments', `/deployments/${id}`, '/ecus', '/audit', '/users']) {
    await page.goto(`${server.url}${path}`);
    const width = await pageWidth(page);
    assert.ok(width <= 390, `${path} is ${width} px wide at 390`);
    assert.ok(await inViewport(page, 'form.logout button'), `${path}: Log out is on screen`);
    for (const link of await page.locator('header nav a').all()) {
      const box = await link.boundingBox();
      assert.ok(box && box.x >= 0 && box.x + box.width <= 390, `${path}: the nav link ${await link.textContent()} is on screen`);
    }
  }
});
