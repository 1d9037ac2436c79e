import { createHmac, timingSafeEqual } from 'node:crypto';
import { MAX_FRESHNESS } from './profile.ts';

/** HMAC-SHA256 output length in bytes. */
export const FULL_MAC_BYTES = 32;

export class SecOcInputError extends Error {
  override name = 'SecOcInputError';
}

/**
 * The Authenticator (SWS_SecOC "MAC"): HMAC-SHA256(key, Data Identifier (16 bits, big-endian) ‖ Authentic
 * I-PDU ‖ Freshness Value (64 bits, big-endian)). The data id binds a MAC to one message, so a valid frame
 * of one id cannot be replayed as another; the full freshness is authenticated even when only its low bits
 * are sent. Throws SecOcInputError on out-of-range ids or freshness (a programming error, not bad input
 * from the bus: receivers never pass such values).
 */
export function computeMac(key: Uint8Array, dataId: number, payload: Uint8Array, freshness: bigint): Uint8Array {
  if (!Number.isInteger(dataId) || dataId < 0 || dataId > 0xffff) throw new SecOcInputError(`data id must be 16-bit, got ${dataId}`);
  if (freshness < 0n || freshness > MAX_FRESHNESS) throw new SecOcInputError(`freshness must be 64-bit unsigned, got ${freshness}`);
  const header = Buffer.alloc(2);
  header.writeUInt16BE(dataId);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(freshness);
  const hmac = createHmac('sha256', key);
  hmac.update(header);
  hmac.update(payload);
  hmac.update(counter);
  return new Uint8Array(hmac.digest());
}

/**
 * The `bits` most significant bits of `mac` (SWS_SecOC: truncation keeps the leading bits); a partial last
 * byte keeps its high bits and zeroes the rest.
 */
export function truncateMac(mac: Uint8Array, bits: number): Uint8Array {
  if (!Number.isInteger(bits) || bits < 1 || bits > mac.length * 8) throw new SecOcInputError(`cannot truncate a ${mac.length * 8}-bit MAC to ${bits} bits`);
  const truncated = mac.slice(0, Math.ceil(bits / 8));
  const spare = truncated.length * 8 - bits;
  if (spare > 0) truncated[truncated.length - 1] = truncated[truncated.length - 1]! & (0xff << spare) & 0xff;
  return truncated;
}

/** Constant-time comparison (no early exit that would leak how many leading bytes of a guess were right). */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
