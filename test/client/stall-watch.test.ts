import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rateOverWindow, StallWatch, type ByteSample } from '../../src/client/stall-watch.ts';

test('rateOverWindow never judges less than a full window', () => {
  fc.assert(fc.property(fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 100, max: 10_000 }),
    (steps, windowMs) => {
      let at = 0;
      let bytes = 0;
      const samples: ByteSample[] = [];
      for (const step of steps) {
        samples.push({ at, bytes });
        at += 100;
        bytes += step;
      }
      const now = samples.at(-1)!.at;
      const rate = rateOverWindow(samples, now, windowMs);
      if (now - samples[0]!.at < windowMs) assert.equal(rate, undefined);
      else assert.ok(rate !== undefined && rate >= 0);
    }));
});

test('rateOverWindow measures a steady transfer at its rate', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 1, max: 20 }), (bytesPerSecond, seconds) => {
    const samples: ByteSample[] = [];
    for (let i = 0; i <= seconds * 4; i++) samples.push({ at: i * 250, bytes: (bytesPerSecond * i) / 4 });
    const rate = rateOverWindow(samples, seconds * 1000, 1000);
    assert.ok(rate !== undefined && Math.abs(rate - bytesPerSecond) < 1e-6 * (bytesPerSecond + 1));
  }));
});

test('StallWatch fires for a trickle and stays quiet for a steady flow', async () => {
  const trickle = await watch(10, 200, 1000);
  assert.ok(trickle.stalledAt !== undefined && trickle.rate! < 1000, 'a trickle is a stall');
  const steady = await watch(1_000_000, 200, 1000);
  assert.equal(steady.stalledAt, undefined, 'a fast flow is not');
  const disabled = await watch(0, 200, 0);
  assert.equal(disabled.stalledAt, undefined, 'minSpeed 0 disables the watch');
});

/** Feeds `bytesPerSecond` into a watch with the given window for 3 windows; reports when it fired. */
async function watch(bytesPerSecond: number, windowMs: number, minSpeed: number): Promise<{ stalledAt?: number; rate?: number }> {
  const result: { stalledAt?: number; rate?: number } = {};
  const started = performance.now();
  const stall = new StallWatch({ minSpeed, windowMs, onStall: (rate) => {
    result.stalledAt = performance.now() - started;
    result.rate = rate;
  } });
  stall.start();
  const feeder = setInterval(() => { stall.bytes = Math.round(((performance.now() - started) / 1000) * bytesPerSecond); }, 10);
  await new Promise((resolve) => setTimeout(resolve, windowMs * 3));
  clearInterval(feeder);
  stall.stop();
  return result;
}
