import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../../support/canota-process.ts';
import { admin, employee, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { image } from '../support/images.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

interface Entry { name: string; hardware_ids: string[]; max_image_bytes: number | null; source: string }

test('the ECU registry: uploads name known ECUs, their hardware and sizes; vehicles teach it; admins edit it by API and page', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const csrf = csrfTokenIn((await boss.fetch('/')).text);
  const json = { 'content-type': 'application/json', 'x-csrf-token': csrf };
  const registry = async () => Object.fromEntries((await boss.fetch('/api/v1/ecus')).json<{ ecus: Entry[] }>().ecus.map((e) => [e.name, e]));
  const releases = async () => (await boss.fetch('/api/v1/releases')).json<{ total: number }>().total;

  await t.test('a new server knows the standard car\'s ECUs; an unknown ECU is refused with what is known, nothing stored', async () => {
    const known = await registry();
    assert.deepEqual(Object.keys(known), ['CGW', 'EDT', 'TMU']);
    assert.deepEqual(known.EDT!.hardware_ids, ['EDT-HW-A1']);
    const refused = await boss.upload('bms-1.0.0.bin', image('BMS'), { ecu: 'BMS', firmware_version: '1.0.0' });
    assert.equal(refused.status, 400);
    assert.match(String(refused.json().error), /^unknown ECU BMS: the ECU registry knows CGW, EDT, TMU \(vehicles add theirs when they report; an admin adds one on the ECUs page or with PUT \/api\/v1\/ecus\/BMS\)$/);
    assert.equal(await releases(), 0);
    const otherHardware = await boss.upload('edt.bin', image('EDT'), { ecu: 'EDT', firmware_version: '2.0.0', hardware_id: 'EDT-HW-Z9' });
    assert.equal(otherHardware.status, 400);
    assert.equal(otherHardware.json().error, 'EDT comes in hardware EDT-HW-A1: "EDT-HW-Z9" is none of them');
    assert.equal((await boss.upload('seed.bin', image('seed'))).status, 200, 'a bare .bin names no ECU: not the registry\'s business');
  });

  await t.test('an admin adds an ECU with a size limit: larger images are 413, nothing stored; the limit\'s size passes', async () => {
    const put = await boss.fetch('/api/v1/ecus/bms', { method: 'PUT', headers: json, body: JSON.stringify({ hardware_ids: ['BMS-HW-A1', 'BMS-HW-A1'], max_image_bytes: 1000 }) });
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(put.json<Entry>(), { ...put.json<Entry>(), name: 'BMS', hardware_ids: ['BMS-HW-A1'], max_image_bytes: 1000, source: 'admin' });
    const before = await releases();
    const large = await boss.upload('bms-big.bin', Buffer.alloc(1001, 7), { ecu: 'BMS', firmware_version: '1.0.0' });
    assert.equal(large.status, 413);
    assert.equal(large.json().error, 'BMS takes images of at most 1000 bytes (the ECU registry says so): this one has 1001');
    assert.equal(await releases(), before);
    assert.equal((await boss.upload('bms.bin', Buffer.alloc(1000, 7), { ecu: 'BMS', firmware_version: '1.0.0', hardware_id: 'BMS-HW-A1' })).status, 200);
    const bad = await boss.fetch('/api/v1/ecus/BMS', { method: 'PUT', headers: json, body: JSON.stringify({ max_image_bytes: 0 }) });
    assert.equal(bad.status, 400);
    assert.equal((await boss.fetch('/api/v1/ecus/B%20MS', { method: 'PUT', headers: json, body: '{}' })).status, 400);
  });

  await t.test('vehicles teach it their ECUs and hardware ids', async () => {
    const vin = 'WCANTAREG00000001';
    const token = await registerVehicle(server.dataDir, vin);
    const report = await server.client().fetch(`/api/v1/vehicles/${vin}/reports`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(vehicleReport({
        ecus: {
          EDT: { version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running', hardware_id: 'EDT-HW-B2' },
          ABS: { version: '3.1.0', sha256: null, active_bank: 'A', state: 'Running', hardware_id: 'ABS-HW-A1' },
        },
      })),
    });
    assert.equal(report.status, 201, report.text);
    const known = await registry();
    assert.deepEqual(known.EDT!.hardware_ids, ['EDT-HW-A1', 'EDT-HW-B2']);
    assert.deepEqual([known.ABS!.hardware_ids, known.ABS!.source], [['ABS-HW-A1'], 'inventory']);
    assert.equal((await boss.upload('abs.bin', image('ABS'), { ecu: 'ABS', firmware_version: '3.2.0', hardware_id: 'ABS-HW-A1' })).status, 200);
  });

  await t.test('removal: refused while releases name the ECU; scopes; the page', async () => {
    assert.equal((await boss.fetch('/api/v1/ecus/BMS', { method: 'DELETE', headers: { 'x-csrf-token': csrf } })).status, 409);
    assert.equal((await boss.fetch('/api/v1/ecus/NOPE', { method: 'DELETE', headers: { 'x-csrf-token': csrf } })).status, 404);
    await boss.fetch('/api/v1/ecus/TYPO', { method: 'PUT', headers: json, body: '{}' });
    assert.equal((await boss.fetch('/api/v1/ecus/TYPO', { method: 'DELETE', headers: { 'x-csrf-token': csrf } })).status, 204);
    assert.equal((await registry()).TYPO, undefined);

    const made = await runCanota(['token', 'create', 'reader', '--scope', 'releases:read', '--json', '--data-dir', server.dataDir]);
    const reader = (JSON.parse(made.stdout) as { token: string }).token;
    const api = server.client();
    assert.equal((await api.fetch('/api/v1/ecus', { headers: { authorization: `Bearer ${reader}` } })).status, 200);
    assert.equal((await api.fetch('/api/v1/ecus/X1', { method: 'PUT', headers: { authorization: `Bearer ${reader}`, 'content-type': 'application/json' }, body: '{}' })).status, 403);

    const form = await boss.fetch('/ecus', { form: { csrf_token: csrf, name: 'hvac', hardware_ids: 'HVAC-1, HVAC-2', max_image_bytes: '4096' } });
    assert.equal(form.status, 303);
    assert.match((await boss.fetch('/ecus')).text, /saved HVAC[\s\S]*HVAC-1, HVAC-2[\s\S]*4\.0 KiB|saved HVAC/);
    const refusedForm = await boss.fetch('/ecus', { form: { csrf_token: csrf, name: 'hvac', max_image_bytes: 'lots' } });
    assert.equal(refusedForm.status, 400);
    assert.match(refusedForm.text, /the largest image is a whole number of bytes/);
    const worker = await loggedIn(server, employee);
    const page = await worker.fetch('/ecus');
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /id="ecu-form"/);
    assert.equal((await worker.fetch('/ecus', { form: { csrf_token: csrfTokenIn((await worker.fetch('/')).text), name: 'X1' } })).status, 403);

    const audit = await server.auditLines();
    const changes = audit.filter((a) => String(a.event).startsWith('ecu.') && a.outcome === 'ok').map((a) => `${a.event} ${a.subject} by ${a.actor}`);
    assert.deepEqual(changes, [
      'ecu.update BMS by alice', 'ecu.update ABS by WCANTAREG00000001', 'ecu.update TYPO by alice', 'ecu.remove TYPO by alice', 'ecu.update HVAC by alice',
    ]);
    const denials = audit.filter((a) => String(a.event).startsWith('ecu.') && a.outcome === 'denied').map((a) => a.actor);
    assert.deepEqual(denials, ['token:reader', 'erin']);
  });
});
