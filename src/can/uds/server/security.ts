import { randomBytes, timingSafeEqual } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RequestRejectedError, invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { computeSecurityKey } from '../services/security-access.ts';
import type { SecurityOptions, SecurityRequirement } from './options.ts';

/**
 * SecurityAccess seed/key state (ISO 14229-1 §10.4): one unlocked level at a time, a seed valid for the
 * next sendKey of its level only, an attempt counter, and the delay timer after too many wrong keys.
 */
export class SecurityState {
  readonly #options: Required<Omit<SecurityOptions, 'levels' | 'computeKey' | 'secret'>>;
  readonly #computeKey: (seed: Uint8Array, level: number) => Uint8Array;
  #unlocked: number | null = null;
  #pendingSeed: { level: number; seed: Uint8Array } | null = null;
  #failedAttempts = 0;
  #delayedUntil: number;

  constructor(options: SecurityOptions) {
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
    this.#delayedUntil = performance.now() + this.#options.bootDelayMs;
  }

  get unlockedLevel(): number | null {
    return this.#unlocked;
  }

  get failedAttempts(): number {
    return this.#failedAttempts;
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

  sendKey(level: number, key: Uint8Array): void {
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
      this.#unlocked = level;
      this.#failedAttempts = 0;
      return;
    }
    this.#failedAttempts += 1;
    if (this.#failedAttempts >= this.#options.maxAttempts) {
      this.#failedAttempts = 0;
      this.#delayedUntil = performance.now() + this.#options.delayMs;
      throw new RequestRejectedError(Nrc.ExceededNumberOfAttempts, `${this.#options.maxAttempts} wrong keys; locked for ${this.#options.delayMs} ms`);
    }
    throw new RequestRejectedError(Nrc.InvalidKey);
  }

  lock(): void {
    this.#unlocked = null;
    this.#pendingSeed = null;
  }

  #checkDelay(): void {
    const left = this.#delayedUntil - performance.now();
    if (left > 0) throw new RequestRejectedError(Nrc.RequiredTimeDelayNotExpired, `${Math.ceil(left)} ms left`);
  }
}
