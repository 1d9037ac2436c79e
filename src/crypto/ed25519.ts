import {
  createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify,
  type KeyObject,
} from 'node:crypto';
import { errorMessage } from '../errors/error-message.ts';

/**
 * Ed25519 keys as canota stores and exchanges them. Private keys live in PKCS#8 PEM files (mode 0600);
 * public keys travel as PEM or as the compact text form `ed25519:<base64 of the 32 raw bytes>`, which fits in
 * a JSON config and on a command line.
 */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export class KeyFormatError extends Error {
  override name = 'KeyFormatError';
}

export function generateSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function signingKeyFromPem(pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (error) {
    throw new KeyFormatError(`not a PEM private key: ${errorMessage(error)}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new KeyFormatError(`expected an Ed25519 private key, got ${privateKey.asymmetricKeyType ?? 'unknown'}`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function privateKeyToPem(key: SigningKey): string {
  return key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Accepts `ed25519:<base64>` or a PEM public key (SPKI). */
export function parsePublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('ed25519:')) {
      const raw = Buffer.from(trimmed.slice('ed25519:'.length), 'base64');
      if (raw.length !== 32) throw new KeyFormatError(`an Ed25519 public key is 32 bytes, got ${raw.length}`);
      return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    }
    const key = createPublicKey(trimmed);
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new KeyFormatError(`expected an Ed25519 public key, got ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    return key;
  } catch (error) {
    if (error instanceof KeyFormatError) throw error;
    throw new KeyFormatError(`not an Ed25519 public key (want "ed25519:<base64>" or PEM): ${errorMessage(error)}`);
  }
}

export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new KeyFormatError('public key has no raw form');
  return Buffer.from(jwk.x, 'base64url');
}

export function publicKeyToText(key: KeyObject): string {
  return `ed25519:${rawPublicKey(key).toString('base64')}`;
}

/** Key id as in Uptane/TUF: SHA-256 of the raw public key, hex. */
export function keyIdOf(key: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(key)).digest('hex');
}

export function signBytes(key: SigningKey, data: Uint8Array): Buffer {
  return sign(null, data, key.privateKey);
}

export function verifyBytes(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  return verify(null, data, publicKey, signature);
}
