import { readOptional, readValidJson } from '../files/read-optional.ts';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../files/atomic-write.ts';
import type { Release } from '../ota-http/release.ts';

/** `progress.txt` holds a percentage 0–100, or `ERROR` after a failed cycle (the seed's format). */
export type Progress = number | 'ERROR';

/** The file names are the seed's; other tools (and the seed's own scripts) read them. */
export const stateFileNames = {
  downloadedSha: 'downloaded_sha.txt',
  progress: 'progress.txt',
  downloadedRelease: 'downloaded_release.json',
} as const;

const sha256Pattern = /^[0-9a-f]{64}$/;

/** The SHA-256 in `downloaded_sha.txt`, or null when the content is not one (treated as "nothing yet"). */
export function parseDownloadedSha(text: string): string | null {
  const value = text.trim().toLowerCase();
  return sha256Pattern.test(value) ? value : null;
}

export function formatProgress(progress: Progress): string {
  if (progress === 'ERROR') return 'ERROR';
  if (!Number.isInteger(progress) || progress < 0 || progress > 100) {
    throw new RangeError(`progress must be an integer 0–100, got ${progress}`);
  }
  return String(progress);
}

export function parseProgress(text: string): Progress | null {
  const value = text.trim();
  if (value === 'ERROR') return 'ERROR';
  if (!/^\d{1,3}$/.test(value)) return null;
  const percent = Number(value);
  return percent <= 100 ? percent : null;
}

/** What the last good download was: lets a restarted client know the installed firmware version. */
export interface DownloadedRelease {
  filename: string;
  sha256: string;
  size: number;
  firmwareVersion?: string | undefined;
  ecu?: string | undefined;
  releaseId?: string | undefined;
  path: string;
  downloadedAt: string;
}

const downloadedReleaseSchema = z.object({
  filename: z.string(),
  sha256: z.string().regex(sha256Pattern),
  size: z.number().int().nonnegative(),
  firmwareVersion: z.string().optional(),
  ecu: z.string().optional(),
  releaseId: z.string().optional(),
  path: z.string(),
  downloadedAt: z.string(),
});

/**
 * The client's state files in its state dir. Every write is atomic (temp + fsync + rename), so a kill -9
 * at any moment leaves either the old or the new content, never a torn file.
 */
export class StateFiles {
  constructor(readonly directory: string) {}

  path(name: keyof typeof stateFileNames): string {
    return join(this.directory, stateFileNames[name]);
  }

  async readDownloadedSha(): Promise<string | null> {
    const text = await readOptional(this.path('downloadedSha'));
    return text === null ? null : parseDownloadedSha(text);
  }

  async writeDownloadedSha(sha256: string): Promise<void> {
    if (!sha256Pattern.test(sha256)) throw new RangeError(`not a SHA-256: ${sha256}`);
    await writeFileAtomic(this.path('downloadedSha'), sha256);
  }

  async readProgress(): Promise<Progress | null> {
    const text = await readOptional(this.path('progress'));
    return text === null ? null : parseProgress(text);
  }

  async writeProgress(progress: Progress): Promise<void> {
    await writeFileAtomic(this.path('progress'), formatProgress(progress));
  }

  async readDownloadedRelease(): Promise<DownloadedRelease | null> {
    return (await readValidJson(this.path('downloadedRelease'), downloadedReleaseSchema)) ?? null;
  }

  async writeDownloadedRelease(release: Release, path: string, size: number): Promise<DownloadedRelease> {
    const record: DownloadedRelease = {
      filename: release.filename,
      sha256: release.sha256,
      size,
      firmwareVersion: release.firmwareVersion,
      ecu: release.ecu,
      releaseId: release.releaseId,
      path,
      downloadedAt: new Date().toISOString(),
    };
    await writeFileAtomic(this.path('downloadedRelease'), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  }
}
