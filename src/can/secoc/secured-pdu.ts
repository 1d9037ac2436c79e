import { computeMac, truncateMac } from './authenticator.ts';
import { checkProfile, type SecOcProfile } from './profile.ts';

/** A Secured I-PDU taken apart (nothing verified yet). */
export interface SecuredPduParts {
  authenticPdu: Uint8Array;
  /** The transmitted low bits of the freshness value (all 64 with full freshness). */
  truncatedFreshness: bigint;
  truncatedMac: Uint8Array;
}

/** The `bits` low bits of `freshness`. */
export function truncateFreshness(freshness: bigint, bits: number): bigint {
  return bits >= 64 ? freshness : freshness & ((1n << BigInt(bits)) - 1n);
}

/**
 * Builds a Secured I-PDU: `authenticPdu ‖ low freshnessBits of freshness (big-endian) ‖ MAC truncated to
 * macBits`, the MAC computed over the full freshness.
 */
export function buildSecuredPdu(key: Uint8Array, dataId: number, authenticPdu: Uint8Array, freshness: bigint, profile: SecOcProfile): Uint8Array {
  checkProfile(profile);
  const freshnessBytes = profile.freshnessBits / 8;
  const mac = truncateMac(computeMac(key, dataId, authenticPdu, freshness), profile.macBits);
  const pdu = new Uint8Array(authenticPdu.length + freshnessBytes + mac.length);
  pdu.set(authenticPdu, 0);
  writeBigEndian(pdu, authenticPdu.length, freshnessBytes, truncateFreshness(freshness, profile.freshnessBits));
  pdu.set(mac, authenticPdu.length + freshnessBytes);
  return pdu;
}

/**
 * Splits a Secured I-PDU per `profile`; with `authenticLength` the Authentic I-PDU must have exactly that
 * length. Null when the PDU cannot be one (too short, or the wrong length): never throws on bus input.
 */
export function parseSecuredPdu(pdu: Uint8Array, profile: SecOcProfile, authenticLength?: number): SecuredPduParts | null {
  const freshnessBytes = profile.freshnessBits / 8;
  const macBytes = profile.macBits / 8;
  const length = pdu.length - freshnessBytes - macBytes;
  if (length < 0 || (authenticLength !== undefined && length !== authenticLength)) return null;
  return {
    authenticPdu: pdu.subarray(0, length),
    truncatedFreshness: readBigEndian(pdu, length, freshnessBytes),
    truncatedMac: pdu.subarray(length + freshnessBytes),
  };
}

function writeBigEndian(target: Uint8Array, offset: number, bytes: number, value: bigint): void {
  for (let i = bytes - 1; i >= 0; i -= 1) {
    target[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

function readBigEndian(source: Uint8Array, offset: number, bytes: number): bigint {
  let value = 0n;
  for (let i = 0; i < bytes; i += 1) value = (value << 8n) | BigInt(source[offset + i]!);
  return value;
}
