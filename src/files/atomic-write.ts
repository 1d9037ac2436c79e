import { link, open, rename, unlink } from 'node:fs/promises';
import { errorCode } from '../errors/error-message.ts';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

/**
 * Writes a file so that readers (and a restart after a crash or kill -9) see either the old content or
 * the complete new content, never a half-written file: temp file in the same directory, fsync, rename,
 * then fsync the directory so the rename itself survives a power cut.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): Promise<void> {
  const temp = temporaryPathFor(path);
  // The mode is the temp file's, so a secret is never readable by others, not even for a moment.
  const handle = await open(temp, 'wx', options.mode ?? 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Creates `path` with `data` unless it exists: true when this call created it, false when a file was
 * already there (kept untouched). The content is written and fsynced under a temp name, then hard-linked
 * into place: unlike a rename, link() fails when the name exists, so of two processes creating the same
 * file at once exactly one wins, and nobody ever sees it half-written. For files made once: keys, configs.
 */
export async function writeFileExclusive(path: string, data: string | Uint8Array, options: { mode: number }): Promise<boolean> {
  const temp = temporaryPathFor(path);
  const handle = await open(temp, 'wx', options.mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await syncDirectory(dirname(path));
  return true;
}

/** A unique temp name beside `path` (same filesystem, so rename is atomic); dot-prefixed and `.tmp`-suffixed. */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Makes a rename or a new file in `directory` durable. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
