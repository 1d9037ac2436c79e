import type { VehicleConfig } from '../config.ts';
import type { StatusReceiver, VerifiedStatus } from './status-receiver.ts';
import { ALWAYS_STOPPED, type VehicleCondition } from './vehicle-condition.ts';

/** A verified status frame of the motion source counts for this long (it sends one every 100 ms). */
export const MOTION_STATUS_MAX_AGE_MS = 1000;

/**
 * "Is the vehicle stopped?" as an ECU learns it from the motion source's authenticated status frames:
 * stopped only while the latest verified frame, received within `maxAgeMs`, says not moving. No fresh
 * verified frame (none yet, the source silent, or only forged or replayed ones) is "not known to be
 * stopped": the ECU fails closed and refuses what would interrupt driving.
 */
export class MotionListener implements VehicleCondition {
  readonly source: string;
  readonly #maxAgeMs: number;
  readonly #now: () => number;
  readonly #unsubscribe: () => void;
  #latest: VerifiedStatus | null = null;

  constructor(receiver: StatusReceiver, source: string, options: { maxAgeMs?: number; now?: () => number } = {}) {
    this.source = source;
    this.#maxAgeMs = options.maxAgeMs ?? MOTION_STATUS_MAX_AGE_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#unsubscribe = receiver.onStatus((verified) => {
      if (verified.ecu === source) this.#latest = verified;
    });
  }

  drivingReason(): string | null {
    const latest = this.#latest;
    if (!latest) return `no authenticated status frame from ${this.source} yet: the vehicle is not known to be stopped`;
    const age = this.#now() - latest.at;
    if (age > this.#maxAgeMs) {
      return `no authenticated status frame from ${this.source} for ${Math.round(age)} ms: the vehicle is not known to be stopped`;
    }
    return latest.status.vehicleMoving ? `${this.source} reports the vehicle moving` : null;
  }

  close(): void {
    this.#unsubscribe();
  }
}

/** The motion source's own view: its drive input (`EcuOptions.driving`). */
export function drivingInputCondition(driving: () => boolean): VehicleCondition {
  return { drivingReason: () => driving() ? 'the vehicle is driving' : null };
}

/**
 * Which VehicleCondition `ecu` uses: none to ask when the config has no `motionSource` (always stopped);
 * the motion source its own drive input; every other ECU the motion source's frames through `receiver`
 * (null receiver: it cannot verify them, so it is never known to be stopped).
 */
export function vehicleConditionFor(config: VehicleConfig, ecu: string, options: {
  driving?: () => boolean; receiver: StatusReceiver | null;
}): VehicleCondition & { close?: () => void } {
  const source = config.motionSource;
  if (source === undefined) return ALWAYS_STOPPED;
  if (source === ecu) return drivingInputCondition(options.driving ?? (() => false));
  if (!options.receiver || !options.receiver.senders.includes(source)) {
    return { drivingReason: () => `${ecu} cannot verify ${source}'s status frames: the vehicle is not known to be stopped` };
  }
  return new MotionListener(options.receiver, source);
}
