/**
 * What a Secured I-PDU carries besides the Authentic I-PDU (AUTOSAR SecOC, SWS_SecOC): the number of bits
 * of the Freshness Value and of the MAC actually transmitted (SecOCFreshnessValueTxLength and
 * SecOCAuthInfoTxLength). The MAC is always computed over the full 64-bit freshness; only its transmitted
 * part is truncated. Both lengths are whole bytes here, so a Secured I-PDU is
 * `Authentic I-PDU ‖ truncated Freshness Value ‖ truncated MAC` on byte boundaries.
 */
export interface SecOcProfile {
  /** Name for logs and docs. */
  readonly name: string;
  /** Transmitted MAC bits (the most significant bits of HMAC-SHA256): 8..256, a multiple of 8. */
  readonly macBits: number;
  /** Transmitted freshness bits (the least significant bits of the 64-bit counter): 0..64, a multiple of 8. */
  readonly freshnessBits: number;
}

/** The freshness value is a 64-bit unsigned counter (SecOCFreshnessValueLength = 64). */
export const FRESHNESS_BITS = 64;
export const MAX_FRESHNESS = (1n << 64n) - 1n;

/**
 * Periodic status frames on classic CAN: 24-bit MAC and 8-bit truncated freshness, the shape of AUTOSAR
 * SecOC profile 1 ("24Bit-CMAC-8Bit-FV"), with HMAC-SHA256 instead of AES-CMAC (node:crypto only; same
 * truncation rule). Fits with 4 payload bytes into one 8-byte frame.
 */
export const STATUS_FRAME_PROFILE: SecOcProfile = Object.freeze({ name: 'status-frame', macBits: 24, freshnessBits: 8 });

/**
 * Diagnostic messages (UDS over ISO-TP, where a few more bytes cost nothing): 128-bit MAC and the full
 * 64-bit freshness, so the receiver needs no reconstruction and a sender restart needs no resynchronisation.
 */
export const DIAGNOSTIC_PROFILE: SecOcProfile = Object.freeze({ name: 'diagnostic', macBits: 128, freshnessBits: 64 });

export class SecOcProfileError extends Error {
  override name = 'SecOcProfileError';
}

/** Throws SecOcProfileError unless `profile` can be laid out on byte boundaries. */
export function checkProfile(profile: SecOcProfile): void {
  const { macBits, freshnessBits } = profile;
  if (!Number.isInteger(macBits) || macBits < 8 || macBits > 256 || macBits % 8 !== 0) {
    throw new SecOcProfileError(`profile ${profile.name}: macBits must be a multiple of 8 in 8..256, got ${macBits}`);
  }
  if (!Number.isInteger(freshnessBits) || freshnessBits < 0 || freshnessBits > FRESHNESS_BITS || freshnessBits % 8 !== 0) {
    throw new SecOcProfileError(`profile ${profile.name}: freshnessBits must be a multiple of 8 in 0..64, got ${freshnessBits}`);
  }
}

/** Bytes a profile adds to each Authentic I-PDU. */
export function securityOverheadBytes(profile: SecOcProfile): number {
  return (profile.macBits + profile.freshnessBits) / 8;
}
