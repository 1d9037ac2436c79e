export type StopSignal = 'SIGINT' | 'SIGTERM';

/*
 * Listen before a command starts anything or prints that it is ready: until a listener exists the kernel
 * applies the signal's default action (the process ends at once, its children orphaned, nothing closed),
 * and whoever reads the readiness line (a supervisor, a test) may signal at once.
 */

/**
 * Calls `onSignal` on the first SIGINT or SIGTERM from now on; the returned function stops listening. Each
 * signal is listened for once: the same signal again gets its default action (a second Ctrl-C ends the
 * process at once), the other one is ignored.
 */
function onFirstStopSignal(onSignal: (signal: StopSignal) => void): () => void {
  let stopping = false;
  const handler = (signal: StopSignal) => {
    if (stopping) return;
    stopping = true;
    onSignal(signal);
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Resolves with the first SIGINT or SIGTERM, listening from now on, for commands that run until stopped. */
export function nextStopSignal(): Promise<StopSignal> {
  return new Promise((resolve) => onFirstStopSignal(resolve));
}

/**
 * An AbortSignal that the first SIGINT or SIGTERM aborts (after `onSignal`, e.g. a log line), for commands
 * whose work takes a signal; `release()` stops listening once that work is over.
 */
export function abortOnStopSignal(onSignal: (signal: StopSignal) => void): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const release = onFirstStopSignal((signal) => {
    onSignal(signal);
    controller.abort(new Error(`stopped by ${signal}`));
  });
  return { signal: controller.signal, release };
}
