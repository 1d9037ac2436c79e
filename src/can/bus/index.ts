export * from './frame.ts';
export * from './bus.ts';
export * from './virtual.ts';
export { openBus, busDriverNames } from './registry.ts';
