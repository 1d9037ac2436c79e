import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../../../logging/logger.ts';
import { RequestRejectedError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { computeSecurityKey } from '../services/security-access.ts';
import type { SecurityAttempts, SecurityAttemptStore, SecurityOptions, SecurityRequirement } from './options.ts';

/**
 * SecurityAccess seed/key state (ISO 14229-1 §10.4): one unlocked level at a time, a seed valid for the
 * next sendKey of its level only, an attempt counter, and the delay timer after too many wrong keys.
 * With an attempt store the counter and the delay survive resets and power losses: they are loaded at
 * power-up and saved before a key is answered, and anything unreadable there costs the full delay.
 */
export class SecurityState {
  readonly #options: Required<Pick<SecurityOptions, 'seedLength' | 'keyLength' | 'maxAttempts' | 'delayMs' | 'bootDelayMs'>>;
  readonly #computeKey: (seed: Uint8Array, level: number) => Uint8Array;
  readonly #store: SecurityAttemptStore | undefined;
  readonly #now: () => number;
  readonly #logger: Logger | undefined;
  #unlocked: number | null = null;
  #pendingSeed: { level: number; seed: Uint8Array } | null = null;
  #failedAttempts = 0;
  /** Epoch ms: wall-clock time, because a persisted delay must mean the same after a restart. */
  #delayedUntil: number;
  #saving: Promise<void> = Promise.resolve();
  /** The store held something unreadable: the next outcome replaces it. */
  #storeDamaged = false;

  constructor(options: SecurityOptions, logger?: Logger) {
    this.#options = {
      seedLength: options.seedLength ?? 16,
      keyLength: options.keyLength ?? 16,
      maxAttempts: options.maxAttempts ?? 3,
      delayMs: options.delayMs ?? 10_000,
      bootDelayMs: options.bootDelayMs ?? 0,
    };
    const { secret, computeKey } = options;
    const keyLength = this.#options.keyLength;
    this.#computeKey = computeKey ?? ((seed) => computeSecurityKey(secret, seed, keyLength));
    this.#store = options.attempts;
    this.#now = options.now ?? Date.now;
    this.#logger = logger;
    this.#delayedUntil = this.#now() + this.#options.bootDelayMs;
    this.#restore();
  }

  get unlockedLevel(): number | null {
    return this.#unlocked;
  }

  get failedAttempts(): number {
    return this.#failedAttempts;
  }

  /** Epoch ms until which seeds are refused (in the past when no delay runs). */
  get delayedUntil(): number {
    return this.#delayedUntil;
  }

  satisfies(requirement: SecurityRequirement | null | undefined): boolean {
    if (requirement === undefined || requirement === null) return true;
    if (requirement === 'any') return this.#unlocked !== null;
    return this.#unlocked === requirement;
  }

  requestSeed(level: number): Uint8Array {
    this.#checkDelay();
    // An unlocked level answers with an all-zero seed (ISO 14229-1 §10.4.2).
    if (this.#unlocked === level) return new Uint8Array(this.#options.seedLength);
    const seed = new Uint8Array(randomBytes(this.#options.seedLength));
    if (seed.every((byte) => byte === 0)) seed[0] = 1;
    this.#pendingSeed = { level, seed };
    return seed;
  }

  /** Resolves when the key unlocks `level`; rejects with the NRC once the outcome is saved (never before). */
  async sendKey(level: number, key: Uint8Array): Promise<void> {
    this.#checkDelay();
    const pending = this.#pendingSeed;
    if (pending === null || pending.level !== level) {
      throw new RequestRejectedError(Nrc.RequestSequenceError, 'sendKey without a preceding requestSeed for this level');
    }
    // A seed answers one key only: a guess needs a fresh seed.
    this.#pendingSeed = null;
    if (key.length !== this.#options.keyLength) throw invalidFormat(`key must be ${this.#options.keyLength} bytes, got ${key.length}`);
    const expected = this.#computeKey(pending.seed, level);
    if (expected.length === key.length && timingSafeEqual(expected, key)) {
      if (this.#failedAttempts > 0 || this.#storeDamaged) {
        this.#failedAttempts = 0;
        // A stored count that stays too high only costs the rightful tester a guess: unlock anyway.
        await this.#save().catch((error: unknown) => this.#logger?.warn({ err: error }, 'security-access attempts not saved after a right key'));
      }
      this.#unlocked = level;
      return;
    }
    this.#failedAttempts += 1;
    const { maxAttempts, delayMs } = this.#options;
    let locked = this.#failedAttempts >= maxAttempts;
    if (locked) this.#startDelay();
    try {
      await this.#save();
    } catch (error) {
      // Unsaved, a power cycle would forget this guess: give no further guesses now instead.
      this.#logger?.error({ err: error }, 'security-access attempts not saved: locked for the full delay');
      if (!locked) this.#startDelay();
      locked = true;
    }
    if (locked) throw new RequestRejectedError(Nrc.ExceededNumberOfAttempts, `${maxAttempts} wrong keys; locked for ${delayMs} ms`);
    throw new RequestRejectedError(Nrc.InvalidKey);
  }

  lock(): void {
    this.#unlocked = null;
    this.#pendingSeed = null;
  }

  #startDelay(): void {
    this.#failedAttempts = 0;
    this.#delayedUntil = this.#now() + this.#options.delayMs;
  }

  #checkDelay(): void {
    const left = this.#delayedUntil - this.#now();
    if (left > 0) throw new RequestRejectedError(Nrc.RequiredTimeDelayNotExpired, `${Math.ceil(left)} ms left`);
  }

  #restore(): void {
    const store = this.#store;
    if (!store) return;
    const { maxAttempts, delayMs } = this.#options;
    const now = this.#now();
    let saved: SecurityAttempts | null;
    try {
      saved = store.load();
      if (saved !== null && (!Number.isSafeInteger(saved.failedAttempts) || saved.failedAttempts < 0 || !Number.isFinite(saved.delayedUntil))) {
        throw new TypeError(`not a valid attempt record: ${JSON.stringify(saved)}`);
      }
    } catch (error) {
      // Fail closed: what cannot be read may have been a lockout.
      this.#delayedUntil = Math.max(this.#delayedUntil, now + delayMs);
      this.#storeDamaged = true;
      this.#logger?.error({ err: error, delayMs }, 'security-access attempts unreadable: locked for the full delay');
      return;
    }
    if (saved === null) return;
    this.#failedAttempts = Math.min(saved.failedAttempts, maxAttempts - 1);
    // Never longer than one full delay from now: a clock set back must not lock the ECU for the difference.
    this.#delayedUntil = Math.max(this.#delayedUntil, Math.min(saved.delayedUntil, now + delayMs));
  }

  #save(): Promise<void> {
    const store = this.#store;
    if (!store) return Promise.resolve();
    const attempts: SecurityAttempts = { failedAttempts: this.#failedAttempts, delayedUntil: this.#delayedUntil };
    // In order: a later save never lands before an earlier one.
    const saving = this.#saving.then(() => store.save(attempts));
    this.#saving = saving.catch(() => undefined);
    return saving.then(() => { this.#storeDamaged = false; });
  }
}
