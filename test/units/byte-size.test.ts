import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatByteSize } from '../../src/units/byte-size.ts';

test('sizes in binary units, one decimal by default, precision chosen from the scaled value', () => {
  assert.equal(formatByteSize(0), '0 B');
  assert.equal(formatByteSize(1023), '1023 B');
  assert.equal(formatByteSize(1023.6), '1024 B', 'rates are rounded to whole bytes');
  assert.equal(formatByteSize(1536), '1.5 KiB');
  assert.equal(formatByteSize(256 * 1024), '256.0 KiB');
  assert.equal(formatByteSize(2 * 1024 ** 4), '2.0 TiB');
  const adminUi = (value: number) => (value < 10 ? 2 : 1);
  assert.equal(formatByteSize(2.25 * 1024 ** 2, adminUi), '2.25 MiB');
  assert.equal(formatByteSize(256 * 1024, adminUi), '256.0 KiB');
  assert.equal(formatByteSize(512, adminUi), '512 B');
});
