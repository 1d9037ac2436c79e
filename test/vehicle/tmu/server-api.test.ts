import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ServerApiError } from '../../../src/vehicle/tmu/errors.ts';
import { ReportOutbox } from '../../../src/vehicle/tmu/report-outbox.ts';
import { ServerApi, type VehicleReport } from '../../../src/vehicle/tmu/server-api.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { tempDir } from '../../support/temp-dir.ts';

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

test('the TMU\'s server calls against a server with only the seed\'s routes', async (t) => {
  const server = await startOtaServer(t);
  const api = new ServerApi({ server: server.url, timeoutMs: 5000 });
  t.after(() => api.close());

  await t.test('nothing uploaded: no release, from /latest_version', async () => {
    assert.deepEqual(await api.latestReleases(), { source: 'latest_version', releases: [], skipped: [] });
  });

  await t.test('a release without a target ECU is skipped with the reason; one with ecu and firmware_version is announced', async () => {
    await server.upload('mystery.bin', randomBytes(100));
    const skipped = await api.latestReleases();
    assert.deepEqual(skipped.releases, []);
    assert.deepEqual(skipped.skipped, [{ filename: 'mystery.bin', reason: 'it names no ecu' }]);

    const image = randomBytes(3000);
    await server.upload('edt-2.0.0.bin', image, { ecu: 'edt', firmware_version: '2.0.0', notes: 'n' });
    const latest = await api.latestReleases();
    assert.equal(latest.source, 'latest_version');
    assert.equal(latest.releases.length, 1);
    const [release] = latest.releases;
    assert.equal(release!.ecu, 'EDT');
    assert.equal(release!.firmwareVersion, '2.0.0');
    assert.equal(release!.manifest, null);
    assert.equal(release!.release.filename, 'edt-2.0.0.bin');
    assert.equal(release!.release.sha256, createHash('sha256').update(image).digest('hex'));
    assert.equal(release!.release.size, 3000);
    assert.equal(release!.release.ecu, 'EDT');
  });

  await t.test('reports wait in the outbox while the server has no reports route, in order, and survive a restart', async (t) => {
    const directory = join(await tempDir(t), 'reports');
    const outbox = new ReportOutbox(directory);
    await outbox.add(report('declined', 1));
    await outbox.add(report('success', 2));
    assert.deepEqual(await outbox.flush(api, VIN), { sent: 0, pending: 2 });
    const again = new ReportOutbox(directory);
    const names = await again.pending();
    assert.equal(names.length, 2);
    assert.ok(names[0]! < names[1]!, 'oldest first');
    // A report file that cannot be read any more does not block the others: it is moved aside, kept.
    await writeFile(join(directory, names[0]!), '{"half');
    assert.deepEqual(await again.flush(api, VIN), { sent: 0, pending: 1 });
    assert.deepEqual(await readdir(join(directory, 'rejected')), [names[0]]);
  });

  await t.test('a server that is down: unreachable (retryable), and reports stay', async (t) => {
    const down = new ServerApi({ server: `http://127.0.0.1:${await closedPort()}/`, timeoutMs: 2000 });
    t.after(() => down.close());
    await assert.rejects(down.latestReleases(), (error: unknown) =>
      error instanceof ServerApiError && error.failure === 'unreachable' && error.retryable);
    const outbox = new ReportOutbox(join(await tempDir(t), 'reports'));
    await outbox.add(report('failed', 3));
    assert.deepEqual(await outbox.flush(down, VIN), { sent: 0, pending: 1 });
  });
});
