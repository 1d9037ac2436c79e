import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Timing of requests to the OTA server, for the download client and the TMU alike. Both delays are
 * randomised on purpose: a fleet of vehicles that started together (or lost the server together) must not
 * hit it in lockstep.
 */

/** The pause before try `attempt + 1` after try `attempt` (1-based) failed: exponential, "equal jitter". */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The pause between two polls: `interval` ± 10 %. */
export function pollDelayMs(intervalMs: number, random: () => number = Math.random): number {
  return intervalMs * (0.9 + 0.2 * random());
}

/** Waits `ms`, or less if `signal` aborts first (then resolves false instead of throwing). */
export async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch (error) {
    if (signal?.aborted) return false;
    throw error;
  }
}
