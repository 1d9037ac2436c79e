import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseByteSize, ServerConfigError } from '../../src/server/config.ts';

test('sizes with units', () => {
  assert.equal(parseByteSize('512MiB'), 512 * 2 ** 20);
  assert.equal(parseByteSize('10M'), 10 * 2 ** 20);
  assert.equal(parseByteSize('1g'), 2 ** 30);
  assert.equal(parseByteSize('64KiB'), 65536);
  assert.equal(parseByteSize('4096'), 4096);
  assert.equal(parseByteSize('1.5k'), 1536);
  for (const bad of ['', 'lots', '-1', '0', '1 parsec']) assert.throws(() => parseByteSize(bad), ServerConfigError, bad);
});
