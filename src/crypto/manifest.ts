import type { KeyObject } from 'node:crypto';
import { canonicalJsonBytes, type JsonValue } from './canonical-json.ts';
import { keyIdOf, signBytes, verifyBytes, type SigningKey } from './ed25519.ts';

/**
 * What the server vouches for about one release: which bytes (length + SHA-256), for which ECU, as which
 * firmware version. Signed by the server's release key and checked by the TMU before it offers the update
 * and again by the target ECU before it activates the image (Uptane's "director + image" checks, in one).
 */
export interface ReleaseManifest {
  _type: 'canota/release';
  release_id: string;
  filename: string;
  ecu: string;
  firmware_version: string;
  /** When set, the ECU refuses the image unless its own hardware id matches. */
  hardware_id?: string;
  size: number;
  sha256: string;
  created_at: string;
  /**
   * Binary deltas the server made to this image from earlier releases of the ECU (issue 13): a car whose ECU
   * runs `base_sha256` may fetch the delta instead and send it to the ECU (dataFormatIdentifier 0x30);
   * signed with the rest, so the TMU checks the delta's bytes before it uses them. Absent: none.
   */
  deltas?: ReleaseDelta[];
}

/** One delta of a release: VCDIFF (RFC 3284) made by xdelta3 from the image `base_sha256` to the release's image. */
export interface ReleaseDelta {
  format: 'vcdiff';
  base_version: string;
  base_sha256: string;
  base_size: number;
  /** The delta file's own length and SHA-256. */
  size: number;
  sha256: string;
}

export interface ManifestSignature {
  keyid: string;
  /** base64 Ed25519 signature over the canonical JSON of `signed`. */
  sig: string;
}

export interface SignedManifest {
  signed: ReleaseManifest;
  signatures: ManifestSignature[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function signManifest(manifest: ReleaseManifest, key: SigningKey): SignedManifest {
  const signature = signBytes(key, canonicalJsonBytes(manifest as unknown as JsonValue));
  return { signed: manifest, signatures: [{ keyid: key.keyId, sig: signature.toString('base64') }] };
}

/**
 * Throws ManifestError unless at least one signature by a trusted key verifies. Signatures by unknown keys
 * are ignored (not an error) so keys can be rotated by signing with old and new keys for a while.
 */
export function verifyManifest(signedManifest: SignedManifest, trustedKeys: readonly KeyObject[]): ReleaseManifest {
  assertManifestShape(signedManifest);
  const payload = canonicalJsonBytes(signedManifest.signed as unknown as JsonValue);
  const trusted = new Map(trustedKeys.map((key) => [keyIdOf(key), key]));
  for (const { keyid, sig } of signedManifest.signatures) {
    const key = trusted.get(keyid);
    if (key && verifyBytes(key, payload, Buffer.from(sig, 'base64'))) return signedManifest.signed;
  }
  const ids = signedManifest.signatures.map((s) => s.keyid.slice(0, 12)).join(', ') || 'none';
  throw new ManifestError(`release manifest has no valid signature by a trusted key (signed by: ${ids})`);
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Validates the shape of untrusted input before any field is used. */
export function assertManifestShape(value: unknown): asserts value is SignedManifest {
  const candidate = value as Partial<SignedManifest> | null;
  const signed = candidate?.signed as Partial<ReleaseManifest> | undefined;
  const problems: string[] = [];
  if (!signed || typeof signed !== 'object') problems.push('missing "signed"');
  else {
    if (signed._type !== 'canota/release') problems.push('"_type" is not canota/release');
    for (const field of ['release_id', 'filename', 'ecu', 'firmware_version', 'created_at'] as const) {
      if (typeof signed[field] !== 'string' || signed[field] === '') problems.push(`"${field}" must be a non-empty string`);
    }
    if (signed.hardware_id !== undefined && typeof signed.hardware_id !== 'string') problems.push('"hardware_id" must be a string');
    if (!Number.isSafeInteger(signed.size) || (signed.size as number) < 0) problems.push('"size" must be a byte count');
    if (typeof signed.sha256 !== 'string' || !HEX_SHA256.test(signed.sha256)) problems.push('"sha256" must be 64 lowercase hex digits');
    if (signed.deltas !== undefined && (!Array.isArray(signed.deltas) || !signed.deltas.every(isReleaseDelta))) {
      problems.push('"deltas" must be a list of {format: vcdiff, base_version, base_sha256, base_size, size, sha256}');
    }
  }
  if (!Array.isArray(candidate?.signatures) ||
      !candidate.signatures.every((s) => typeof s?.keyid === 'string' && typeof s?.sig === 'string')) {
    problems.push('"signatures" must be a list of {keyid, sig}');
  }
  if (problems.length > 0) throw new ManifestError(`malformed release manifest: ${problems.join('; ')}`);
}

function isReleaseDelta(value: unknown): value is ReleaseDelta {
  const delta = value as Partial<ReleaseDelta> | null;
  return typeof delta === 'object' && delta !== null && delta.format === 'vcdiff'
    && typeof delta.base_version === 'string' && delta.base_version !== ''
    && typeof delta.base_sha256 === 'string' && HEX_SHA256.test(delta.base_sha256)
    && typeof delta.sha256 === 'string' && HEX_SHA256.test(delta.sha256)
    && Number.isSafeInteger(delta.size) && (delta.size as number) > 0
    && Number.isSafeInteger(delta.base_size) && (delta.base_size as number) > 0;
}

/** Compact bytes for a manifest on the CAN bus (UDS routine parameters): UTF-8 JSON. */
export function encodeManifest(signedManifest: SignedManifest): Buffer {
  return Buffer.from(JSON.stringify(signedManifest), 'utf8');
}

export function decodeManifest(bytes: Uint8Array): SignedManifest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ManifestError('release manifest is not valid JSON');
  }
  assertManifestShape(value);
  return value;
}
