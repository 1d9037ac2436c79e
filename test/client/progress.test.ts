import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { percentOf, ProgressMeter, type DownloadProgress } from '../../src/client/progress.ts';
import type { Release } from '../../src/ota-http/release.ts';

const release: Release = {
  filename: 'fw.bin', mtime: 0, sha256: '0'.repeat(64), size: 1000, ecu: undefined, firmwareVersion: undefined,
  releaseId: undefined, uploadedAt: undefined,
};

test('percentOf: floor, 0–100, monotonic', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.nat(), fc.nat(), (total, a, b) => {
    const [x, y] = [a % (total + 1), b % (total + 1)].sort((p, q) => p - q);
    const px = percentOf(x!, total)!;
    assert.ok(px >= 0 && px <= 100 && Number.isInteger(px));
    assert.ok(px <= percentOf(y!, total)!);
    assert.equal(percentOf(total, total), 100);
  }));
  assert.equal(percentOf(5, undefined), undefined);
  assert.equal(percentOf(0, 0), 100);
});

test('the meter reports each percent once (plus a heartbeat), with rate and ETA', () => {
  let now = 0;
  const reports: DownloadProgress[] = [];
  const meter = new ProgressMeter(release, 1000, 0, (progress) => reports.push(progress), () => now);
  for (let bytes = 1; bytes <= 1000; bytes++) {
    now += 1;
    meter.update(bytes);
  }
  const percents = reports.map((report) => report.percent);
  assert.deepEqual(percents, [...new Set(percents)], 'no percent twice within the heartbeat');
  assert.equal(percents.at(-1), 100);
  // 1000 bytes/s here.
  const last = reports.at(-1)!;
  assert.ok(Math.abs(last.bytesPerSecond - 1000) < 1, String(last.bytesPerSecond));
  assert.equal(last.etaSeconds, 0);
  const middle = reports.find((report) => report.percent === 50)!;
  assert.ok(Math.abs(middle.etaSeconds! - 0.5) < 0.05, String(middle.etaSeconds));

  // A stuck percentage still reports twice a second, so a bar shows the speed falling.
  now += 600;
  meter.update(1000);
  assert.equal(reports.length, percents.length + 1);
});
