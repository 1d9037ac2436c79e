import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retryAfterMs, statusError } from '../../src/ota-http/status.ts';

test('Retry-After: delay-seconds or an HTTP-date, from now; nothing readable is undefined', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.equal(retryAfterMs('120', now), 120_000);
  assert.equal(retryAfterMs(' 0 ', now), 0);
  assert.equal(retryAfterMs(['30', '60'], now), 30_000, 'the first of repeated headers');
  assert.equal(retryAfterMs('Wed, 01 Jan 2025 00:01:30 GMT', now), 90_000);
  assert.equal(retryAfterMs('Tue, 31 Dec 2024 23:00:00 GMT', now), 0, 'a date in the past: now');
  assert.equal(retryAfterMs(undefined, now), undefined);
  assert.equal(retryAfterMs('', now), undefined);
  assert.equal(retryAfterMs('soon', now), undefined);
  assert.equal(retryAfterMs('-5', now), undefined);
});

test('every status class has its code; the 5xx range is one class', () => {
  const codeOf = (status: number) => statusError(status, 'GET /x', 'm').code;
  assert.equal(codeOf(401), 'OTA_HTTP_UNAUTHORIZED');
  assert.equal(codeOf(403), 'OTA_HTTP_FORBIDDEN');
  assert.equal(codeOf(429), 'OTA_HTTP_RATE_LIMITED');
  for (const status of [500, 501, 503, 599]) assert.equal(codeOf(status), 'OTA_HTTP_SERVER_ERROR');
  for (const status of [404, 405]) assert.equal(codeOf(status), 'OTA_HTTP_NOT_FOUND');
  for (const status of [400, 413, 422]) assert.equal(codeOf(status), 'OTA_HTTP_REJECTED');
  for (const status of [200, 204, 304, 402, 409, 410, 600]) assert.equal(codeOf(status), 'OTA_HTTP_UNEXPECTED_STATUS');
  const limited = statusError(429, 'GET /get_nonce', 'slow down', '3');
  assert.equal(limited.message, 'GET /get_nonce answered 429: slow down');
  assert.equal(limited.retryAfterMs, 3000);
});
