import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { admin, startTestServer, type TestServer } from '../support/server.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

const vin = (n: number) => `WCANTAPHN0000000${n}`;

// Debian's Chromium, never a downloaded browser.
async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function report(server: TestServer, n: number, token: string, edt: string): Promise<void> {
  const response = await server.client().fetch(`/api/v1/vehicles/${vin(n)}/reports`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(vehicleReport({ ecus: { EDT: { version: edt, sha256: null, active_bank: 'A', state: 'Running' } }, message: `EDT ${edt} running` })),
  });
  assert.equal(response.status, 201, response.text);
}

async function logIn(page: Page, server: TestServer): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', admin.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${server.url}/`);
}

/** Whether the element lies wholly inside the viewport's width (and starts inside its height). */
async function inViewport(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).first().boundingBox();
  const width = page.viewportSize()!.width;
  return box !== null && box.x >= 0 && box.x + box.width <= width && box.y >= 0;
}

async function pageWidth(page: Page): Promise<number> {
  // Runs in the page: the document's full width, scrolled parts included.
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
}

test('the vehicles page in Chromium: fits a 390 px phone and a desktop, filters by URL, refreshes itself when a report arrives', async (t) => {
  const server = await startTestServer(t);
  const tokens = [await registerVehicle(server.dataDir, vin(1)), await registerVehicle(server.dataDir, vin(2)), await registerVehicle(server.dataDir, vin(3))];
  await report(server, 1, tokens[0]!, '1.0.0');
  await report(server, 2, tokens[1]!, '2.0.0');
  const tagged = await registerVehicle(server.dataDir, vin(4));
  await report(server, 4, tagged, '1.5.0');

  const browser = await launch();
  t.after(() => browser.close());
  const cspViolations: string[] = [];

  await t.test('390×844: no horizontal scroll, Log out and the filter form on screen, tags edited on the vehicle page', async () => {
    const page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await logIn(page, server);
    assert.ok(await pageWidth(page) <= 390, `the release page (upload form) is ${await pageWidth(page)} px wide`);
    assert.ok(await inViewport(page, 'form.logout button'), 'Log out is on screen on every page');
    await page.goto(`${server.url}/vehicles/${vin(4)}`);
    await page.fill('form.tags-form input[name=tags]', 'pilot, fleet-berlin');
    await page.click('form.tags-form button[type=submit]');
    await page.waitForSelector('p.flash');
    assert.equal(await page.textContent('p.flash'), `Tags of ${vin(4)}: fleet-berlin, pilot.`);
    assert.deepEqual(await page.locator('.vehicle-tags a.tag').allTextContents(), ['fleet-berlin', 'pilot']);
    assert.ok(await pageWidth(page) <= 390, `the vehicle page is ${await pageWidth(page)} px wide`);

    await page.click('header nav a:text-is("Vehicles")');
    await page.waitForURL(`${server.url}/vehicles`);
    assert.ok(await pageWidth(page) <= 390, `/vehicles is ${await pageWidth(page)} px wide`);
    assert.ok(await inViewport(page, 'form.logout button'), 'Log out is on screen');
    assert.ok(await inViewport(page, 'form.vehicle-filters'), 'the filter form is on screen');
    for (const field of ['q', 'tag', 'ecu', 'version_below', 'online', 'sort']) {
      assert.ok(await inViewport(page, `form.vehicle-filters [name=${field}]`), `${field} is on screen`);
    }
    assert.match(await page.textContent('.showing') ?? '', /showing 1–4 of 4/);
    const card = page.locator(`tr[data-vin="${vin(4)}"]`);
    assert.ok(await inViewport(page, `tr[data-vin="${vin(4)}"]`), 'each vehicle is a card inside the screen');
    assert.match(await card.textContent() ?? '', /online[\s\S]*fleet-berlin[\s\S]*pilot[\s\S]*EDT 1\.5\.0/);

    // The form is a GET: the search is the URL (bookmarkable), and the fields show it.
    await page.fill('form.vehicle-filters [name=ecu]', 'EDT');
    await page.fill('form.vehicle-filters [name=version_below]', '2.0.0');
    await page.selectOption('form.vehicle-filters [name=sort]', '-vin');
    await page.click('form.vehicle-filters button[type=submit]');
    await page.waitForURL(/version_below=2\.0\.0/);
    const url = new URL(page.url());
    assert.deepEqual([url.searchParams.get('ecu'), url.searchParams.get('version_below'), url.searchParams.get('sort')], ['EDT', '2.0.0', '-vin']);
    assert.deepEqual(await page.locator('table.vehicles tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-vin'))), [vin(4), vin(1)]);
    assert.match(await page.textContent('.showing') ?? '', /showing 1–2 of 2/);
    assert.equal(await page.inputValue('form.vehicle-filters [name=version_below]'), '2.0.0');
    await page.goto(`${server.url}/vehicles?tag=pilot`);
    assert.deepEqual(await page.locator('table.vehicles tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-vin'))), [vin(4)]);
    assert.ok(await pageWidth(page) <= 390);
  });

  await t.test('desktop: a table with its header; the list refreshes itself without a reload and keeps the filters', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await logIn(page, server);
    await page.goto(`${server.url}/vehicles?ecu=EDT&sort=-last_seen`);
    assert.ok(await page.locator('table.vehicles thead').isVisible(), 'a table on a wide screen');
    assert.ok(await pageWidth(page) <= 1280);
    assert.deepEqual(await page.locator('table.vehicles thead th').allTextContents(), ['VIN', 'Status', 'Tags', 'ECUs and versions', 'Last report']);
    assert.equal(await page.locator(`tr[data-vin="${vin(3)}"]`).count(), 0, 'vehicle 3 has reported nothing yet');
    await page.waitForSelector('#vehicle-live:not([hidden])');

    // Something typed into the form but not submitted, and a marker a reload would wipe.
    await page.fill('form.vehicle-filters [name=q]', 'PHN');
    await page.evaluate(() => { (globalThis as unknown as { stayed: boolean }).stayed = true; });
    await report(server, 3, tokens[2]!, '0.9.0');
    const row = page.locator(`tr[data-vin="${vin(3)}"]`);
    await row.waitFor({ timeout: 15_000 });
    assert.match(await row.textContent() ?? '', /EDT 0\.9\.0[\s\S]*success[\s\S]*EDT 0\.9\.0 running/);
    assert.deepEqual(await page.locator('table.vehicles tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-vin'))),
      [vin(3), vin(4), vin(2), vin(1)], 'still the same search: ECU EDT, newest contact first');
    assert.match(await page.textContent('.showing') ?? '', /showing 1–4 of 4/);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'no reload');
    assert.equal(await page.inputValue('form.vehicle-filters [name=q]'), 'PHN', 'what was typed is still there');
    assert.equal(new URL(page.url()).search, '?ecu=EDT&sort=-last_seen');
  });

  assert.deepEqual(cspViolations, [], 'the pages need nothing the CSP forbids');
});
