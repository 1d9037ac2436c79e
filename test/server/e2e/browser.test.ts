import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { admin, startTestServer } from '../support/server.ts';
import { tempDir } from '../../support/temp-dir.ts';

// Debian's Chromium, never a downloaded browser.
async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

for (const javaScriptEnabled of [true, false]) {
  test(`browser (JavaScript ${javaScriptEnabled ? 'on' : 'off'}): log in, upload with the form, see the release, log out`, async (t) => {
    const server = await startTestServer(t);
    const files = await tempDir(t);
    const firmware = join(files, `edt-${javaScriptEnabled ? 'js' : 'nojs'}.bin`);
    await writeFile(firmware, Buffer.alloc(300_000, 0xab));

    const browser = await launch();
    t.after(() => browser.close());
    const context = await browser.newContext({ javaScriptEnabled });
    const page = await context.newPage();
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
    });

    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/login', 'not logged in: sent to the login page');
    await page.fill('input[name=username]', admin.username);
    await page.fill('input[name=password]', 'wrong-password-99');
    await page.click('button[type=submit]');
    assert.equal(await page.textContent('p.error'), 'Invalid username or password.');

    await page.fill('input[name=username]', admin.username);
    await page.fill('input[name=password]', admin.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${server.url}/`);
    assert.match(await page.textContent('.who') ?? '', /alice \(admin\)/);
    assert.equal(await page.textContent('.empty'), 'No release uploaded yet.');

    await page.fill('#upload input[name=ecu]', 'EDT');
    await page.fill('#upload input[name=firmware_version]', '2.1.0');
    await page.setInputFiles('#upload input[name=file]', firmware);
    const uploadRequest = page.waitForRequest((r) => r.url().endsWith('/upload') && r.method() === 'POST');
    await page.click('#upload button[type=submit]');
    // With JavaScript the form goes through XHR (progress bar, JSON answer); without, a plain form post.
    const accept = (await (await uploadRequest).allHeaders()).accept ?? '';
    if (javaScriptEnabled) assert.equal(accept, 'application/json');
    else assert.match(accept, /text\/html/);
    const row = page.locator('table.releases tbody tr').first();
    await row.waitFor({ timeout: 15_000 });
    const cells = await row.locator('td').allTextContents();
    assert.match(cells[0]!, new RegExp(`edt-${javaScriptEnabled ? 'js' : 'nojs'}\\.bin`));
    assert.equal(cells[1], 'EDT');
    assert.equal(cells[2], '2.1.0');
    assert.equal(cells[3], '293.0 KiB');
    assert.match(cells[4]!, /^[0-9a-f]{64}$/);
    assert.equal(cells[5], admin.username);
    if (!javaScriptEnabled) assert.match(await page.textContent('.flash') ?? '', /uploaded edt-nojs\.bin/);

    await page.click('form.logout button');
    await page.waitForURL(`${server.url}/login`);
    await page.goto(`${server.url}/`);
    assert.equal(new URL(page.url()).pathname, '/login', 'logged out for real');
    assert.deepEqual(cspViolations, [], 'the pages need nothing the CSP forbids');
  });
}
