import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The CGW's programming grants (docs/in-vehicle-security.md, "The approval is enforced where the flash is").
 *
 * Only the CGW records the driver's decision, and only the CGW and the target ECU hold `grant:<ECU>`. For an
 * approved update that includes the ECU, the CGW turns the ECU's security-access seed into:
 * - the security-access key (`27 02`): nobody else can unlock the ECU's programming level;
 * - a grant, bound to that seed (so it is fresh and good for one programming session only), to the update
 *   and, for `program`, to exactly the approved image (SHA-256 and size). The ECU checks it at the erase and
 *   holds the download and the check to it.
 * The TMU only relays both: it cannot make either, so an ECU does not depend on the TMU's word.
 */
export type GrantPurpose = 'access' | 'program' | 'rollback';

const PURPOSE_CODE: Record<GrantPurpose, number> = { access: 0x00, program: 0x01, rollback: 0x02 };
const PURPOSES = Object.keys(PURPOSE_CODE) as GrantPurpose[];

/** updateId (16) + sha256 (32) + size (4) + purpose (1) + MAC (16). */
export const GRANT_BYTES = 69;
export const GRANT_MAC_BYTES = 16;
export const SECURITY_KEY_BYTES = 16;
const NO_IMAGE = new Uint8Array(32);

export interface GrantFields {
  purpose: GrantPurpose;
  /** 16 bytes naming the approved update (the CGW's approval), the same for every ECU of it. */
  updateId: Uint8Array;
  /** The approved image (program grants); null otherwise. */
  image: { sha256: string; size: number } | null;
}

export type GrantVerdict = { ok: true; grant: GrantFields } | { ok: false; reason: string };

/** The security-access key of `ecu` for `seed`: first 16 bytes of HMAC-SHA256(grant key, label ‖ ecu ‖ seed). */
export function securityAccessKey(grantKey: Uint8Array, ecu: string, seed: Uint8Array): Uint8Array {
  return mac(grantKey, 'canota security access', ecu, seed, new Uint8Array(0), SECURITY_KEY_BYTES);
}

/** The CGW's side: a grant for `ecu`, bound to `seed`. */
export function issueGrant(grantKey: Uint8Array, ecu: string, seed: Uint8Array, fields: GrantFields): Uint8Array {
  const body = encodeBody(fields);
  const tag = mac(grantKey, 'canota programming grant', ecu, seed, body, GRANT_MAC_BYTES);
  return new Uint8Array(Buffer.concat([body, tag]));
}

/** The ECU's side: the grant's fields if the CGW made it for this ECU and this seed; never throws. */
export function verifyGrant(grantKey: Uint8Array, ecu: string, seed: Uint8Array | null, bytes: Uint8Array): GrantVerdict {
  if (seed === null) return { ok: false, reason: 'no security access in this session: unlock first (0x27)' };
  if (bytes.length !== GRANT_BYTES) return { ok: false, reason: `a grant has ${GRANT_BYTES} bytes, got ${bytes.length}` };
  const body = bytes.subarray(0, GRANT_BYTES - GRANT_MAC_BYTES);
  const expected = mac(grantKey, 'canota programming grant', ecu, seed, body, GRANT_MAC_BYTES);
  if (!timingSafeEqual(expected, bytes.subarray(GRANT_BYTES - GRANT_MAC_BYTES))) {
    return { ok: false, reason: 'the grant is not authentic for this ECU and this security-access seed (not issued by the CGW for it)' };
  }
  const purpose = PURPOSES.find((name) => PURPOSE_CODE[name] === body[52]);
  if (!purpose) return { ok: false, reason: `unknown grant purpose 0x${body[52]!.toString(16)}` };
  const sha256 = Buffer.from(body.subarray(16, 48));
  const size = new DataView(body.buffer, body.byteOffset + 48, 4).getUint32(0);
  const image = sha256.equals(NO_IMAGE) ? null : { sha256: sha256.toString('hex'), size };
  return { ok: true, grant: { purpose, updateId: new Uint8Array(body.subarray(0, 16)), image } };
}

function encodeBody(fields: GrantFields): Uint8Array {
  if (fields.updateId.length !== 16) throw new RangeError(`an update id has 16 bytes, got ${fields.updateId.length}`);
  const body = new Uint8Array(GRANT_BYTES - GRANT_MAC_BYTES);
  body.set(fields.updateId, 0);
  if (fields.image) {
    if (!/^[0-9a-f]{64}$/.test(fields.image.sha256)) throw new RangeError('an image SHA-256 is 64 lowercase hex digits');
    body.set(Buffer.from(fields.image.sha256, 'hex'), 16);
    new DataView(body.buffer).setUint32(48, fields.image.size);
  }
  body[52] = PURPOSE_CODE[fields.purpose];
  return body;
}

/** HMAC-SHA256 over a label, the ECU name (length-prefixed), the seed (length-prefixed) and a body, truncated. */
function mac(key: Uint8Array, label: string, ecu: string, seed: Uint8Array, body: Uint8Array, bytes: number): Uint8Array {
  const name = Buffer.from(ecu, 'utf8');
  const hmac = createHmac('sha256', key)
    .update(label)
    .update(Uint8Array.of(name.length)).update(name)
    .update(Uint8Array.of(seed.length)).update(seed)
    .update(body);
  return new Uint8Array(hmac.digest().subarray(0, bytes));
}
