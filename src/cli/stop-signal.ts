export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Starts listening for SIGINT and SIGTERM now and resolves with the first that arrives. Call it before a
 * command starts anything or prints that it is ready: until a listener exists the kernel applies the
 * signal's default action (the process ends at once, its children orphaned, nothing closed), and whoever
 * reads the readiness line (a supervisor, a test) may signal at once. Only the first signal is taken here;
 * `canota server` treats a second one as "exit now".
 */
export function nextStopSignal(): Promise<StopSignal> {
  return new Promise((resolve) => {
    const onSignal = (signal: StopSignal) => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
