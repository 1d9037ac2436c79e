import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import { admin, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { image } from '../support/images.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

const vin = (n: number) => `WCANTADPL0000000${n}`;

// Debian's Chromium, never a downloaded browser.
async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function logIn(page: Page, server: TestServer): Promise<void> {
  await page.goto(`${server.url}/login`);
  await page.fill('input[name=username]', admin.username);
  await page.fill('input[name=password]', admin.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${server.url}/`);
}

async function pageWidth(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth);
}

async function inViewport(page: Page, selector: string): Promise<boolean> {
  const box = await page.locator(selector).first().boundingBox();
  const width = page.viewportSize()!.width;
  return box !== null && box.x >= 0 && box.x + box.width <= width && box.y >= 0;
}

test('the Deployments pages in Chromium: started from the form at 390 px, followed live as cars report, paused and resumed with the buttons', async (t) => {
  const server = await startTestServer(t);
  const tokens = new Map<string, string>();
  for (let n = 1; n <= 3; n++) tokens.set(vin(n), await registerVehicle(server.dataDir, vin(n)));
  const boss = await loggedIn(server, admin);
  const uploaded = await boss.upload('edt-2.0.0.bin', image('EDT 2.0.0'), { ecu: 'EDT', firmware_version: '2.0.0' });
  assert.equal(uploaded.status, 200);
  const api = server.client();
  const car = (n: number, path: string, body: object) => api.fetch(`/api/v1/vehicles/${vin(n)}/${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${tokens.get(vin(n))}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  const browser = await launch();
  t.after(() => browser.close());
  const cspViolations: string[] = [];
  const open = async (width: number, height: number) => {
    const page = await (await browser.newContext({ viewport: { width, height } })).newPage();
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });
    await logIn(page, server);
    return page;
  };
  let deploymentUrl = '';

  await t.test('390×844: the form refuses what is missing and keeps what was typed, then starts the deployment', async () => {
    const page = await open(390, 844);
    await page.click('header nav a:text-is("Deployments")');
    await page.waitForURL(`${server.url}/deployments`);
    assert.match(await page.textContent('main') ?? '', /No deployment yet/);
    assert.ok(await pageWidth(page) <= 390, `/deployments is ${await pageWidth(page)} px wide`);
    assert.ok(await inViewport(page, 'form.logout button'), 'Log out is on screen');

    await page.fill('#new-deployment [name=name]', 'EDT 2.0.0 pilot');
    await page.fill('#new-deployment [name=waves]', '1, 100%');
    await page.click('#new-deployment button[type=submit]');
    await page.waitForSelector('p.error');
    assert.equal(await page.textContent('p.error'), 'give 1 to 32 release ids');
    assert.equal(await page.inputValue('#new-deployment [name=name]'), 'EDT 2.0.0 pilot', 'what was typed is kept');
    assert.equal(await page.inputValue('#new-deployment [name=waves]'), '1, 100%');

    await page.check('#new-deployment [name=release_ids]');
    await page.check('#new-deployment [name=target][value=vins]');
    await page.fill('#new-deployment [name=vins]', `${vin(2)}\n${vin(1)} ${vin(3)}`);
    for (const field of ['name', 'vins', 'waves', 'failure_threshold_percent', 'start_at']) {
      assert.ok(await inViewport(page, `#new-deployment [name=${field}]`), `${field} is on screen`);
    }
    assert.ok(await pageWidth(page) <= 390);
    await page.click('#new-deployment button[type=submit]');
    await page.waitForURL(/\/deployments\/\d+$/);
    deploymentUrl = page.url();
    assert.match(await page.textContent('p.flash') ?? '', /deployment \d+ "EDT 2\.0\.0 pilot" started/);
    assert.ok(await pageWidth(page) <= 390, `the deployment page is ${await pageWidth(page)} px wide`);
    assert.ok(await inViewport(page, 'div.actions button'), 'the buttons are on screen');
    const rows = await page.locator('table.deployment-vehicles tbody tr').allTextContents();
    assert.equal(rows.length, 3);
    assert.match(rows[0]!, new RegExp(`${vin(2)}[\\s\\S]*1[\\s\\S]*assigned`), 'the first VIN given is the first wave');
    assert.match(rows[1]!, /waiting/);
  });

  await t.test('desktop: the page follows the cars without a reload: progress, a success, the next wave, the chart', async () => {
    const page = await open(1280, 800);
    await page.goto(deploymentUrl);
    await page.waitForSelector('[data-live-status]:not([hidden])');
    await page.evaluate(() => { (globalThis as unknown as { stayed: boolean }).stayed = true; });
    const campaign = deploymentUrl.split('/').at(-1)!;
    assert.equal((await car(2, 'deployment-status', { campaign_id: campaign, state: 'installing', ecu: 'EDT', percent: 40 })).status, 200);
    await page.locator('#deployment-vehicles', { hasText: 'installing' }).waitFor({ timeout: 15_000 });
    assert.match(await page.textContent('#deployment-vehicles') ?? '', /installing 40 %[\s\S]*EDT/);
    assert.equal((await car(2, 'reports', vehicleReport({ campaign_id: campaign, outcome: 'success' }))).status, 201);
    await page.locator('table.waves tr.current', { hasText: '2 (current)' }).waitFor({ timeout: 15_000 });
    assert.match(await page.textContent('figure.chart figcaption') ?? '', /succeeded or declined: 1 · .* failed: 0 · of 3/);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed), true, 'no reload');

    await page.click('div.actions button:text-is("Pause")');
    await page.waitForSelector('p.flash');
    assert.match(await page.textContent('p.flash') ?? '', /pause: deployment is paused \(paused by alice\)/);
    assert.equal(await page.textContent('span.status'), 'paused');
    assert.deepEqual(await page.locator('div.actions button').allTextContents(), ['Resume', 'Advance', 'Cancel']);
    await page.click('div.actions button:text-is("Resume")');
    await page.waitForSelector('span.status:text-is("running")');

    await page.goto(`${server.url}/deployments`);
    const listed = page.locator('table.deployments tbody tr');
    assert.equal(await listed.count(), 1);
    assert.match(await listed.first().textContent() ?? '', /EDT 2\.0\.0 pilot[\s\S]*running[\s\S]*wave 2 of 2[\s\S]*EDT 2\.0\.0[\s\S]*1 succeeded or declined, 2 at work/);
    await page.goto(`${deploymentUrl}?state=succeeded`);
    assert.deepEqual(await page.locator('table.deployment-vehicles tbody tr td:first-child').allTextContents(), [vin(2)]);
  });

  await t.test('an employee sees the deployments but no form and no buttons; a forged form post is refused', async () => {
    const worker = await loggedIn(server, { username: 'erin', role: 'employee', password: 'erin-password-1234' });
    const list = await worker.fetch('/deployments');
    assert.equal(list.status, 200);
    assert.doesNotMatch(list.text, /new-deployment/);
    const one = await worker.fetch(new URL(deploymentUrl).pathname);
    assert.doesNotMatch(one.text, /div class="actions"/);
    const forged = await boss.fetch(`${new URL(deploymentUrl).pathname}/cancel`, { form: { csrf_token: 'forged' } });
    assert.equal(forged.status, 403);
  });

  assert.deepEqual(cspViolations, [], 'the pages need nothing the CSP forbids');
});
