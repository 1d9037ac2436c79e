import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, employee, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { csrfTokenIn, type WebClient } from '../support/web-client.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';
import { runCanota } from '../../support/canota-process.ts';
import { image } from '../support/images.ts';

const VIN = 'WCANTAVEH00000001';
const OTHER_VIN = 'WCANTAVEH00000002';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function postReport(client: WebClient, vin: string, body: unknown, headers: Record<string, string>) {
  return client.fetch(`/api/v1/vehicles/${vin}/reports`, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
  });
}

async function audits(server: TestServer, event: string) {
  return (await server.auditLines()).filter((a) => a.event === event);
}

test('vehicles: tokens on the OTA routes, reports, the vehicles API and pages', async (t) => {
  const server = await startTestServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  const otherToken = await registerVehicle(server.dataDir, OTHER_VIN);
  const uploader = await loggedIn(server, admin);
  assert.equal((await uploader.upload('edt-2.0.0.bin', image('EDT image 2.0.0'), { ecu: 'EDT', firmware_version: '2.0.0' })).status, 200);
  const car = server.client();

  await t.test('a valid token binds the nonce to the vehicle, and the audit log names the VIN', async () => {
    const nonce = await car.fetch('/get_nonce', { headers: bearer(token) });
    assert.equal(nonce.status, 200);
    const { nonce: value } = nonce.json<{ nonce: string }>();
    const download = await car.fetch(`/ota_download/edt-2.0.0.bin?nonce=${value}`, { headers: bearer(token) });
    assert.equal(download.status, 200);
    assert.deepEqual(download.body, image('EDT image 2.0.0'));
    await waitFor(async () => (await audits(server, 'download')).some((a) => a.actor === VIN && a.outcome === 'ok'), 'the download audited under the VIN');
    assert.ok((await audits(server, 'nonce.use')).some((a) => a.actor === VIN && a.outcome === 'ok'));

    for (const [who, headers] of [['an anonymous client', {}], ['another vehicle', bearer(otherToken)]] as const) {
      const { nonce: stolen } = (await car.fetch('/get_nonce', { headers: bearer(token) })).json<{ nonce: string }>();
      const refused = await car.fetch(`/ota_download/edt-2.0.0.bin?nonce=${stolen}`, { headers });
      assert.equal(refused.status, 403, who);
      assert.deepEqual(refused.json(), { error: 'this nonce was issued to another client' }, who);
    }
    const { nonce: anonymous } = (await car.fetch('/get_nonce')).json<{ nonce: string }>();
    assert.equal((await car.fetch(`/ota_download/edt-2.0.0.bin?nonce=${anonymous}`)).status, 200, 'anonymous (seed) clients still work');
  });

  await t.test('a token is accepted on every vehicle route; a wrong one is 401 JSON everywhere, even though anonymous access is allowed', async () => {
    const { nonce } = (await car.fetch('/get_nonce')).json<{ nonce: string }>();
    const routes = ['/latest_version', '/get_nonce', `/ota_download/edt-2.0.0.bin?nonce=${nonce}`, '/api/v1/releases/latest', '/api/v1/releases/1/manifest'];
    for (const route of routes.filter((r) => !r.startsWith('/ota_download'))) {
      assert.equal((await car.fetch(route, { headers: bearer(token) })).status, 200, route);
    }
    // One character off (a different last character: a token may end in 'A' itself).
    const altered = `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    for (const header of [`Bearer ${altered}`, 'Bearer cvt_nothing', `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer']) {
      for (const route of routes) {
        const response = await car.fetch(route, { headers: { authorization: header } });
        assert.equal(response.status, 401, `${route} with ${header}`);
        assert.equal(typeof response.json().error, 'string');
        assert.match(String(response.headers['www-authenticate']), /^Bearer realm="canota", error="invalid_token"$/);
      }
    }
    assert.equal((await car.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce}`)).status, 200, 'a refused token never spent the nonce');
    const denied = await audits(server, 'vehicle.auth');
    assert.ok(denied.length >= 20, `${denied.length} refusals audited`);
    assert.ok(denied.every((a) => a.outcome === 'denied' && a.ip === '127.0.0.1'));
    assert.ok(denied.some((a) => (a.details as { reason: string }).reason === 'unknown token'));
    assert.ok(denied.some((a) => (a.details as { reason: string }).reason === 'malformed Authorization header'));
    assert.ok(!denied.some((a) => String(a.subject).includes(nonce)), 'nonces are redacted from the audit subject');
  });

  await t.test('reports: 201 with the vehicle\'s token; 401 without or with an unknown one, 403 for another VIN, 400 malformed, 413 too large', async () => {
    const stored = await postReport(car, VIN, vehicleReport(), bearer(token));
    assert.equal(stored.status, 201, stored.text);
    assert.equal(typeof stored.json().id, 'number');
    const lower = await postReport(car, VIN.toLowerCase(), vehicleReport({ campaign_id: null, outcome: 'declined', updates: [] }), bearer(token));
    assert.equal(lower.status, 201, 'the VIN in the path is not case-sensitive');

    assert.equal((await postReport(car, VIN, vehicleReport(), {})).status, 401);
    assert.equal((await postReport(car, VIN, vehicleReport(), bearer('cvt_' + 'x'.repeat(43)))).status, 401);
    const foreign = await postReport(car, VIN, vehicleReport(), bearer(otherToken));
    assert.equal(foreign.status, 403);
    assert.match(String(foreign.json().error), /belongs to another vehicle/);
    assert.equal((await postReport(car, 'NOT-A-VIN', vehicleReport(), bearer(token))).status, 403);
    // Who asks is settled before the body: a malformed report without a token is still 401.
    assert.equal((await postReport(car, VIN, '{not json', {})).status, 401);

    const malformed: Array<[string, unknown]> = [
      ['not JSON', '{not json'],
      ['an unknown outcome', vehicleReport({ outcome: 'exploded' })],
      ['no ecus', { ...vehicleReport(), ecus: undefined }],
      ['a bad ECU name', vehicleReport({ ecus: { '<b>': { version: '1', state: 'Running' } } })],
      ['a bad sha256', vehicleReport({ ecus: { EDT: { version: '1', sha256: 'xyz', active_bank: 'A', state: 'Running' } } })],
      ['a bad bank', vehicleReport({ ecus: { EDT: { version: '1', sha256: null, active_bank: 'C', state: 'Running' } } })],
      ['a bad time', vehicleReport({ at: 'yesterday' })],
      ['a bad update result', vehicleReport({ updates: [{ ecu: 'EDT', from: '1', to: '2', result: 'maybe' }] })],
      ['an array', [vehicleReport()]],
    ];
    for (const [what, body] of malformed) {
      const response = await postReport(car, VIN, body, bearer(token));
      assert.equal(response.status, 400, `${what}: ${response.text}`);
      assert.equal(typeof response.json().error, 'string');
    }
    const huge = await postReport(car, VIN, vehicleReport({ message: 'x'.repeat(70_000) }), bearer(token));
    assert.equal(huge.status, 413);
    const form = await car.fetch(`/api/v1/vehicles/${VIN}/reports`, { method: 'POST', body: 'outcome=success', headers: { ...bearer(token), 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(form.status, 415);

    const reportAudits = await audits(server, 'vehicle.report');
    assert.equal(reportAudits.filter((a) => a.outcome === 'ok' && a.actor === VIN).length, 2);
    assert.ok(reportAudits.some((a) => a.outcome === 'denied' && a.actor === OTHER_VIN && a.subject === VIN));
    assert.ok(reportAudits.filter((a) => a.outcome === 'failed' && a.actor === VIN).length >= malformed.length + 1);
  });

  await t.test('a failed update: stored with its error; the ECU versions follow the newest report', async () => {
    const failed = vehicleReport({
      campaign_id: 'c-fedcba9876543210', outcome: 'rolled-back', message: '<script>alert("message")</script>',
      ecus: {
        CGW: { version: '1.0.0', sha256: 'b'.repeat(64), active_bank: 'A', state: 'Running' },
        EDT: { version: '2.0.0', sha256: 'c'.repeat(64), active_bank: 'B', state: 'Running' },
      },
      updates: [
        { ecu: 'EDT', from: '2.0.0', to: '2.1.0', release_id: 2, result: 'rolled-back' },
        { ecu: 'CGW', from: '1.0.0', to: '1.1.0', release_id: '3', result: 'failed', error: '<img src=x onerror=alert(1)> check failed' },
      ],
    });
    assert.equal((await postReport(car, VIN, failed, bearer(token))).status, 201);
  });

  await t.test('GET /api/v1/vehicles and /api/v1/vehicles/<vin>: logged-in users; 401 without a session, 404 unknown', async () => {
    const viewer = await loggedIn(server, employee);
    const { vehicles } = (await viewer.fetch('/api/v1/vehicles')).json<{ vehicles: Array<Record<string, unknown>> }>();
    assert.deepEqual(vehicles.map((v) => v.vin), [VIN, OTHER_VIN]);
    const mine = vehicles[0]!;
    assert.deepEqual(mine.ecus, {
      CGW: { version: '1.0.0', sha256: 'b'.repeat(64), active_bank: 'A', state: 'Running', hardware_id: null, reported_at: (mine.ecus as { CGW: { reported_at: string } }).CGW.reported_at },
      EDT: { version: '2.0.0', sha256: 'c'.repeat(64), active_bank: 'B', state: 'Running', hardware_id: null, reported_at: (mine.ecus as { EDT: { reported_at: string } }).EDT.reported_at },
      TMU: { version: '1.0.0', sha256: 'a'.repeat(64), active_bank: 'A', state: 'Running', hardware_id: null, reported_at: (mine.ecus as { TMU: { reported_at: string } }).TMU.reported_at },
    });
    assert.equal((mine.last_report as { outcome: string }).outcome, 'rolled-back');
    assert.equal(mine.last_seen_ip, '127.0.0.1');
    assert.deepEqual([mine.tags, mine.online, vehicles[1]!.online], [[], true, true], 'both were in touch just now');
    assert.match(String(mine.last_seen_at), /^\d{4}-/);
    assert.equal(vehicles[1]!.last_report, null);

    const history = (await viewer.fetch(`/api/v1/vehicles/${VIN}?limit=2`)).json<{ vehicle: { vin: string }; reports: Array<{ outcome: string; updates: unknown[] }> }>();
    assert.equal(history.vehicle.vin, VIN);
    assert.deepEqual(history.reports.map((r) => r.outcome), ['rolled-back', 'declined']);
    assert.deepEqual(history.reports[0]!.updates, [
      { ecu: 'EDT', from: '2.0.0', to: '2.1.0', release_id: '2', result: 'rolled-back', error: null },
      { ecu: 'CGW', from: '1.0.0', to: '1.1.0', release_id: '3', result: 'failed', error: '<img src=x onerror=alert(1)> check failed' },
    ]);
    assert.equal((await viewer.fetch(`/api/v1/vehicles/${VIN.toLowerCase()}`)).status, 200);
    assert.equal((await viewer.fetch('/api/v1/vehicles/WCANTAVEH00000009')).status, 404);
    assert.equal((await server.client().fetch('/api/v1/vehicles')).status, 401);
    assert.equal((await server.client().fetch(`/api/v1/vehicles/${VIN}`)).status, 401);
    assert.equal((await car.fetch('/api/v1/vehicles', { headers: bearer(token) })).status, 401, 'a vehicle token is no login');
  });

  await t.test('the pages: /vehicles lists ECU versions and the last report, /vehicles/<vin> the history; everything escaped', async () => {
    const viewer = await loggedIn(server, employee);
    const list = await viewer.fetch('/vehicles');
    assert.equal(list.status, 200);
    assert.match(list.text, /<a href="\/vehicles">Vehicles<\/a>|aria-current="page">Vehicles/);
    assert.match(list.text, new RegExp(`<a class="vin" href="/vehicles/${VIN}">${VIN}</a>`));
    assert.match(list.text, /<li data-ecu="EDT"><strong>EDT<\/strong> <span class="version">2\.0\.0<\/span> <small>bank B<\/small>/);
    assert.match(list.text, /class="outcome outcome-rolled-back">rolled-back</);
    assert.doesNotMatch(list.text, /Register a vehicle/, 'employees do not register vehicles');

    const detail = await viewer.fetch(`/vehicles/${VIN}`);
    assert.equal(detail.status, 200);
    assert.match(detail.text, /Update history/);
    assert.match(detail.text, /&lt;script&gt;alert\(&quot;message&quot;\)&lt;\/script&gt;/);
    assert.match(detail.text, /&lt;img src=x onerror=alert\(1\)&gt; check failed/);
    assert.doesNotMatch(detail.text, /<script>alert|<img src=x/);
    assert.match(detail.text, /<strong>CGW<\/strong> 1\.0\.0 → 1\.1\.0 <span class="outcome outcome-failed">failed<\/span>/);

    const unknown = await viewer.fetch('/vehicles/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.headers['content-type']), /text\/html/);
    assert.doesNotMatch(unknown.text, /<script>alert/);
    assert.match(unknown.text, /no vehicle &lt;script&gt;/i);
    const anonymous = await server.client().fetch('/vehicles');
    assert.deepEqual([anonymous.status, anonymous.headers.location], [302, '/login']);
  });

  await t.test('rotation: a new token, and the old one dies at once', async () => {
    const rotated = await registerVehicle(server.dataDir, VIN, ['--rotate']);
    assert.notEqual(rotated, token);
    assert.equal((await car.fetch('/get_nonce', { headers: bearer(token) })).status, 401);
    assert.equal((await car.fetch('/get_nonce', { headers: bearer(rotated) })).status, 200);
    assert.equal((await postReport(car, VIN, vehicleReport(), bearer(token))).status, 401);
  });

  await t.test('admins register vehicles in the UI (CSRF, token shown once); employees may not', async () => {
    const boss = await loggedIn(server, admin);
    const page = await boss.fetch('/vehicles');
    assert.match(page.text, /Register a vehicle/);
    const register = (client: WebClient, form: Record<string, string>) => client.fetch('/vehicles', { form });
    const made = await register(boss, { csrf_token: csrfTokenIn(page.text), vin: 'wcantaux000000001' });
    assert.equal(made.status, 200);
    assert.equal(made.headers['cache-control'], 'no-store');
    const shownToken = /<code class="secret" id="vehicle-token">(cvt_[A-Za-z0-9_-]{43})<\/code>/.exec(made.text)?.[1];
    assert.ok(shownToken, 'the token is on the page');
    assert.equal((await car.fetch('/get_nonce', { headers: bearer(shownToken) })).status, 200, 'and it works');
    assert.doesNotMatch((await boss.fetch('/vehicles')).text, new RegExp(shownToken), 'shown only once');

    const again = await register(boss, { csrf_token: csrfTokenIn(made.text), vin: 'WCANTAUX000000001' });
    assert.equal(again.status, 409);
    assert.match(again.text, /already registered/);
    const rotated = await register(boss, { csrf_token: csrfTokenIn(again.text), vin: 'WCANTAUX000000001', rotate: '1' });
    assert.equal(rotated.status, 200);
    assert.match(rotated.text, /New token for WCANTAUX000000001/);
    assert.equal((await car.fetch('/get_nonce', { headers: bearer(shownToken) })).status, 401, 'the first token died');
    const bad = await register(boss, { csrf_token: csrfTokenIn(rotated.text), vin: '<b>bad</b>' });
    assert.equal(bad.status, 400);
    assert.match(bad.text, /bad VIN &quot;&lt;b&gt;bad&lt;\/b&gt;&quot;/);
    assert.equal((await register(boss, { csrf_token: 'forged', vin: 'WCANTAUX000000002' })).status, 403);

    const viewer = await loggedIn(server, employee);
    const refused = await register(viewer, { csrf_token: csrfTokenIn((await viewer.fetch('/vehicles')).text), vin: 'WCANTAUX000000003' });
    assert.equal(refused.status, 403);
    const list = await runCanota(['audit', 'list', '--json', '--data-dir', server.dataDir, '--limit', '500']);
    const entries = list.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; outcome: string; actor: string; subject: string });
    assert.ok(entries.some((e) => e.event === 'vehicle.register' && e.actor === admin.username && e.subject === 'WCANTAUX000000001'));
    assert.ok(entries.some((e) => e.event === 'vehicle.rotate' && e.actor === 'cli' && e.subject === VIN));
    assert.ok(entries.some((e) => e.event === 'vehicle.register' && e.outcome === 'denied' && e.actor === employee.username));
    assert.equal((await runCanota(['audit', 'verify', '--data-dir', server.dataDir])).code, 0, 'the chain holds');
  });

  await t.test('metrics count token checks and reports', async () => {
    // /metrics needs an admin (or the metrics token) since test/attacks/ops-routes-exposure.test.ts.
    const metrics = (await uploader.fetch('/metrics')).text;
    assert.match(metrics, /^canota_vehicle_reports_total\{outcome="stored"\} 3$/m);
    assert.match(metrics, /^canota_vehicle_auth_total\{outcome="invalid"\} \d+$/m);
  });
});

test('--require-vehicle-token: anonymous clients get 401 on the vehicle routes; registered vehicles get through', async (t) => {
  const server = await startTestServer(t, { args: ['--require-vehicle-token'] });
  const token = await registerVehicle(server.dataDir, VIN);
  const uploader = await loggedIn(server, admin);
  assert.equal((await uploader.upload('edt.bin', image('image'), { ecu: 'EDT', firmware_version: '2.0.0' })).status, 200);
  const anonymous = server.client();
  for (const route of ['/latest_version', '/get_nonce', '/ota_download/edt.bin?nonce=' + 'a'.repeat(64), '/api/v1/releases/latest', '/api/v1/releases/1/manifest']) {
    const response = await anonymous.fetch(route);
    assert.equal(response.status, 401, route);
    assert.match(String(response.json().error), /registered vehicles only/);
    assert.equal(response.headers['www-authenticate'], 'Bearer realm="canota"');
  }
  const { nonce } = (await anonymous.fetch('/get_nonce', { headers: bearer(token) })).json<{ nonce: string }>();
  const download = await anonymous.fetch(`/ota_download/edt.bin?nonce=${nonce}`, { headers: bearer(token) });
  assert.deepEqual(download.body, image('image'));
  assert.equal((await anonymous.fetch('/latest_version', { headers: bearer(token) })).json().version, 'edt.bin');
  assert.equal((await anonymous.fetch('/healthz')).status, 200, 'operations are not vehicle routes');
  assert.equal((await anonymous.fetch('/login')).status, 200, 'nor is the admin UI');
  const denied = (await server.auditLines()).filter((a) => a.event === 'vehicle.auth');
  assert.ok(denied.some((a) => (a.details as { reason: string }).reason === 'token required'));
});

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}
