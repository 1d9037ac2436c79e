import type { LoginFailureStore } from '../storage/login-failures.ts';

export interface LoginThrottleOptions {
  maxFailures: number;
  /** How long a lock lasts. */
  lockMs: number;
  /** How far back failures count (default 15 minutes). */
  windowMs?: number;
}

/**
 * Counts failed logins per client address and per username (whether the user exists or not, so the
 * lockout itself reveals nothing). After `maxFailures` failures within `windowMs`, that key is locked for
 * `lockMs`. The state lives in the database, so every server instance enforces the same lock.
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

  /** Returns the lock end when this failure locked a key. */
  async recordFailure(ip: string, username: string): Promise<number | undefined> {
    const now = this.clock();
    const lockUntil = now + this.options.lockMs;
    const locked = await this.store.recordFailure(keys(ip, username), {
      now,
      windowStart: now - (this.options.windowMs ?? 15 * 60_000),
      maxFailures: this.options.maxFailures,
      lockUntil,
    });
    return locked.length > 0 ? lockUntil : undefined;
  }

  async recordSuccess(ip: string, username: string): Promise<void> {
    for (const key of keys(ip, username)) await this.store.clear(key);
  }
}

function keys(ip: string, username: string): string[] {
  return [`ip:${ip}`, `user:${username}`];
}
