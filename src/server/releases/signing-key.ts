import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { generateSigningKey, KeyFormatError, privateKeyToPem, signingKeyFromPem, type SigningKey } from '../../crypto/ed25519.ts';
import { syncDirectory, temporaryPathFor } from '../../files/atomic-write.ts';
import { errorCode, errorMessage } from '../../errors/error-message.ts';

/** The release signing key file cannot be used: missing, unreadable, not an Ed25519 key, already there. */
export class SigningKeyError extends Error {
  override name = 'SigningKeyError';
}

export interface LoadedSigningKey {
  key: SigningKey;
  path: string;
  /** True when this call generated the key (first start). */
  created: boolean;
  /** True when group or others may read the file: a private key should be the owner's alone. */
  exposed: boolean;
}

export function defaultSigningKeyPath(dataDir: string): string {
  return join(resolve(dataDir), 'keys', 'release-signing.pem');
}

/**
 * The server's release signing key: the file given (`--signing-key`, which must exist), else
 * `<dataDir>/keys/release-signing.pem`, generated on first use. Two servers starting at once on one data
 * dir end up with the same key: the file is created only if absent, and the loser reads the winner's.
 */
export async function loadReleaseSigningKey(dataDir: string, given?: string): Promise<LoadedSigningKey> {
  if (given !== undefined) return { ...await readSigningKey(resolve(given)), created: false };
  return loadOrCreateSigningKey(defaultSigningKeyPath(dataDir));
}

/** Reads the Ed25519 key at `path`, or generates it there (mode 0600) if it does not exist yet. */
export async function loadOrCreateSigningKey(path: string): Promise<LoadedSigningKey> {
  try {
    return { ...await readSigningKey(path), created: false };
  } catch (error) {
    if (!(error instanceof SigningKeyError && errorCode(error.cause) === 'ENOENT')) throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = generateSigningKey();
  try {
    await writeSigningKey(path, key, { overwrite: false });
    return { key, path, created: true, exposed: false };
  } catch (error) {
    if (error instanceof SigningKeyExistsError) return { ...await readSigningKey(path), created: false };
    throw error;
  }
}

export async function readSigningKey(path: string): Promise<{ key: SigningKey; path: string; exposed: boolean }> {
  let pem: string;
  let mode: number;
  try {
    pem = await readFile(path, 'utf8');
    mode = (await stat(path)).mode;
  } catch (error) {
    const code = errorCode(error);
    throw new SigningKeyError(code === 'ENOENT'
      ? `no release signing key at ${path} (make one with: canota keys generate --out ${path})`
      : `cannot read the release signing key ${path}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    return { key: signingKeyFromPem(pem), path, exposed: (mode & 0o077) !== 0 };
  } catch (error) {
    if (error instanceof KeyFormatError) throw new SigningKeyError(`${path}: ${error.message}`, { cause: error });
    throw error;
  }
}

export class SigningKeyExistsError extends SigningKeyError {
  override name = 'SigningKeyExistsError';
}

/**
 * Writes a private key as PKCS#8 PEM, mode 0600 from the first byte, atomically (temp file, fsync,
 * then rename or, without `overwrite`, a hard link that fails if the file exists: no check-then-write race).
 */
export async function writeSigningKey(path: string, key: SigningKey, options: { overwrite: boolean }): Promise<void> {
  const temp = temporaryPathFor(path);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(privateKeyToPem(key));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (options.overwrite) {
      await rename(temp, path);
    } else {
      await link(temp, path).catch((error: unknown) => {
        if (errorCode(error) === 'EEXIST') throw new SigningKeyExistsError(`${path} exists already (use --force to replace it)`, { cause: error });
        throw error;
      });
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
}
