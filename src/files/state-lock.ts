import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorCode } from '../errors/error-message.ts';
import { temporaryPathFor } from './atomic-write.ts';

/** Another live process holds the state dir: the caller must not touch it. */
export class StateDirLockedError extends Error {
  override name = 'StateDirLockedError';
  readonly code = 'STATE_DIR_LOCKED';
}

/**
 * One process per state dir (the download client's, the vehicle's TMU): two would append to the same
 * partial file, or boot the same banks. The lock file holds the owner's
 * pid; a lock whose process is gone (kill -9, power loss) is stale and taken over, so a crash never
 * needs a human to clean up.
 */
export class StateLock {
  readonly path: string;
  #held = false;

  /** `fileName`: the lock file in `stateDir` (`client.lock` for the client and the vehicle, `demo.lock` for the demo). */
  constructor(stateDir: string, fileName = 'client.lock') {
    this.path = join(stateDir, fileName);
  }

  async acquire(): Promise<void> {
    if (this.#held) return;
    for (let tries = 0; tries < 3; tries++) {
      // The pid goes into a temp file that is then hard-linked into place: the lock file appears
      // complete or not at all, so an empty lock can never be mistaken for a stale one.
      const temp = temporaryPathFor(this.path);
      await writeFile(temp, `${process.pid}\n`);
      try {
        await link(temp, this.path);
        this.#held = true;
        return;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      } finally {
        await unlink(temp).catch(() => undefined);
      }
      const owner = await this.#owner();
      if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
        throw new StateDirLockedError(`another client (pid ${owner}) is using the state dir (${this.path})`);
      }
      await unlink(this.path).catch(() => undefined);
    }
    throw new StateDirLockedError(`could not take the state dir lock ${this.path}`);
  }

  async release(): Promise<void> {
    if (!this.#held) return;
    this.#held = false;
    await unlink(this.path).catch(() => undefined);
  }

  async #owner(): Promise<number | undefined> {
    try {
      const pid = Number.parseInt(await readFile(this.path, 'utf8'), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive but someone else's.
    return errorCode(error) === 'EPERM';
  }
}
