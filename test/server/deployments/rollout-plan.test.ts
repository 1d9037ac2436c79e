import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assignWaves, checkWaves, overFailureThreshold, RolloutPlanError, waveSizes } from '../../../src/server/deployments/rollout-plan.ts';

test('waves: counts and percentages of the whole target, rounded up, the last takes the rest', () => {
  assert.deepEqual(waveSizes([{ count: 2 }, { percent: 50 }, { percent: 100 }], 10), [2, 5, 3]);
  assert.deepEqual(waveSizes([{ percent: 10 }, { percent: 100 }], 5), [1, 4], 'a percentage never rounds a wave down to nothing');
  assert.deepEqual(waveSizes([{ count: 3 }, { count: 3 }, { count: 3 }], 4), [3, 1, 0], 'waves after the target ran out are empty');
  assert.deepEqual(waveSizes([{ count: 1 }], 7), [7], 'one wave is everyone');
});

test('waves: every vehicle in exactly one wave, in order, waves never growing past their size', () => {
  const wave = fc.oneof(fc.record({ count: fc.integer({ min: 1, max: 50 }) }), fc.record({ percent: fc.integer({ min: 1, max: 100 }) }));
  fc.assert(fc.property(fc.array(wave, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 500 }), (waves, total) => {
    const vehicles = Array.from({ length: total }, (_, i) => i);
    const assigned = assignWaves(vehicles, waves);
    assert.deepEqual(assigned.map((a) => a.vehicle), vehicles);
    const sizes = waveSizes(waves, total);
    assert.equal(sizes.reduce((a, b) => a + b, 0), total);
    for (let i = 1; i < assigned.length; i++) assert.ok(assigned[i]!.wave >= assigned[i - 1]!.wave);
    waves.slice(0, -1).forEach((w, i) => {
      const cap = 'count' in w ? w.count : Math.ceil((w.percent / 100) * total);
      assert.ok(sizes[i]! <= cap);
    });
  }));
});

test('waves as given: either count or percent, in range, 1 to 20 of them', () => {
  assert.deepEqual(checkWaves([{ count: 2 }, { percent: 100 }]), [{ count: 2 }, { percent: 100 }]);
  for (const [bad, message] of [
    [[], /1 to 20 waves/], [[{}], /either count or percent/], [[{ count: 1, percent: 5 }], /either count or percent/],
    [[{ count: 0 }], /count must be a whole number/], [[{ count: 1.5 }], /count must be/], [[{ percent: 0 }], /percent must be above 0/],
    [[{ percent: 101 }], /at most 100/], [[{ percent: '50' }], /percent must be/], [Array(21).fill({ count: 1 }), /1 to 20 waves/],
  ] as const) {
    assert.throws(() => checkWaves(bad as unknown[]), (error: unknown) => error instanceof RolloutPlanError && message.test(error.message));
  }
});

test('failure threshold: more than the share pauses, exactly the share does not', () => {
  assert.equal(overFailureThreshold(1, 20, 5), false, '5 % of 20 is 1: allowed');
  assert.equal(overFailureThreshold(2, 20, 5), true);
  assert.equal(overFailureThreshold(1, 10, 5), true);
  assert.equal(overFailureThreshold(0, 10, 0), false);
  assert.equal(overFailureThreshold(1, 10, 0), true, 'a threshold of 0 pauses at the first failure');
  assert.equal(overFailureThreshold(10, 10, 100), false, '100 % never pauses');
});
