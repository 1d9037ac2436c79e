import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { pause, pollDelayMs, retryDelayMs } from '../../src/timing/schedule.ts';

const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

test('retry delays grow exponentially, stay within [ceiling/2, ceiling], and are capped', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), unit, unit,
    (attempt, base, max, r1, r2) => {
      const ceiling = Math.min(max, base * 2 ** (attempt - 1));
      const delay = retryDelayMs(attempt, base, max, () => r1);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} in [${ceiling / 2}, ${ceiling}]`);
      // The next try never waits less than half of this one's ceiling: backing off, not hammering.
      assert.ok(retryDelayMs(attempt + 1, base, max, () => r2) >= ceiling / 2);
    }));
  // Jitter: two vehicles that failed together do not retry together.
  assert.notEqual(retryDelayMs(3, 1000, 60_000, () => 0.1), retryDelayMs(3, 1000, 60_000, () => 0.9));
});

test('poll delays are the interval ±10 %', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 3_600_000 }), unit, (interval, r) => {
    const delay = pollDelayMs(interval, () => r);
    assert.ok(delay >= interval * 0.9 && delay <= interval * 1.1);
  }));
});

test('pause resolves true after the time, false at once when aborted', async () => {
  assert.equal(await pause(5), true);
  const controller = new AbortController();
  const started = performance.now();
  const paused = pause(60_000, controller.signal);
  controller.abort();
  assert.equal(await paused, false);
  assert.ok(performance.now() - started < 5_000);
  assert.equal(await pause(60_000, controller.signal), false);
});
