import { MAX_FRESHNESS } from './profile.ts';

/**
 * The receiver's side of a truncated Freshness Value (SWS_SecOC_00250): only the `bits` low bits travel, so
 * the receiver rebuilds the full 64-bit value from the latest one it accepted:
 *
 * - received low bits > the latest's low bits: the latest's upper part ‖ the received bits;
 * - otherwise (a wrap-around): (upper part + 1) ‖ the received bits.
 *
 * Either way the candidate is greater than the latest accepted value, so a frame that verifies under it is
 * never a replay. `attempts` > 1 adds the next upper parts, in order (AUTOSAR's
 * SecOCAuthenticationVerifyAttempts): the resynchronisation after a sender restart, which continues from its
 * persisted reservation and so may have skipped up to a reservation block of values. Every attempt is one
 * more MAC a forger may hit, so callers keep the extra attempts for when they are needed (SecOcReceiver
 * allows them only after a silence of the sender).
 *
 * With the full 64 bits transmitted there is one candidate, the received value, if it is newer.
 */
export function freshnessCandidates(latest: bigint, received: bigint, bits: number, attempts = 1): bigint[] {
  if (bits >= 64) return received > latest ? [received] : [];
  const modulus = 1n << BigInt(bits);
  const low = received & (modulus - 1n);
  const upper = latest >> BigInt(bits);
  const first = low > (latest & (modulus - 1n)) ? upper : upper + 1n;
  const candidates: bigint[] = [];
  for (let k = 0n; k < BigInt(Math.max(1, attempts)); k += 1n) {
    const candidate = ((first + k) << BigInt(bits)) | low;
    if (candidate > MAX_FRESHNESS) break;
    candidates.push(candidate);
  }
  return candidates;
}

/**
 * The newest value not greater than `latest` that ends in the received bits: the freshness a replayed
 * (recently accepted or older) Secured I-PDU would have. Only used to tell a replay from a forgery in the
 * counters; never accepted. Null when no such value exists (nothing accepted that far back).
 */
export function replayCandidate(latest: bigint, received: bigint, bits: number): bigint | null {
  if (bits >= 64) return received <= latest ? received : null;
  const modulus = 1n << BigInt(bits);
  const low = received & (modulus - 1n);
  const sameUpper = ((latest >> BigInt(bits)) << BigInt(bits)) | low;
  if (sameUpper <= latest) return sameUpper;
  const previous = sameUpper - modulus;
  return previous >= 0n ? previous : null;
}
