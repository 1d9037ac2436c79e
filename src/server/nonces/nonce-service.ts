import { createHash, randomBytes } from 'node:crypto';
import type { NonceStore, NonceUse } from '../storage/nonces.ts';

export interface IssuedNonce {
  nonce: string;
  expiresIn: number;
}

export type NonceOutcome = NonceUse['outcome'] | 'malformed' | 'missing';

/** 256 random bits, hex: far beyond guessing, and the hex form is what the seed client passes along. */
const nonceBytes = 32;
const noncePattern = /^[0-9a-f]{64}$/;

/**
 * Single-use download nonces. Only a nonce's SHA-256 is stored, so the database alone never yields a
 * usable nonce; spending one is one atomic UPDATE (see `NonceStore.consume`).
 */
export class NonceService {
  constructor(
    private readonly store: NonceStore,
    private readonly ttlSeconds: number,
    private readonly clock: () => number = Date.now,
  ) {}

  async issue(ip: string, issuedTo: string | null): Promise<IssuedNonce> {
    const nonce = randomBytes(nonceBytes).toString('hex');
    const now = this.clock();
    await this.store.issue({ hash: hashNonce(nonce), issuedAt: now, expiresAt: now + this.ttlSeconds * 1000, ip, issuedTo });
    return { nonce, expiresIn: this.ttlSeconds };
  }

  /**
   * Spends `nonce` on `filename`; anything but `ok` means the download must be refused. `client` is who
   * asks (a vehicle's VIN, or null for an anonymous client): a nonce works only for the client it was
   * issued to, so a nonce a vehicle obtained with its token is useless to anyone who copies it.
   */
  async consume(nonce: string | undefined, filename: string, ip: string, client: string | null = null): Promise<{ outcome: NonceOutcome; issuedTo: string | null }> {
    if (!nonce) return { outcome: 'missing', issuedTo: null };
    if (!noncePattern.test(nonce)) return { outcome: 'malformed', issuedTo: null };
    const use = await this.store.consume({ hash: hashNonce(nonce), now: this.clock(), ip, filename, client });
    return use.outcome === 'ok' ? use : { outcome: use.outcome, issuedTo: null };
  }

  /** Deletes nonces that expired more than an hour ago. */
  prune(): Promise<number> {
    return this.store.prune(this.clock() - 3600_000);
  }
}

function hashNonce(nonce: string): string {
  return createHash('sha256').update(nonce).digest('hex');
}
