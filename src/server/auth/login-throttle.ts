import type { LoginFailureStore } from '../storage/login-failures.ts';

export interface LoginThrottleOptions {
  maxFailures: number;
  /** How long a lock lasts. */
  lockMs: number;
  /** How far back failures count (default 15 minutes). */
  windowMs?: number;
}

/** May this login attempt check its password? `lockedUntil` on an allowed attempt: it took the lock. */
export type LoginAttempt =
  | { allowed: true; lockedUntil: number | undefined }
  | { allowed: false; lockedUntil: number };

/**
 * Counts login attempts per client address and per username (whether the user exists or not, so the
 * lockout itself reveals nothing). Each attempt is counted as a failure before its password is checked,
 * and a success clears the count: parallel guesses cannot all reach the check before the first one is
 * counted. After `maxFailures` within `windowMs`, that key is locked for `lockMs`. The state lives in the
 * database, so every server instance enforces the same lock.
 */
export class LoginThrottle {
  constructor(
    private readonly store: LoginFailureStore,
    private readonly options: LoginThrottleOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** When the later of the two locks ends, or undefined when neither key is locked. */
  async lockedUntil(ip: string, username: string): Promise<number | undefined> {
    const now = this.clock();
    let until: number | undefined;
    for (const key of keys(ip, username)) {
      const record = await this.store.get(key);
      if (record?.locked_until && record.locked_until > now) until = Math.max(until ?? 0, record.locked_until);
    }
    return until;
  }

  /** Reserves one password check for both keys, counted as a failure until `recordSuccess`. */
  async reserve(ip: string, username: string): Promise<LoginAttempt> {
    const now = this.clock();
    const lockUntil = now + this.options.lockMs;
    const reservation = await this.store.reserveAttempt(keys(ip, username), {
      now,
      windowStart: now - (this.options.windowMs ?? 15 * 60_000),
      maxFailures: this.options.maxFailures,
      lockUntil,
    });
    if (reservation.refused) return { allowed: false, lockedUntil: reservation.lockedUntil };
    return { allowed: true, lockedUntil: reservation.locked.length > 0 ? lockUntil : undefined };
  }

  /** The reserved attempt was the right password: both counts (and a lock it took) are cleared. */
  async recordSuccess(ip: string, username: string): Promise<void> {
    for (const key of keys(ip, username)) await this.store.clear(key);
  }
}

function keys(ip: string, username: string): string[] {
  return [`ip:${ip}`, `user:${username}`];
}
