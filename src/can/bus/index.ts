export * from './errors.ts';
export { nowSeconds } from './clock.ts';
export * from './frame.ts';
export * from './bus.ts';
export * from './timing.ts';
export { busLoadPercent, arbitrationPriority, type WireStatistics } from './wire.ts';
export * from './virtual.ts';
export { openBus, busDriverNames, type OpenBusOptions } from './registry.ts';
