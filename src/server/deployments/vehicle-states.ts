/**
 * Where one vehicle is in one deployment, as the car reports it (docs/server.md, "Deployments"):
 * `waiting` (its wave has not started), `assigned` (told to install, not heard from yet), `offered` (its
 * driver is asked), `postponed`, `downloading`, `installing`, and the ends: `succeeded`, `declined`,
 * `failed`, `rolled-back`, `refused` (the car refused the images: signature, downgrade, unknown ECU),
 * `cancelled` (the deployment was cancelled before the car started).
 */
export const vehicleStates = [
  'waiting', 'assigned', 'offered', 'postponed', 'downloading', 'installing',
  'succeeded', 'declined', 'failed', 'rolled-back', 'refused', 'cancelled',
] as const;
export type VehicleState = (typeof vehicleStates)[number];

const finalStates: ReadonlySet<VehicleState> = new Set(['succeeded', 'declined', 'failed', 'rolled-back', 'refused', 'cancelled']);
/** What counts against a wave's failure threshold. */
const failureStates: ReadonlySet<VehicleState> = new Set(['failed', 'rolled-back', 'refused']);
/** The car is working on it: cancelling or pausing lets it finish (or roll back) instead of cutting it off. */
const busyStates: ReadonlySet<VehicleState> = new Set(['downloading', 'installing']);

export const isFinal = (state: VehicleState): boolean => finalStates.has(state);
export const isFailure = (state: VehicleState): boolean => failureStates.has(state);
export const isBusy = (state: VehicleState): boolean => busyStates.has(state);

/** What a car may report while it works (the ends come with its report, `POST …/reports`). */
export const progressStates = ['offered', 'postponed', 'downloading', 'installing', 'refused'] as const;
export type ProgressState = (typeof progressStates)[number];

/** A report's outcome as a deployment state. */
export function stateOfOutcome(outcome: string): VehicleState | undefined {
  switch (outcome) {
    case 'success': return 'succeeded';
    case 'failed': return 'failed';
    case 'rolled-back': return 'rolled-back';
    case 'declined': return 'declined';
    case 'postponed': return 'postponed';
    default: return undefined;
  }
}
