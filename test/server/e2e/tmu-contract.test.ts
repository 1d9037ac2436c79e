import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { parsePublicKey } from '../../../src/crypto/ed25519.ts';
import { OtaServer } from '../../../src/client/ota-server.ts';
import { ServerApi, type VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import { ServerApiError } from '../../../src/vehicle/tmu/errors.ts';
import { manifestForRelease } from '../../../src/vehicle/tmu/release-trust.ts';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { registerVehicle } from '../support/vehicles.ts';
import { deploy } from '../support/deployments.ts';
import { runCanota } from '../../support/canota-process.ts';

const VIN = 'WCANTACNTR0000001';

/**
 * docs/vehicle-protocol.md, "The server's side of vehicles": the TMU's own client code
 * (src/vehicle/tmu/server-api.ts, src/client/ota-server.ts) against the real server, so the two sides
 * cannot drift apart without a failing test.
 */
test('the TMU\'s server calls against the real server: releases per ECU with trusted manifests, nonces, reports', async (t) => {
  const server = await startTestServer(t);
  const token = await registerVehicle(server.dataDir, VIN);
  const shown = await runCanota(['keys', 'show', '--data-dir', server.dataDir]);
  const trustedKeys = [parsePublicKey(shown.stdout.trim().split('\n').at(-1)!)];
  const image = randomBytes(5000);
  const uploader = await loggedIn(server, admin);
  const uploaded = await uploader.upload('edt-2.0.0.bin', image, { ecu: 'EDT', firmware_version: '2.0.0', hardware_id: 'EDT-HW-A1', notes: 'faster' });
  assert.equal(uploaded.status, 200);
  // A registered vehicle is told what its deployments assign.
  const campaign = await deploy(server, [uploaded.json<{ release: { id: number } }>().release.id], { vins: [VIN] });

  const api = new ServerApi({ server: server.url, token, timeoutMs: 5000 });
  t.after(() => api.close());

  await t.test('latestReleases() takes /api/v1/releases/latest; the manifest passes the vehicle\'s trust check', async () => {
    const latest = await api.latestReleases();
    assert.equal(latest.source, 'api');
    assert.deepEqual(latest.skipped, []);
    assert.equal(latest.campaignId, String(campaign), 'the deployment\'s id is the campaign id');
    const [announced] = latest.releases;
    assert.equal(announced?.ecu, 'EDT');
    assert.equal(announced?.firmwareVersion, '2.0.0');
    assert.equal(announced?.notes, 'faster');
    assert.equal(announced?.release.sha256, createHash('sha256').update(image).digest('hex'));
    const manifest = manifestForRelease(announced!, trustedKeys, image.length);
    assert.equal(manifest.signed.hardware_id, 'EDT-HW-A1');
    assert.throws(() => manifestForRelease(announced!, [parsePublicKey(`ed25519:${Buffer.alloc(32, 7).toString('base64')}`)], image.length),
      /no valid signature by a trusted key/, 'a vehicle trusting another key refuses it');
  });

  await t.test('the download client sends the token: the nonce and the download are the vehicle\'s', async () => {
    const ota = new OtaServer({ url: server.url, token, timeoutMs: 5000 });
    try {
      const session = ota.session();
      const nonce = await session.nonce();
      const response = await session.download('edt-2.0.0.bin', nonce, {}, { signal: AbortSignal.timeout(5000), bodyTimeoutMs: 5000 });
      assert.equal(response.status, 200);
      assert.deepEqual(Buffer.from(await response.body.arrayBuffer()), image);
      const first = await session.latestVersion(undefined);
      assert.ok(first.cache, 'an ETag to revalidate with');
      const second = await session.latestVersion(first.cache);
      assert.equal(second.notModified, true, 'the next poll is a 304');
    } finally {
      await ota.close();
    }
    const lines = await server.auditLines();
    assert.ok(lines.some((a) => a.event === 'nonce.use' && a.actor === VIN && a.outcome === 'ok'));
  });

  await t.test('postReport() stores the report under the VIN; another vehicle\'s token is refused, not retried', async () => {
    const report: VehicleReport = {
      campaign_id: 'c-00000000000000aa', outcome: 'success',
      ecus: {
        TMU: { version: '1.0.0', sha256: null, active_bank: 'A', state: 'Running' },
        EDT: { version: '2.0.0', sha256: createHash('sha256').update(image).digest('hex'), active_bank: 'B', state: 'Running' },
      },
      updates: [{ ecu: 'EDT', from: '1.0.0', to: '2.0.0', release_id: String(uploaded.json<{ release: { id: number } }>().release.id), result: 'installed' }],
      message: 'Installed EDT 2.0.0.', at: new Date().toISOString(),
    };
    const id = await api.postReport(VIN, report);
    assert.match(id, /^\d+$/);
    const viewer = await loggedIn(server, admin);
    const history = (await viewer.fetch(`/api/v1/vehicles/${VIN}`)).json<{ vehicle: { ecus: Record<string, { version: string }> }; reports: Array<{ id: number }> }>();
    assert.equal(history.vehicle.ecus.EDT?.version, '2.0.0');
    assert.equal(String(history.reports[0]?.id), id);

    const stranger = new ServerApi({ server: server.url, token: await registerVehicle(server.dataDir, 'WCANTACNTR0000002'), timeoutMs: 5000 });
    try {
      await assert.rejects(stranger.postReport(VIN, report), (error: unknown) => error instanceof ServerApiError && error.failure === 'forbidden');
    } finally {
      await stranger.close();
    }
    const anonymous = new ServerApi({ server: server.url, timeoutMs: 5000 });
    try {
      await assert.rejects(anonymous.postReport(VIN, report), (error: unknown) => error instanceof ServerApiError && error.failure === 'unauthorized' && error.retryable);
      await assert.rejects(anonymous.postReport(VIN, { ...report, outcome: 'exploded' as VehicleReport['outcome'] }),
        (error: unknown) => error instanceof ServerApiError && error.failure === 'unauthorized', 'who asks comes before what is asked');
    } finally {
      await anonymous.close();
    }
    await assert.rejects(api.postReport(VIN, { ...report, outcome: 'exploded' as VehicleReport['outcome'] }),
      (error: unknown) => error instanceof ServerApiError && error.failure === 'rejected' && !error.retryable, 'a malformed report is 400: not retried');
  });
});
