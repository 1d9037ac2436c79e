import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { jsonLimitBytes } from '../../../src/ota-http/body.ts';
import { ServerApiError, type ServerFailure } from '../../../src/vehicle/tmu/errors.ts';
import { ReportOutbox } from '../../../src/vehicle/tmu/report-outbox.ts';
import { ServerApi, type VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { jsonAnswer, startStubServer } from '../../ota-http/support/stub-server.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';

const VIN = 'WCANTAAP100000001';

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const report = (outcome: VehicleReport['outcome'], n: number): VehicleReport => ({
  campaign_id: `c-${n}`, outcome, ecus: { EDT: { version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running' } },
  updates: [], message: `report ${n}`, at: new Date(0).toISOString(),
});

test('the TMU\'s server calls and its report outbox, against the real server', async (t) => {
  const server = await startOtaServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  // The same server as one of the seed's generation sees it: no /api/v1/ routes (a proxy answers 404).
  const seedOnly = await startFaultProxy({ host: server.host, port: server.port }, () => ({
    intercept: (line) => (/ \/api\/v1\//.test(line) ? { status: 404, body: Buffer.from('{"error":"not found"}') } : undefined),
  }));
  t.after(() => seedOnly.close());
  const api = new ServerApi({ server: server.url, token, timeoutMs: 5000 });
  const legacy = new ServerApi({ server: seedOnly.url, token, timeoutMs: 5000 });
  t.after(() => Promise.all([api.close(), legacy.close()]));

  await t.test('nothing uploaded: no release, either way', async () => {
    assert.deepEqual(await api.latestReleases(), { source: 'api', releases: [], skipped: [], campaignId: null });
    assert.deepEqual(await legacy.latestReleases(), { source: 'latest_version', releases: [], skipped: [] });
  });

  await t.test('the vehicle API names what the vehicle\'s deployment assigns, with manifests; /latest_version only the newest upload', async () => {
    await server.upload('mystery.bin', randomBytes(100));
    assert.deepEqual((await legacy.latestReleases()).skipped, [{ filename: 'mystery.bin', reason: 'it names no ecu' }]);
    const edt = randomBytes(3000);
    await server.upload('edt-2.0.0.bin', edt, { ecu: 'edt', firmware_version: '2.0.0', notes: 'n' });
    await server.upload('cgw-1.1.0.bin', randomBytes(2000), { ecu: 'CGW', firmware_version: '1.1.0' });
    assert.deepEqual((await api.latestReleases()).releases, [], 'uploaded, not deployed: a registered vehicle is told nothing');
    const deployment = await server.deploy([2, 3], { vins: [VIN] });

    const latest = await api.latestReleases();
    assert.equal(latest.source, 'api');
    assert.equal(latest.campaignId, String(deployment));
    const byEcu = Object.fromEntries(latest.releases.map((release) => [release.ecu, release]));
    assert.deepEqual(Object.keys(byEcu).sort(), ['CGW', 'EDT']);
    assert.equal(byEcu.EDT!.release.sha256, createHash('sha256').update(edt).digest('hex'));
    assert.equal(byEcu.EDT!.release.size, 3000);
    assert.equal(byEcu.EDT!.notes, 'n');
    assert.equal(byEcu.EDT!.manifest?.signed.sha256, byEcu.EDT!.release.sha256);
    assert.equal(byEcu.EDT!.manifest?.signatures.length, 1);

    const old = await legacy.latestReleases();
    assert.equal(old.source, 'latest_version');
    assert.deepEqual(old.releases.map((release) => [release.ecu, release.firmwareVersion, release.manifest]), [['CGW', '1.1.0', null]]);
    assert.equal(old.campaignId, undefined, 'the seed\'s route names no campaign');
  });

  await t.test('reports: stored (201) and deleted from the outbox; kept while the route is missing or the token is refused', async (t) => {
    const outbox = new ReportOutbox(join(await tempDir(t), 'reports'));
    await outbox.add(report('declined', 1));
    await outbox.add(report('success', 2));
    // No reports route: both wait, in order, for a later poll.
    assert.deepEqual(await outbox.flush(legacy, VIN), { sent: 0, pending: 2 });
    // No token: 401, they still wait.
    const anonymous = new ServerApi({ server: server.url, timeoutMs: 5000 });
    t.after(() => anonymous.close());
    assert.deepEqual(await outbox.flush(anonymous, VIN), { sent: 0, pending: 2 });
    // The vehicle's own token: both go, oldest first.
    assert.deepEqual(await outbox.flush(api, VIN), { sent: 2, pending: 0 });
    const history = await server.adminJson<{ reports: Array<{ outcome: string; message: string }> }>(`/api/v1/vehicles/${VIN}`);
    assert.deepEqual(history.reports.map((r) => r.message), ['report 2', 'report 1']);
  });

  await t.test('a report the server refuses as malformed (400), or one that cannot be read, is moved aside, kept, and does not block', async (t) => {
    const directory = join(await tempDir(t), 'reports');
    const outbox = new ReportOutbox(directory);
    await outbox.add({ ...report('success', 3), updates: [{ ecu: 'EDT', from: '1', to: '2', release_id: '1', result: 'exploded' as 'installed' }] });
    const unreadable = await outbox.add(report('success', 4));
    await writeFile(join(directory, unreadable), '{"half');
    await outbox.add(report('success', 5));
    assert.deepEqual(await outbox.flush(api, VIN), { sent: 1, pending: 0 });
    assert.equal((await readdir(join(directory, 'rejected'))).length, 2);
  });

  await t.test('a server that is down: unreachable (retryable), and reports stay', async (t) => {
    const down = new ServerApi({ server: `http://127.0.0.1:${await closedPort()}/`, timeoutMs: 2000 });
    t.after(() => down.close());
    await assert.rejects(down.latestReleases(), (error: unknown) =>
      error instanceof ServerApiError && error.failure === 'unreachable' && error.retryable);
    const outbox = new ReportOutbox(join(await tempDir(t), 'reports'));
    await outbox.add(report('failed', 6));
    assert.deepEqual(await outbox.flush(down, VIN), { sent: 0, pending: 1 });
  });
});

test('the TMU\'s failures come from the shared HTTP taxonomy: 429 is rate-limited, 401 unauthorized, 403 forbidden', async (t) => {
  const url = await startStubServer(t, {
    '/limited/api/v1/releases/latest': jsonAnswer(429, { error: 'slow down' }, { 'retry-after': '5' }),
    '/unauthorized/api/v1/releases/latest': jsonAnswer(401, { error: 'unknown token' }),
    '/forbidden/api/v1/releases/latest': jsonAnswer(403, { error: 'not on the allowlist' }),
    '/failing/api/v1/releases/latest': jsonAnswer(500, { error: 'database locked' }),
    '/broken/api/v1/releases/latest': (_request, response) => response.writeHead(200).end('<html>'),
    '/huge/api/v1/releases/latest': (_request, response) => response.writeHead(200).end(`"${'a'.repeat(jsonLimitBytes)}"`),
    '/odd/api/v1/releases/latest': jsonAnswer(409, { error: 'conflict' }),
    // An older server: 405 on the vehicle API, so the seed's route is asked instead.
    '/seed/api/v1/releases/latest': jsonAnswer(405, { error: 'method not allowed' }),
    '/seed/latest_version': jsonAnswer(200, { version: 'edt-2.0.0.bin', mtime: 1, sha256: 'a'.repeat(64), ecu: 'edt', firmware_version: '2.0.0' }),
    [`/limited/api/v1/vehicles/${VIN}/reports`]: jsonAnswer(429, { error: 'slow down' }),
    [`/rejected/api/v1/vehicles/${VIN}/reports`]: jsonAnswer(400, { error: 'outcome: invalid' }),
  });
  const api = (path: string) => {
    const client = new ServerApi({ server: `${url}${path}/`, timeoutMs: 5000 });
    t.after(() => client.close());
    return client;
  };
  const expectFailure = async (promise: Promise<unknown>, failure: ServerFailure, retryable: boolean, status?: number) => {
    await assert.rejects(promise, (error: unknown) => {
      assert.ok(error instanceof ServerApiError, String(error));
      assert.deepEqual([error.failure, error.retryable, error.status], [failure, retryable, status], error.message);
      return true;
    });
  };
  await expectFailure(api('limited').latestReleases(), 'rate-limited', true, 429);
  await expectFailure(api('unauthorized').latestReleases(), 'unauthorized', true, 401);
  await expectFailure(api('forbidden').latestReleases(), 'forbidden', true, 403);
  await expectFailure(api('failing').latestReleases(), 'server-error', true, 500);
  await expectFailure(api('broken').latestReleases(), 'bad-response', true);
  await expectFailure(api('huge').latestReleases(), 'bad-response', true);
  await expectFailure(api('odd').latestReleases(), 'bad-response', true, 409);
  const seed = await api('seed').latestReleases();
  assert.equal(seed.source, 'latest_version');
  assert.deepEqual(seed.releases.map((release) => [release.ecu, release.firmwareVersion]), [['EDT', '2.0.0']]);
  await expectFailure(api('limited').postReport(VIN, report('success', 7)), 'rate-limited', true, 429);
  await expectFailure(api('rejected').postReport(VIN, report('success', 8)), 'rejected', false, 400);
});
