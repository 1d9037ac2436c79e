import { randomBytes } from 'node:crypto';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.ts';
import { readOptional } from '../files/read-optional.ts';
import { ServerConfigError } from './config.ts';

/**
 * The key that signs session cookies: `--session-secret` when given (several servers behind one load
 * balancer must share it), else one generated at first start and kept in `<dataDir>/session-secret`.
 */
export async function loadSessionSecret(dataDir: string, given: string | undefined): Promise<string> {
  if (given !== undefined) {
    if (given.length < 32) throw new ServerConfigError('the session secret must have at least 32 characters');
    return given;
  }
  const file = join(dataDir, 'session-secret');
  const stored = (await readOptional(file))?.trim();
  if (stored !== undefined && stored.length >= 32) return stored;
  const secret = randomBytes(32).toString('base64url');
  await writeFileAtomic(file, `${secret}\n`);
  await chmod(file, 0o600);
  return secret;
}
