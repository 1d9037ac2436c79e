import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { errorCode } from '../errors/error-message.ts';
import { syncDirectory, temporaryPathFor } from '../files/atomic-write.ts';

/**
 * Moves a verified file into the download dir under its release name, atomically: readers see the old
 * file or the complete new one. The state dir may be on another filesystem (EXDEV); then the bytes are
 * copied to a temp file beside the target first, fsynced, and renamed.
 */
export async function moveIntoPlace(source: string, directory: string, filename: string): Promise<string> {
  const target = join(directory, filename);
  try {
    await rename(source, target);
  } catch (error) {
    if (errorCode(error) !== 'EXDEV') throw error;
    const temp = temporaryPathFor(target);
    try {
      await pipeline(createReadStream(source), createWriteStream(temp, { flags: 'wx', flush: true }));
      await rename(temp, target);
    } catch (copyError) {
      await unlink(temp).catch(() => undefined);
      throw copyError;
    }
    await unlink(source);
  }
  await syncDirectory(directory);
  return target;
}

/** Matches the temp names `writeFileAtomic` and `moveIntoPlace` use (`.<name>.<pid>.<8 hex>.tmp`). */
const temporaryName = /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/;

/**
 * Removes temp files a killed client left behind in a directory it owns. Only called while holding the
 * state lock, so no live writer of ours can be using them.
 */
export async function sweepTemporaryFiles(directory: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(directory)) {
    if (!temporaryName.test(name)) continue;
    await unlink(join(directory, name)).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}
