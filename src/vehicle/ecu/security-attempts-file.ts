import { join } from 'node:path';
import { z } from 'zod';
import type { SecurityAttempts, SecurityAttemptStore } from '../../can/uds/index.ts';
import { writeFileAtomic } from '../../files/atomic-write.ts';
import { readOptional } from '../../files/read-optional.ts';
import { errorMessage } from '../../errors/error-message.ts';
import { EcuError } from './errors.ts';

export const SECURITY_ATTEMPTS_FILE = 'security-access.json';

const attemptsSchema = z.object({
  failedAttempts: z.number().int().nonnegative(),
  delayedUntil: z.number(),
});

export class SecurityAttemptsFileError extends EcuError {
  override name = 'SecurityAttemptsFileError';
}

/**
 * An ECU's security-access attempt counter and delay in `<ecu dir>/security-access.json`, so that neither a
 * reset nor a power loss hands an attacker fresh guesses. Read once when the ECU starts (the UDS server
 * loads it synchronously at every power-up); every save replaces the file atomically before the key is
 * answered. A file that exists but cannot be read or understood makes `load()` throw: the server then
 * locks security access for the full delay (fail closed) and says so in its log.
 */
export class SecurityAttemptsFile implements SecurityAttemptStore {
  readonly path: string;
  #attempts: SecurityAttempts | null;
  #problem: Error | null;

  private constructor(path: string, attempts: SecurityAttempts | null, problem: Error | null) {
    this.path = path;
    this.#attempts = attempts;
    this.#problem = problem;
  }

  static async open(directory: string): Promise<SecurityAttemptsFile> {
    const path = join(directory, SECURITY_ATTEMPTS_FILE);
    try {
      const text = await readOptional(path);
      if (text === null) return new SecurityAttemptsFile(path, null, null);
      return new SecurityAttemptsFile(path, attemptsSchema.parse(JSON.parse(text)), null);
    } catch (error) {
      return new SecurityAttemptsFile(path, null, new SecurityAttemptsFileError(`${path} is unreadable: ${errorMessage(error)}`, { cause: error }));
    }
  }

  load(): SecurityAttempts | null {
    if (this.#problem) throw this.#problem;
    return this.#attempts === null ? null : { ...this.#attempts };
  }

  async save(attempts: SecurityAttempts): Promise<void> {
    const value: SecurityAttempts = { failedAttempts: attempts.failedAttempts, delayedUntil: attempts.delayedUntil };
    await writeFileAtomic(this.path, `${JSON.stringify(value)}\n`);
    this.#attempts = value;
    this.#problem = null;
  }
}
