import { DeploymentInputError } from './deployment-errors.ts';

/**
 * A deployment's waves (hawkBit's rollout groups): each a number of vehicles or a percentage of the whole
 * target, in order; the last wave takes whatever is left, so every targeted vehicle is in exactly one wave.
 */
export type WaveSize = { count: number } | { percent: number };

export interface RolloutPlan {
  waves: WaveSize[];
  /** A wave whose failed vehicles exceed this share of it (in percent) pauses the deployment. */
  failureThresholdPercent: number;
  /** After each wave the deployment waits for an operator's `advance` instead of going on by itself. */
  requireApproval: boolean;
}

export class RolloutPlanError extends DeploymentInputError {}

export const maxWaves = 20;

/** Checks waves as the API receives them; throws RolloutPlanError saying what is wrong. */
export function checkWaves(waves: readonly unknown[]): WaveSize[] {
  if (waves.length === 0 || waves.length > maxWaves) throw new RolloutPlanError(`give 1 to ${maxWaves} waves`);
  return waves.map((wave, index) => {
    const { count, percent } = (wave ?? {}) as { count?: unknown; percent?: unknown };
    if ((count === undefined) === (percent === undefined)) throw new RolloutPlanError(`wave ${index + 1}: give either count or percent`);
    if (count !== undefined) {
      if (!Number.isSafeInteger(count) || (count as number) < 1) throw new RolloutPlanError(`wave ${index + 1}: count must be a whole number from 1`);
      return { count: count as number };
    }
    if (typeof percent !== 'number' || !(percent > 0 && percent <= 100)) throw new RolloutPlanError(`wave ${index + 1}: percent must be above 0 and at most 100`);
    return { percent };
  });
}

/**
 * How many vehicles of `total` each wave gets: a percentage is of the whole target, rounded up (a wave is
 * never empty while vehicles are left); the last wave gets the rest. Waves after the target ran out get 0.
 */
export function waveSizes(waves: readonly WaveSize[], total: number): number[] {
  let left = total;
  return waves.map((wave, index) => {
    const wanted = index === waves.length - 1 ? left
      : 'count' in wave ? wave.count : Math.ceil((wave.percent / 100) * total);
    const size = Math.min(left, Math.max(wanted, 0));
    left -= size;
    return size;
  });
}

/** The wave (1-based) of each of `vehicles`, in their order. */
export function assignWaves<T>(vehicles: readonly T[], waves: readonly WaveSize[]): { vehicle: T; wave: number }[] {
  const sizes = waveSizes(waves, vehicles.length);
  const assigned: { vehicle: T; wave: number }[] = [];
  let next = 0;
  sizes.forEach((size, index) => {
    for (const vehicle of vehicles.slice(next, next + size)) assigned.push({ vehicle, wave: index + 1 });
    next += size;
  });
  return assigned;
}

/** Whether a wave's failures pause the deployment: more than the threshold's share of the wave failed. */
export function overFailureThreshold(failed: number, waveSize: number, thresholdPercent: number): boolean {
  return waveSize > 0 && failed * 100 > thresholdPercent * waveSize;
}
