import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatBytes, formatDuration, formatProgressLine } from '../../src/client/terminal-progress.ts';
import type { Release } from '../../src/ota-http/release.ts';

const release = (filename: string): Release => ({
  filename, mtime: 0, sha256: '0'.repeat(64), size: undefined, ecu: undefined, firmwareVersion: undefined,
  releaseId: undefined, uploadedAt: undefined,
});

test('the progress line shows name, bar, percent, sizes, speed and ETA', () => {
  const line = formatProgressLine({
    release: release('edt-2.0.0.bin'), receivedBytes: 12.5 * 1024 ** 2, totalBytes: 25 * 1024 ** 2, percent: 50,
    bytesPerSecond: 5 * 1024 ** 2, etaSeconds: 2.5,
  }, 100);
  assert.match(line, /^edt-2\.0\.0\.bin \[#+-+\] {2}50% {2}12\.5 MiB\/25\.0 MiB {2}5\.0 MiB\/s {2}ETA 0:03$/);
  const bar = /\[(#*)(-*)\]/.exec(line)!;
  assert.ok(Math.abs(bar[1]!.length - bar[2]!.length) <= 1, `half full: ${bar[0]}`);
});

test('the progress line always fits the terminal', () => {
  fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 80 }), fc.nat({ max: 2 ** 40 }), fc.option(fc.nat({ max: 2 ** 40 })),
    fc.integer({ min: 20, max: 300 }), (name, received, total, columns) => {
      const totalBytes = total ?? undefined;
      const percent = totalBytes === undefined ? undefined : Math.min(100, Math.floor((received * 100) / Math.max(1, totalBytes)));
      const line = formatProgressLine({ release: release(name), receivedBytes: received, totalBytes, percent, bytesPerSecond: 1234, etaSeconds: 7 }, columns);
      assert.ok(line.length < columns, `${line.length} >= ${columns}: ${line}`);
    }));
});

test('bytes and durations read like a person would write them', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(61.4), '1:01');
  assert.equal(formatDuration(3 * 3600 + 5), '3:00:05');
});
