import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { keyIdOf, parsePublicKey, publicKeyToText, signBytes, verifyBytes, KeyFormatError, type SigningKey } from '../../crypto/ed25519.ts';
import { canonicalJson } from './chain.ts';
import type { ChainPoint } from './audit-log.ts';

/**
 * A signed checkpoint of the audit log: "entry #id, the `entries`-th, was sealed `hash` at `created_at`".
 * Kept outside the server (another machine, a ticket, a printout), it catches what the keyed chain alone
 * cannot: the newest entries removed, or the whole log re-chained by someone who has the HMAC key. It is
 * signed with an Ed25519 key of its own (`<dataDir>/keys/audit-checkpoint.pem`), so whoever holds the public
 * key can check it without the data dir.
 */
export interface AuditCheckpoint {
  _type: 'canota/audit-checkpoint';
  entry_id: number;
  hash: string;
  entries: number;
  created_at: string;
}

export interface SignedCheckpoint {
  signed: AuditCheckpoint;
  signatures: Array<{ keyid: string; sig: string }>;
  /** For convenience only: a verifier trusts the key it got from elsewhere, never this copy. */
  public_key: string;
}

/** A checkpoint file that is not one, or whose signature does not hold. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function checkpointKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'audit-checkpoint.pem');
}

export function createCheckpoint(head: ChainPoint, key: SigningKey, now: number): SignedCheckpoint {
  const signed: AuditCheckpoint = {
    _type: 'canota/audit-checkpoint', entry_id: head.id, hash: head.hash, entries: head.entries, created_at: new Date(now).toISOString(),
  };
  const sig = signBytes(key, Buffer.from(canonicalJson(signed))).toString('base64');
  return { signed, signatures: [{ keyid: key.keyId, sig }], public_key: publicKeyToText(key.publicKey) };
}

/** Parses a checkpoint file and checks its signature against `trusted`; what it claims about the log. */
export function readCheckpoint(text: string, trusted: KeyObject): ChainPoint & { createdAt: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CheckpointError('not a checkpoint: not JSON');
  }
  const { signed, signatures } = (parsed ?? {}) as Partial<SignedCheckpoint>;
  if (!signed || signed._type !== 'canota/audit-checkpoint' || !Number.isSafeInteger(signed.entry_id) || !Number.isSafeInteger(signed.entries)
    || typeof signed.hash !== 'string' || typeof signed.created_at !== 'string' || !Array.isArray(signatures)) {
    throw new CheckpointError('not a checkpoint: want {signed: {_type: "canota/audit-checkpoint", entry_id, hash, entries, created_at}, signatures}');
  }
  // Exactly the signed fields: anything added after signing would not be covered by the signature.
  const content: AuditCheckpoint = {
    _type: signed._type, entry_id: signed.entry_id, hash: signed.hash, entries: signed.entries, created_at: signed.created_at,
  };
  if (Object.keys(signed).length !== Object.keys(content).length) throw new CheckpointError('the checkpoint has fields that are not signed');
  const keyId = keyIdOf(trusted);
  const signature = signatures.find((s) => s?.keyid === keyId);
  if (!signature || typeof signature.sig !== 'string') throw new CheckpointError(`not signed by the trusted checkpoint key ${keyId.slice(0, 16)}…`);
  if (!verifyBytes(trusted, Buffer.from(canonicalJson(content)), Buffer.from(signature.sig, 'base64'))) {
    throw new CheckpointError('the signature does not match the checkpoint (it was changed after signing)');
  }
  return { id: content.entry_id, hash: content.hash, entries: content.entries, createdAt: content.created_at };
}

/** `ed25519:<base64>` or PEM, as printed by `canota audit checkpoint --show-key`. */
export function checkpointPublicKey(text: string): KeyObject {
  try {
    return parsePublicKey(text);
  } catch (error) {
    if (error instanceof KeyFormatError) throw new CheckpointError(error.message);
    throw error;
  }
}
