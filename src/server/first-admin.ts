import { resolve } from 'node:path';
import { createLogger } from '../logging/logger.ts';
import { AlreadyExistsError } from './storage/errors.ts';
import { openServerData } from './start.ts';
import { addUser } from './users.ts';

/**
 * For `canota demo` and first installs: creates the admin `username` with a random password and returns
 * it (to be shown once). Returns undefined when that user already exists: its password is not known and
 * is never reset behind an operator's back.
 */
export async function createFirstAdmin(options: { dataDir: string; databaseUrl?: string; username?: string }): Promise<{ username: string; password: string } | undefined> {
  const username = options.username ?? 'admin';
  const logger = createLogger({ name: 'server', level: 'warn', destination: process.stderr });
  const { storage, audit } = await openServerData(resolve(options.dataDir), options.databaseUrl, logger);
  try {
    const added = await addUser(storage, audit, { username, role: 'admin', by: 'first-admin' });
    return { username, password: added.generatedPassword! };
  } catch (error) {
    if (error instanceof AlreadyExistsError) return undefined;
    throw error;
  } finally {
    await storage.close();
  }
}
