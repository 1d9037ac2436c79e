import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request as httpRequest } from 'node:http';
import { WebHmi } from '../../../src/vehicle/cgw/hmi/web/web-hmi.ts';
import { edtOffer, eventually, gatewayRig } from './support.ts';

/** The page as a browser without JavaScript sees it: GET, keep the cookie, post the form. */
class FormClient {
  cookie = '';
  constructor(readonly url: string) {}

  async get(path = '/'): Promise<{ status: number; text: string; headers: Headers }> {
    const response = await fetch(new URL(path, this.url), { headers: this.cookie ? { cookie: this.cookie } : {} });
    const setCookie = response.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';')[0]!;
    return { status: response.status, text: await response.text(), headers: response.headers };
  }

  async post(fields: Record<string, string>, cookie = this.cookie): Promise<{ status: number; location: string | null; text: string }> {
    const response = await fetch(new URL('/decision', this.url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: response.status, location: response.headers.get('location'), text: await response.text() };
  }
}

const field = (page: string, name: string): string => {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  assert.ok(match, `the page has a ${name} field`);
  return match[1]!;
};

test('without JavaScript: the offer is shown escaped, the form needs its CSRF token, Approve approves', async (t) => {
  const hmi = await WebHmi.start();
  const { cgw, approval, edtReachable } = await gatewayRig(t, { hmi });
  const browser = new FormClient(hmi.url);
  assert.match(hmi.url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'loopback by default');

  const idle = await browser.get();
  assert.equal(idle.status, 200);
  assert.match(idle.text, /No update is waiting/);
  assert.match(idle.headers.get('content-security-policy')!, /default-src 'none';script-src 'self'/);
  assert.match(idle.headers.get('content-security-policy')!, /frame-ancestors 'none'/);

  await approval.offer(edtOffer({
    campaign_id: 'spring-<script>alert(1)</script>',
    notes: 'Range +5%\n<img src=x onerror=alert(1)>',
  }));
  const page = await browser.get();
  assert.match(page.text, /spring-&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page.text, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.doesNotMatch(page.text, /<script>alert|<img src=x/);
  assert.match(page.text, /<td>1\.0\.0<\/td><td>2\.0\.0<\/td><td>1\.0 MiB<\/td><td>about \d+ s<\/td>/);
  const offerId = field(page.text, 'offer_id');
  const token = field(page.text, '_csrf');

  // A form from elsewhere: no token, a wrong token, or the token without its cookie.
  for (const [fields, cookie] of [
    [{ offer_id: offerId, decision: 'approve' }, browser.cookie],
    [{ offer_id: offerId, decision: 'approve', _csrf: 'forged' }, browser.cookie],
    [{ offer_id: offerId, decision: 'approve', _csrf: token }, ''],
  ] as const) {
    const refused = await browser.post(fields, cookie);
    assert.equal(refused.status, 403);
    assert.match(refused.text, /form has expired/);
  }
  assert.deepEqual(await approval.poll(), { state: 'pending' });

  // An answer for another offer, or a bad choice, changes nothing.
  assert.equal((await browser.post({ offer_id: 'not-this-one', decision: 'approve', _csrf: token })).status, 409);
  assert.equal((await browser.post({ offer_id: offerId, decision: 'later', postpone_minutes: '7', _csrf: token })).status, 400);
  assert.equal((await browser.post({ offer_id: offerId, decision: 'install-twice', _csrf: token })).status, 400);
  assert.deepEqual(await approval.poll(), { state: 'pending' });

  const approved = await browser.post({ offer_id: offerId, decision: 'approve', _csrf: token });
  assert.equal(approved.status, 303);
  assert.equal(approved.location, '/');
  assert.deepEqual(await approval.poll(), { state: 'approved' });
  assert.equal(await edtReachable(), true);
  assert.equal((await browser.post({ offer_id: offerId, decision: 'decline', _csrf: token })).status, 409, 'answered once');

  await approval.progress({ ecu: 'EDT', phase: 'programming', percent: 42 });
  const installing = await browser.get();
  assert.match(installing.text, /Installing/);
  assert.match(installing.text, /<td class="phase">programming<\/td><td><progress max="100" value="42">42%<\/progress>/);
  assert.match(installing.text, /<noscript><meta http-equiv="refresh" content="3"><\/noscript>/, 'refreshes itself without JavaScript');
  const state = await (await fetch(new URL('/state', hmi.url))).json() as { status: string; progress: Record<string, { percent: number }> };
  assert.equal(state.status, 'approved');
  assert.equal(state.progress.EDT!.percent, 42);

  await approval.finish({ outcome: 'success', ecus: { EDT: { outcome: 'success', version: '2.0.0' } } });
  const done = await browser.get();
  assert.match(done.text, /Update installed\./);
  assert.match(done.text, /<li>EDT: success, version 2\.0\.0<\/li>/);
  assert.equal(cgw.gateway.firewall.open, false);
});

test('without JavaScript: Later postpones by the chosen time, Decline declines', async (t) => {
  const hmi = await WebHmi.start();
  const { approval } = await gatewayRig(t, { hmi });
  const browser = new FormClient(hmi.url);

  await approval.offer(edtOffer());
  let page = await browser.get();
  const later = await browser.post({ offer_id: field(page.text, 'offer_id'), decision: 'later', postpone_minutes: '240', _csrf: field(page.text, '_csrf') });
  assert.equal(later.status, 303);
  const postponed = await approval.poll();
  assert.equal(postponed.state, 'postponed');
  assert.ok(postponed.state === 'postponed' && postponed.retryAfterSeconds > 4 * 3600 - 10 && postponed.retryAfterSeconds <= 4 * 3600);
  assert.match((await browser.get()).text, /postponed until <time datetime="[^"]+">/);

  await approval.offer(edtOffer({ campaign_id: 'campaign-43' }));
  page = await browser.get();
  assert.match(page.text, /campaign-43/);
  assert.equal((await browser.post({ offer_id: field(page.text, 'offer_id'), decision: 'decline', _csrf: field(page.text, '_csrf') })).status, 303);
  assert.deepEqual(await approval.poll(), { state: 'declined' });
  assert.match((await browser.get()).text, /You declined the update <strong>campaign-43<\/strong>/);
});

test('the page answers only under its own host name (DNS rebinding) and withdraws an offer the TMU stops', async (t) => {
  const hmi = await WebHmi.start();
  const { approval } = await gatewayRig(t, { hmi });
  const port = new URL(hmi.url).port;
  const status = (host: string) => new Promise<number>((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/', headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on('error', reject);
    request.end();
  });
  assert.equal(await status(`evil.example:${port}`), 421);
  assert.equal(await status(`localhost:${port}`), 200);
  assert.equal(await status(`127.0.0.1:${port}`), 200);

  await approval.offer(edtOffer());
  const browser = new FormClient(hmi.url);
  const page = await browser.get();
  await approval.finish({ outcome: 'failed', message: 'withdrawn: a newer release arrived' });
  await eventually(() => hmi.view.state.status === 'withdrawn', 'withdrawn');
  assert.match((await browser.get()).text, /is no longer offered/);
  const late = await browser.post({ offer_id: field(page.text, 'offer_id'), decision: 'approve', _csrf: field(page.text, '_csrf') });
  assert.equal(late.status, 409);
  assert.match(late.text, /no longer waiting for an answer/);
});
