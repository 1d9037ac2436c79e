import { computeMac, macEquals, truncateMac } from './authenticator.ts';
import type { AcceptedFreshnessFile } from './accepted-freshness-file.ts';
import { zeroCounters, type SecOcCounters } from './counters.ts';
import { freshnessCandidates, replayCandidate } from './freshness-reconstruction.ts';
import { checkProfile, type SecOcProfile } from './profile.ts';
import { parseSecuredPdu } from './secured-pdu.ts';

/**
 * Further upper parts tried after a silence: 16 × 256 = 4096 values of 8-bit freshness, enough for a sender
 * restart with reservation blocks up to 2730 (a restart skips < 1.5 blocks), or two with blocks of 1024.
 */
export const DEFAULT_RESYNC_ATTEMPTS = 16;
/** The sender counts as silent (maybe restarted) once nothing verified for this long. */
export const DEFAULT_RESYNC_AFTER_SILENCE_MS = 1000;

export interface SecOcReceiverOptions {
  key: Uint8Array;
  /** The 16-bit Data Identifier the sender authenticates with (for CAN frames: the CAN id). */
  dataId: number;
  profile: SecOcProfile;
  /** Exact length of the Authentic I-PDU; any other length is malformed. Omitted: whatever precedes freshness and MAC. */
  authenticLength?: number;
  /** Where the latest accepted freshness survives restarts; without it the receiver starts from `initialFreshness`. */
  store?: { file: AcceptedFreshnessFile; entry: string };
  /**
   * The latest accepted freshness to start from when the store has none. Default 0. A bus monitor that
   * learnt where the sender stands (at or below its current value) starts there instead.
   */
  initialFreshness?: bigint;
  /**
   * Truncated freshness only: further upper parts to try when the first candidate fails and the sender was
   * silent for `resyncAfterSilenceMs` (the resynchronisation after a sender restart). 0 disables it.
   */
  resyncAttempts?: number;
  resyncAfterSilenceMs?: number;
  /** Monotonic milliseconds (tests pass their own clock). */
  now?: () => number;
}

export type SecOcVerdict =
  | { result: 'verified'; authenticPdu: Uint8Array; freshness: bigint }
  | { result: 'replay'; authenticPdu: Uint8Array; freshness: bigint; reason: string }
  | { result: 'mac-failure'; authenticPdu: Uint8Array; reason: string }
  | { result: 'malformed'; reason: string };

/**
 * Verifies the Secured I-PDUs of one (key, Data Identifier): rebuilds the full freshness from the
 * transmitted bits, recomputes the MAC over Data Identifier ‖ Authentic I-PDU ‖ freshness and compares
 * the truncated MACs in constant time, and accepts only freshness strictly greater than the latest accepted
 * (which then becomes the latest). Never throws on bus input: every Secured I-PDU gets a verdict, and
 * every verdict is counted. Only a `verified` verdict's Authentic I-PDU may be acted on.
 *
 * Resynchronisation (truncated freshness): normally one candidate is tried (SWS_SecOC_00250). After the
 * sender was silent for `resyncAfterSilenceMs` (no verified frame: it may have restarted and skipped ahead
 * to its next reservation block), up to `resyncAttempts` further upper parts are tried too. Gating them on
 * silence keeps a forger at one MAC guess per frame while the genuine sender is heard.
 */
export class SecOcReceiver {
  readonly dataId: number;
  readonly profile: SecOcProfile;
  readonly counters: SecOcCounters = zeroCounters();
  readonly #key: Uint8Array;
  readonly #authenticLength: number | undefined;
  readonly #store: SecOcReceiverOptions['store'];
  readonly #resyncAttempts: number;
  readonly #resyncAfterSilenceMs: number;
  readonly #now: () => number;
  #latest: bigint;
  #lastVerifiedAt: number | null = null;

  constructor(options: SecOcReceiverOptions) {
    checkProfile(options.profile);
    this.dataId = options.dataId;
    this.profile = options.profile;
    this.#key = options.key;
    this.#authenticLength = options.authenticLength;
    this.#store = options.store;
    this.#resyncAttempts = options.resyncAttempts ?? DEFAULT_RESYNC_ATTEMPTS;
    this.#resyncAfterSilenceMs = options.resyncAfterSilenceMs ?? DEFAULT_RESYNC_AFTER_SILENCE_MS;
    this.#now = options.now ?? (() => performance.now());
    this.#latest = options.store?.file.get(options.store.entry) ?? options.initialFreshness ?? 0n;
  }

  /** The latest accepted freshness (0 before the first). */
  get latestFreshness(): bigint {
    return this.#latest;
  }

  /** When the last Secured I-PDU verified (this receiver's clock), or null. */
  get lastVerifiedAt(): number | null {
    return this.#lastVerifiedAt;
  }

  verify(securedPdu: Uint8Array): SecOcVerdict {
    const parts = parseSecuredPdu(securedPdu, this.profile, this.#authenticLength);
    if (!parts) {
      this.counters.malformed += 1;
      const expected = this.#authenticLength === undefined ? 'at least' : 'exactly';
      const bytes = (this.#authenticLength ?? 0) + (this.profile.macBits + this.profile.freshnessBits) / 8;
      return { result: 'malformed', reason: `${securedPdu.length} bytes; a secured PDU of profile ${this.profile.name} has ${expected} ${bytes}` };
    }
    const { authenticPdu, truncatedFreshness, truncatedMac } = parts;
    const bits = this.profile.freshnessBits;
    const silent = this.#lastVerifiedAt === null || this.#now() - this.#lastVerifiedAt >= this.#resyncAfterSilenceMs;
    const attempts = bits < 64 && silent ? 1 + this.#resyncAttempts : 1;
    for (const freshness of freshnessCandidates(this.#latest, truncatedFreshness, bits, attempts)) {
      if (this.#macMatches(authenticPdu, freshness, truncatedMac)) {
        this.#accept(freshness);
        return { result: 'verified', authenticPdu, freshness };
      }
    }
    const old = replayCandidate(this.#latest, truncatedFreshness, bits);
    if (old !== null && this.#macMatches(authenticPdu, old, truncatedMac)) {
      this.counters.replays += 1;
      return { result: 'replay', authenticPdu, freshness: old, reason: `freshness ${old} is not newer than ${this.#latest}` };
    }
    this.counters.macFailures += 1;
    return { result: 'mac-failure', authenticPdu, reason: `MAC does not match (${attempts} freshness candidate${attempts === 1 ? '' : 's'} after ${this.#latest})` };
  }

  #macMatches(authenticPdu: Uint8Array, freshness: bigint, truncatedMac: Uint8Array): boolean {
    return macEquals(truncateMac(computeMac(this.#key, this.dataId, authenticPdu, freshness), this.profile.macBits), truncatedMac);
  }

  #accept(freshness: bigint): void {
    this.#latest = freshness;
    this.#lastVerifiedAt = this.#now();
    this.counters.verified += 1;
    this.#store?.file.set(this.#store.entry, freshness);
  }
}
