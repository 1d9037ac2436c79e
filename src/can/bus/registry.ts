import type { Bus } from './bus.ts';
import { BusConfigurationError } from './errors.ts';
import { VirtualBus, type VirtualBusOptions } from './virtual.ts';

/** Options every driver understands; drivers read their own extra keys. */
export type OpenBusOptions = VirtualBusOptions & Record<string, unknown>;

type DriverFactory = (options: OpenBusOptions) => Bus | Promise<Bus>;

/** The one table that maps `--bus NAME` to a driver (python-can's `interface=`). */
const drivers: Record<string, DriverFactory> = {
  virtual: (options) => new VirtualBus(options),
};

export const busDriverNames = (): string[] => Object.keys(drivers);

export async function openBus(driver: string, options: OpenBusOptions): Promise<Bus> {
  const factory = drivers[driver];
  if (!factory) {
    throw new BusConfigurationError(`unknown CAN bus driver "${driver}" (known: ${busDriverNames().join(', ')})`);
  }
  return factory(options);
}
