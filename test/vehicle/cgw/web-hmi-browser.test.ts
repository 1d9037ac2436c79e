import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { WebHmi } from '../../../src/vehicle/cgw/hmi/web/web-hmi.ts';
import { edtOffer, gatewayRig } from './support.ts';

async function launchChromium(t: { after: (fn: () => Promise<void>) => void }): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  return browser;
}

test('in Chromium: the offer appears by itself, Approve approves, progress and the result show live', async (t) => {
  const browser = await launchChromium(t);
  const hmi = await WebHmi.start();
  const { approval, edtReachable } = await gatewayRig(t, { hmi });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()); });
  page.on('pageerror', (error) => problems.push(error.message));

  await page.goto(hmi.url);
  await page.locator('#status', { hasText: 'No update is waiting' }).waitFor();

  // The open page learns about the offer through its event stream.
  await approval.offer(edtOffer({ notes: 'Range +5%\n<b>not bold</b>' }));
  await page.locator('button.approve').waitFor({ timeout: 5000 });
  assert.match(await page.locator('table.offer tbody').innerText(), /EDT\s+1\.0\.0\s+2\.0\.0\s+1\.0 MiB\s+about \d+ s/);
  assert.equal(await page.locator('#notes').innerText(), 'Range +5%\n<b>not bold</b>');
  assert.match(await page.locator('#estimate').innerText(), /^\d+ s$/);

  await page.locator('button.approve').click();
  await page.locator('#status', { hasText: 'Installing' }).waitFor();
  assert.deepEqual(await approval.poll(), { state: 'approved' });
  assert.equal(await edtReachable(), true);

  // Progress updates in place, without a reload.
  await page.evaluate(() => { (globalThis as unknown as { marker: number }).marker = 1; });
  await approval.progress({ ecu: 'EDT', phase: 'programming', percent: 37 });
  const row = page.locator('tr[data-ecu="EDT"]');
  await row.locator('.percent', { hasText: '37%' }).waitFor();
  assert.equal(await row.locator('.phase').innerText(), 'programming');
  assert.equal(await row.locator('progress').evaluate((element) => (element as unknown as { value: number }).value), 37);
  await approval.progress({ ecu: 'EDT', phase: 'checking', percent: 100 });
  await row.locator('.phase', { hasText: 'checking' }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 1, 'the same page, not reloaded');

  await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
  await page.locator('#status', { hasText: 'Update installed.' }).waitFor();
  assert.equal(await page.locator('#result').innerText(), 'EDT: success, version 2.0.0');
  assert.deepEqual(problems, [], 'no script errors and no CSP violations');
});

test('in Chromium: Later postpones; with JavaScript off the form still decides', async (t) => {
  const browser = await launchChromium(t);
  const hmi = await WebHmi.start();
  const { approval } = await gatewayRig(t, { hmi });

  const page = await browser.newPage();
  await approval.offer(edtOffer());
  await page.goto(hmi.url);
  await page.locator('#postpone_minutes').selectOption('15');
  await page.locator('button.later').click();
  await page.locator('#status', { hasText: 'postponed until' }).waitFor();
  const postponed = await approval.poll();
  assert.ok(postponed.state === 'postponed' && postponed.retryAfterSeconds > 14 * 60 && postponed.retryAfterSeconds <= 15 * 60);

  const noScript = await browser.newContext({ javaScriptEnabled: false });
  t.after(() => noScript.close());
  const plain = await noScript.newPage();
  await approval.offer(edtOffer({ campaign_id: 'campaign-43' }));
  await plain.goto(hmi.url);
  assert.match(await plain.locator('#status').innerText(), /campaign-43/);
  await plain.locator('button.decline').click();
  await plain.locator('#status', { hasText: 'You declined the update campaign-43' }).waitFor();
  assert.deepEqual(await approval.poll(), { state: 'declined' });
});
