import type { Bus } from './bus.ts';
import { BusConfigurationError } from './errors.ts';
import { VirtualBus, type VirtualBusOptions } from './virtual.ts';
import { UdpMulticastBus, type UdpMulticastBusOptions } from './udp-multicast.ts';

/** Options every driver understands (`channel`, `filters`, …) plus each driver's own; a driver ignores the others'. */
export type OpenBusOptions = VirtualBusOptions & Omit<UdpMulticastBusOptions, keyof VirtualBusOptions>;

type DriverFactory = (options: OpenBusOptions) => Bus | Promise<Bus>;

/** The one table that maps `--bus NAME` to a driver (python-can's `interface=`). */
const drivers: Record<string, DriverFactory> = {
  virtual: (options) => new VirtualBus(options),
  'udp-multicast': (options) => UdpMulticastBus.open(options),
};

export const busDriverNames = (): string[] => Object.keys(drivers);

export async function openBus(driver: string, options: OpenBusOptions): Promise<Bus> {
  const factory = Object.hasOwn(drivers, driver) ? drivers[driver] : undefined;
  if (!factory) {
    throw new BusConfigurationError(`unknown CAN bus driver "${driver}" (known: ${busDriverNames().join(', ')})`);
  }
  return factory(options);
}
