import type { Logger } from '../logging/logger.ts';

/**
 * The simulated drive input of the vehicle's motion source (`--driving`): driving from the start when the
 * flag is given, and SIGUSR1 toggles it (`kill -USR1 <pid>`: the car pulls away or stops), so a bench can
 * show an update waiting for the vehicle to stop. Sets the VehicleMoving bit of the motion source's
 * authenticated status frames; every other ECU refuses resets and programming while it is set.
 */
export function driveInput(initial: boolean, logger: Logger): { driving: () => boolean; release: () => void } {
  let driving = initial;
  const toggle = () => {
    driving = !driving;
    logger.info({ driving }, driving ? 'drive input: the vehicle is driving' : 'drive input: the vehicle stopped');
  };
  process.on('SIGUSR1', toggle);
  return { driving: () => driving, release: () => void process.off('SIGUSR1', toggle) };
}
