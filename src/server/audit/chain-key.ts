import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileExclusive } from '../../files/atomic-write.ts';
import { errorCode } from '../../errors/error-message.ts';

/** The audit key file is missing where it must exist, or is not a key (truncated, edited). */
export class AuditKeyError extends Error {
  override name = 'AuditKeyError';
}

export interface AuditChainKey {
  key: Buffer;
  path: string;
  /** SHA-256 of the key, first 16 hex digits: names the key in the log without revealing it. */
  keyId: string;
  /** True when this call generated the key (first start with a keyed chain). */
  created: boolean;
}

export function auditKeyPath(dataDir: string): string {
  return join(dataDir, 'keys', 'audit-chain.key');
}

/**
 * The HMAC key of the audit chain: `<dataDir>/keys/audit-chain.key`, 256 random bits, generated at first
 * start with mode 0600. It lives outside the database on purpose: whoever can write the database but not
 * this file cannot forge entries. Created only if absent (hard link, no check-then-write race), so two
 * processes starting at once end up with the same key. Servers sharing one PostgreSQL database must share it.
 */
export async function loadAuditChainKey(dataDir: string, options: { create: boolean } = { create: true }): Promise<AuditChainKey> {
  const path = auditKeyPath(dataDir);
  const existing = await readKey(path);
  if (existing) return { ...existing, path, created: false };
  // A verifier must not make a key up: a fresh key would vouch for whatever the database holds now.
  if (!options.create) throw new AuditKeyError(`no audit key at ${path} (the server creates it at first start; without it the log cannot be verified)`);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  if (!await writeFileExclusive(path, `${key.toString('hex')}\n`, { mode: 0o600 })) {
    // Another process made it first: use theirs, so both seal with the same key.
    const winner = await readKey(path);
    if (!winner) throw new AuditKeyError(`${path} vanished while it was being created`);
    return { ...winner, path, created: false };
  }
  return { key, keyId: keyIdOf(key), path, created: true };
}

async function readKey(path: string): Promise<{ key: Buffer; keyId: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  if (!/^[0-9a-f]{64}\s*$/.test(text)) throw new AuditKeyError(`${path} is not an audit key (64 hex digits)`);
  const key = Buffer.from(text.trim(), 'hex');
  return { key, keyId: keyIdOf(key) };
}

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
