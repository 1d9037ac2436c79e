import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../../support/canota-process.ts';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn, type WebClient } from '../support/web-client.ts';
import { image } from '../support/images.ts';
import { registerVehicle, vehicleReport } from '../support/vehicles.ts';

const vin = (n: number) => `KMHFLEET${String(n).padStart(9, '0')}`;
const json = { 'content-type': 'application/json' };

interface Assignment { campaign_id: string | null; releases: { ecu: string; firmware_version: string; manifest: object | null }[] }
interface Deployment {
  id: number; campaign_id: string; status: string; status_reason: string | null; current_wave: number;
  waves: { wave: number; size: number; counts: Record<string, number> }[]; counts: Record<string, number>;
}

test('a deployment in two waves over the API: only its vehicles are told, states come from the cars, a failing wave pauses it, cancel stops new offers', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const edt = (await boss.upload('edt-2.0.0.bin', image('EDT 2.0.0'), { ecu: 'EDT', firmware_version: '2.0.0' })).json<{ release: { id: number } }>().release.id;
  const cgw = (await boss.upload('cgw-1.1.0.bin', image('CGW 1.1.0'), { ecu: 'CGW', firmware_version: '1.1.0' })).json<{ release: { id: number } }>().release.id;
  const tokens = new Map<string, string>();
  for (let n = 1; n <= 5; n++) tokens.set(vin(n), await registerVehicle(server.dataDir, vin(n)));
  const made = await runCanota(['token', 'create', 'ci-deploy', '--scope', 'deployments:write', '--json', '--data-dir', server.dataDir]);
  const deployer = (JSON.parse(made.stdout) as { token: string }).token;
  const api: WebClient = server.client();
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const poll = async (n: number) => (await api.fetch('/api/v1/releases/latest', { headers: as(tokens.get(vin(n))!) })).json<Assignment>();
  const status = (n: number, body: object) => api.fetch(`/api/v1/vehicles/${vin(n)}/deployment-status`, {
    method: 'POST', headers: { ...as(tokens.get(vin(n))!), ...json }, body: JSON.stringify(body),
  });
  const report = (n: number, fields: Record<string, unknown>) => api.fetch(`/api/v1/vehicles/${vin(n)}/reports`, {
    method: 'POST', headers: { ...as(tokens.get(vin(n))!), ...json }, body: JSON.stringify(vehicleReport(fields)),
  });
  const deployment = async (id: number) => (await api.fetch(`/api/v1/deployments/${id}`, { headers: as(deployer) })).json<Deployment>();

  // Before any deployment: a registered vehicle is told nothing new; an anonymous client (the seed's way) still gets the latest.
  assert.deepEqual(await poll(1), { campaign_id: null, releases: [] });
  const anonymous = (await api.fetch('/api/v1/releases/latest')).json<Assignment>();
  assert.deepEqual(anonymous.releases.map((r) => `${r.ecu} ${r.firmware_version}`), ['CGW 1.1.0', 'EDT 2.0.0']);

  const create = await api.fetch('/api/v1/deployments', {
    method: 'POST', headers: { ...as(deployer), ...json },
    body: JSON.stringify({
      name: 'EDT 2.0.0 + CGW 1.1.0', release_ids: [edt, cgw], target: { vins: [vin(1), vin(2), vin(3), vin(4), vin(5)] },
      waves: [{ count: 2 }, { percent: 100 }], failure_threshold_percent: 30,
    }),
  });
  assert.equal(create.status, 201, create.text);
  const { id, campaign_id: campaignId } = create.json<{ id: number; campaign_id: string }>();
  assert.equal(campaignId, String(id));

  await t.test('wave 1 is told to install the whole set, with signed manifests; wave 2 is told nothing yet', async () => {
    const first = await poll(1);
    assert.equal(first.campaign_id, campaignId);
    assert.deepEqual(first.releases.map((r) => `${r.ecu} ${r.firmware_version}`), ['CGW 1.1.0', 'EDT 2.0.0']);
    assert.ok(first.releases.every((r) => r.manifest !== null));
    assert.deepEqual(await poll(3), { campaign_id: null, releases: [] });
    const shown = await deployment(id);
    assert.equal(shown.status, 'running');
    assert.deepEqual(shown.waves.map((w) => [w.size, w.counts]), [[2, { assigned: 2 }], [3, { waiting: 3 }]]);
  });

  await t.test('the cars say where they are; their reports end their state; a decline counts as done; wave 2 starts', async () => {
    assert.equal((await status(1, { campaign_id: campaignId, state: 'offered' })).status, 200);
    assert.equal((await status(1, { campaign_id: campaignId, state: 'downloading', percent: 40 })).status, 200);
    assert.equal((await status(2, { campaign_id: campaignId, state: 'installing', ecu: 'EDT', percent: 70 })).status, 200);
    const live = await deployment(id);
    assert.equal(live.counts.downloading, 1);
    assert.equal(live.counts.installing, 1);
    const vehicles = (await api.fetch(`/api/v1/deployments/${id}/vehicles?state=installing`, { headers: as(deployer) })).json<{ vehicles: object[] }>();
    assert.deepEqual(vehicles.vehicles.map((v) => ({ ...v, updated_at: undefined })), [{ vin: vin(2), wave: 1, state: 'installing', percent: 70, ecu: 'EDT', reason: null, updated_at: undefined }]);

    assert.equal((await report(1, { campaign_id: campaignId, outcome: 'success' })).status, 201);
    assert.equal((await deployment(id)).current_wave, 1);
    assert.equal((await report(2, { campaign_id: campaignId, outcome: 'declined', message: 'The driver declined.' })).status, 201);
    const second = await deployment(id);
    assert.equal(second.current_wave, 2);
    assert.equal(second.status, 'running');
    assert.equal((await poll(3)).campaign_id, campaignId);
    assert.deepEqual(await poll(1), { campaign_id: null, releases: [] }, 'a car that succeeded is told nothing more');
    assert.equal((await status(1, { campaign_id: campaignId, state: 'installing', percent: 99 })).json().state, 'succeeded', 'a late message changes no end');
  });

  await t.test('one failure of three passes the 30 % threshold: paused, the other cars are told nothing new; resumed; cancel', async () => {
    assert.equal((await status(4, { campaign_id: campaignId, state: 'downloading', percent: 10 })).status, 200);
    assert.equal((await report(3, { campaign_id: campaignId, outcome: 'rolled-back', message: 'EDT: boot check failed; rolled back' })).status, 201);
    const paused = await deployment(id);
    assert.equal(paused.status, 'paused');
    assert.equal(paused.status_reason, 'wave 2: 1 of 3 vehicles failed, over the 30% threshold');
    assert.deepEqual(await poll(5), { campaign_id: null, releases: [] }, 'paused: no new offer');
    assert.equal((await poll(4)).campaign_id, campaignId, 'a car that is downloading finishes');

    const sessionResume = await boss.fetch(`/api/v1/deployments/${id}/resume`, { method: 'POST', headers: json, body: '{}' });
    assert.equal(sessionResume.status, 403, 'an admin session needs its CSRF token');
    const csrf = csrfTokenIn((await boss.fetch('/')).text);
    const resumed = await boss.fetch(`/api/v1/deployments/${id}/resume`, { method: 'POST', headers: json, body: JSON.stringify({ csrf_token: csrf, reason: 'flaky rig' }) });
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json<Deployment>().status, 'running', 'resuming accepts the failure so far');
    assert.equal((await poll(5)).campaign_id, campaignId, 'running again: the last car is told');
    const advance = await api.fetch(`/api/v1/deployments/${id}/advance`, { method: 'POST', headers: { ...as(deployer), ...json }, body: '{}' });
    assert.equal(advance.status, 409);
    assert.match(String(advance.json().error), /wave 2 is its last/);
    const cancel = await api.fetch(`/api/v1/deployments/${id}/cancel`, { method: 'POST', headers: { ...as(deployer), ...json }, body: JSON.stringify({ reason: 'bad batch' }) });
    assert.equal(cancel.status, 200);
    const cancelled = cancel.json<Deployment>();
    assert.equal(cancelled.status, 'cancelled');
    assert.deepEqual(cancelled.waves[1]!.counts, { 'rolled-back': 1, downloading: 1, cancelled: 1 });
    assert.equal((await poll(4)).campaign_id, campaignId, 'the car downloading still finishes');
    assert.deepEqual(await poll(5), { campaign_id: null, releases: [] });
    assert.equal((await report(4, { campaign_id: campaignId, outcome: 'success' })).status, 201);
    assert.equal((await deployment(id)).counts.succeeded, 2);
  });

  await t.test('refusals: scope, another car\'s VIN, a deployment the car is not in, bad bodies', async () => {
    const publisher = JSON.parse((await runCanota(['token', 'create', 'ci-publish', '--scope', 'releases:write', '--json', '--data-dir', server.dataDir])).stdout) as { token: string };
    const wrongScope = await api.fetch('/api/v1/deployments', { method: 'POST', headers: { ...as(publisher.token), ...json }, body: JSON.stringify({ name: 'x', release_ids: [edt], target: { all: true } }) });
    assert.equal(wrongScope.status, 403);
    assert.equal((await api.fetch('/api/v1/deployments', { headers: as(publisher.token) })).status, 403);
    const foreign = await api.fetch(`/api/v1/vehicles/${vin(1)}/deployment-status`, {
      method: 'POST', headers: { ...as(tokens.get(vin(2))!), ...json }, body: JSON.stringify({ campaign_id: campaignId, state: 'offered' }),
    });
    assert.equal(foreign.status, 403);
    assert.equal((await status(1, { campaign_id: '999', state: 'offered' })).status, 404);
    assert.equal((await status(1, { campaign_id: 'c-0123456789abcdef', state: 'offered' })).status, 404);
    assert.equal((await status(1, { campaign_id: campaignId, state: 'succeeded' })).status, 400, 'ends come with reports');
    assert.equal((await status(1, { campaign_id: campaignId, state: 'downloading', percent: 101 })).status, 400);
    const bad = await api.fetch('/api/v1/deployments', {
      method: 'POST', headers: { ...as(deployer), ...json },
      body: JSON.stringify({ name: 'x', release_ids: [edt], target: { vins: ['KMHUNKNWN00000001'] } }),
    });
    assert.equal(bad.status, 400);
    assert.match(String(bad.json().error), /not registered: KMHUNKNWN00000001/);
    const history = (await api.fetch(`/api/v1/deployments/${id}/history`, { headers: as(deployer) })).json<{ events: { vin: string | null; state: string }[] }>();
    assert.deepEqual(history.events.filter((e) => e.vin === vin(3)).map((e) => e.state), ['assigned', 'rolled-back']);
    // A vehicle's page and API name its deployments and its state in each.
    const one = (await boss.fetch(`/api/v1/vehicles/${vin(3)}`)).json<{ deployments: { id: number; state: string; status: string }[] }>();
    assert.deepEqual(one.deployments.map((d) => [d.id, d.state, d.status]), [[id, 'rolled-back', 'cancelled']]);
    const page = (await boss.fetch(`/vehicles/${vin(3)}`)).text;
    assert.match(page, new RegExp(`<a href="/deployments/${id}">EDT 2\\.0\\.0 \\+ CGW 1\\.1\\.0</a>:\\s*<span class="outcome outcome-rolled-back">rolled-back</span>`));
    assert.match((await boss.fetch(`/vehicles/${vin(5)}`)).text, /outcome-cancelled/);
    assert.deepEqual(history.events.filter((e) => e.vin === null).map((e) => e.state), ['running', 'running', 'paused', 'running', 'cancelled']);
  });

  const audit = await server.auditLines();
  const events = audit.filter((a) => String(a.event).startsWith('deployment.')).map((a) => `${a.event}:${a.outcome}`);
  for (const expected of ['deployment.create:ok', 'deployment.vehicle:ok', 'deployment.vehicle:failed', 'deployment.status:failed', 'deployment.resume:ok', 'deployment.cancel:ok']) {
    assert.ok(events.includes(expected), `${expected} is audited`);
  }
});
