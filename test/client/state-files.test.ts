import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatProgress, parseDownloadedSha, parseProgress, StateFiles, type Progress } from '../../src/client/state-files.ts';
import { tempDir } from '../support/temp-dir.ts';

const progressValue: fc.Arbitrary<Progress> = fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant('ERROR' as const));
const sha256Hex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes).toString('hex'));

test('progress.txt: every value round-trips, in the seed\'s format', () => {
  fc.assert(fc.property(progressValue, (progress) => {
    const text = formatProgress(progress);
    assert.match(text, /^(\d{1,3}|ERROR)$/);
    assert.equal(parseProgress(text), progress);
    // Tools that write a trailing newline are read the same.
    assert.equal(parseProgress(`${text}\n`), progress);
  }));
});

test('progress.txt: any content parses to a valid value or null, never throws', () => {
  fc.assert(fc.property(fc.string(), (text) => {
    const parsed = parseProgress(text);
    assert.ok(parsed === null || parsed === 'ERROR' || (Number.isInteger(parsed) && parsed >= 0 && parsed <= 100), String(parsed));
  }));
  assert.equal(parseProgress('101'), null);
  assert.equal(parseProgress('-1'), null);
  assert.equal(parseProgress('5O'), null);
  assert.equal(parseProgress(''), null);
  assert.throws(() => formatProgress(101), RangeError);
  assert.throws(() => formatProgress(2.5), RangeError);
});

test('downloaded_sha.txt: a SHA-256 round-trips (case and whitespace forgiven); anything else is "none"', () => {
  fc.assert(fc.property(sha256Hex, fc.constantFrom('', '\n', ' \n', '\r\n'), fc.boolean(), (sha, trailer, upper) => {
    assert.equal(parseDownloadedSha(`${upper ? sha.toUpperCase() : sha}${trailer}`), sha);
  }));
  fc.assert(fc.property(fc.string(), (text) => {
    const parsed = parseDownloadedSha(text);
    assert.ok(parsed === null || /^[0-9a-f]{64}$/.test(parsed));
  }));
  assert.equal(parseDownloadedSha('a'.repeat(63)), null);
  assert.equal(parseDownloadedSha('g'.repeat(64)), null);
});

test('StateFiles write and read back on disk, atomically (no temp files left)', async (t) => {
  const dir = await tempDir(t);
  const state = new StateFiles(dir);
  assert.equal(await state.readDownloadedSha(), null);
  assert.equal(await state.readProgress(), null);
  assert.equal(await state.readDownloadedRelease(), null);
  await fc.assert(fc.asyncProperty(sha256Hex, progressValue, async (sha, progress) => {
    await state.writeDownloadedSha(sha);
    await state.writeProgress(progress);
    assert.equal(await state.readDownloadedSha(), sha);
    assert.equal(await state.readProgress(), progress);
  }), { numRuns: 25 });
  await assert.rejects(state.writeDownloadedSha('not a sha'), RangeError);
  assert.deepEqual((await readdir(dir)).sort(), ['downloaded_sha.txt', 'progress.txt']);

  const release = {
    filename: 'a.bin', mtime: 1, sha256: 'ab'.repeat(32), size: 3, ecu: 'EDT', firmwareVersion: '1.2.3',
    releaseId: '7', uploadedAt: undefined,
  };
  await state.writeDownloadedRelease(release, join(dir, 'a.bin'), 3);
  assert.deepEqual({ ...await state.readDownloadedRelease(), downloadedAt: 'x' }, {
    filename: 'a.bin', sha256: 'ab'.repeat(32), size: 3, ecu: 'EDT', firmwareVersion: '1.2.3', releaseId: '7',
    path: join(dir, 'a.bin'), downloadedAt: 'x',
  });
  // A damaged record reads as "nothing", it does not crash the client.
  await writeFile(state.path('downloadedRelease'), '{"filename": ');
  assert.equal(await state.readDownloadedRelease(), null);
});
