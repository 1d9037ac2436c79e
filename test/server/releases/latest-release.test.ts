import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatestRelease } from '../../../src/server/releases/latest-release.ts';
import { testStorage } from '../support/storage.ts';

const release = (filename: string, at: number) => ({
  filename, sha256: 'a'.repeat(64), size: 1, ecu: null, firmware_version: null, notes: null, uploaded_by: 'x', uploaded_at: at,
});

test('the newest release is cached, refreshed on invalidate and after max age', async (t) => {
  const storage = await testStorage(t);
  let now = 0;
  const latest = new LatestRelease(storage.releases, 1000, () => now);
  assert.deepEqual(JSON.parse(await latest.json()), {
    version: null, mtime: null, sha256: null, size: null, ecu: null, firmware_version: null, release_id: null, uploaded_at: null,
  });
  await storage.releases.add(release('a.bin', 1500));
  assert.equal(JSON.parse(await latest.json()).version, null, 'cached');
  latest.invalidate();
  const a = JSON.parse(await latest.json()) as Record<string, unknown>;
  assert.equal(a.version, 'a.bin');
  assert.equal(a.mtime, 1.5);
  assert.equal(a.uploaded_at, '1970-01-01T00:00:01.500Z');

  await storage.releases.add(release('b.bin', 2000));
  now = 999;
  assert.equal(JSON.parse(await latest.json()).version, 'a.bin');
  now = 1001;
  assert.equal(JSON.parse(await latest.json()).version, 'b.bin', 'another server\'s upload shows up after max age');
});

test('an upload during a slow refresh is not hidden by the older answer', async (t) => {
  const storage = await testStorage(t);
  const latest = new LatestRelease(storage.releases, 60_000);
  const inFlight = latest.json();
  await storage.releases.add(release('new.bin', 1));
  latest.invalidate();
  await inFlight;
  assert.equal(JSON.parse(await latest.json()).version, 'new.bin');
});

test('the answer carries a weak ETag naming the newest release', async (t) => {
  const storage = await testStorage(t);
  const latest = new LatestRelease(storage.releases, 0);
  assert.equal((await latest.answer()).etag, 'W/"none"');
  const added = await storage.releases.add(release('a.bin', 1500));
  assert.equal((await latest.answer()).etag, `W/"${added.id}-${'a'.repeat(64)}"`);
  const newer = await storage.releases.add(release('a.bin', 1600));
  assert.equal((await latest.answer()).etag, `W/"${newer.id}-${'a'.repeat(64)}"`, 'a re-upload of the same bytes is a new answer');
});
