import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  /** Component name, e.g. `server`, `client`, `tmu`. */
  name: string;
  level?: LevelWithSilent;
  /** Where JSON lines go; defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/** One JSON-lines logger per process component (pino), so log shippers read every component alike. */
export function createLogger(options: LoggerOptions): Logger {
  const level = options.level ?? (process.env.CANOTA_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  return pino({ name: options.name, level }, options.destination ?? process.stdout);
}
