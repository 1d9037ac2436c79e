export * from './candump.ts';
export * from './reader.ts';
export * from './writer.ts';
