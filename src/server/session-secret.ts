import { randomBytes } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.ts';
import { readOptional } from '../files/read-optional.ts';
import { ServerConfigError } from './config.ts';
import { errorMessage } from '../errors/error-message.ts';

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

/** The bearer token of `--metrics-token-file` (Prometheus' `bearer_token_file` can read the same file). */
export async function loadMetricsToken(file: string): Promise<string> {
  let token: string;
  try {
    token = (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new ServerConfigError(`cannot read --metrics-token-file ${file}: ${errorMessage(error)}`);
  }
  if (token.length < 32 || /\s/.test(token)) throw new ServerConfigError(`--metrics-token-file ${file}: the token needs at least 32 characters and no spaces`);
  return token;
}
