/**
 * What an ECU knows about the vehicle's motion, for the requests that would interrupt driving: a reset
 * (0x11) and the programming session (0x10 02) wait until the vehicle is stopped. Issue 10 ("UDS access
 * rules"): nothing on the bus may reboot a controller of a moving car.
 */
export interface VehicleCondition {
  /** null when the vehicle is stopped; else why updates must wait (moving, or no fresh motion signal). */
  drivingReason(): string | null;
}

/**
 * A vehicle that is always stopped: the default until the ECUs learn the motion from an authenticated
 * signal in the status frames. Tests that need a moving car pass their own condition.
 */
export const ALWAYS_STOPPED: VehicleCondition = { drivingReason: () => null };
