import type { FreshnessCounter } from './freshness-counter.ts';
import { checkProfile, type SecOcProfile } from './profile.ts';
import { buildSecuredPdu } from './secured-pdu.ts';

/**
 * Secures the Authentic I-PDUs of one (key, Data Identifier) for sending: takes the next value of the
 * sender's persisted freshness counter and appends its transmitted bits and the truncated MAC.
 */
export class SecOcSender {
  readonly dataId: number;
  readonly profile: SecOcProfile;
  readonly #key: Uint8Array;
  readonly #counter: FreshnessCounter;

  constructor(options: { key: Uint8Array; dataId: number; profile: SecOcProfile; counter: FreshnessCounter }) {
    checkProfile(options.profile);
    this.dataId = options.dataId;
    this.profile = options.profile;
    this.#key = options.key;
    this.#counter = options.counter;
  }

  /** `authenticPdu ‖ freshness bits ‖ MAC`, with a freshness value never used before under this counter. */
  async secure(authenticPdu: Uint8Array): Promise<{ securedPdu: Uint8Array; freshness: bigint }> {
    const freshness = await this.#counter.next();
    return { securedPdu: buildSecuredPdu(this.#key, this.dataId, authenticPdu, freshness, this.profile), freshness };
  }
}
