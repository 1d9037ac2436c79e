import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { z } from 'zod';
import { errorCode } from '../errors/error-message.ts';
import { writeFileAtomic } from '../files/atomic-write.ts';
import type { Release } from '../ota-http/release.ts';
import { readValidJson } from '../files/read-optional.ts';

/** What the partial file is a prefix of; written (atomically) before the first byte of the part. */
interface PartialRecord {
  sha256: string;
  filename: string;
  size?: number | undefined;
  /** The server's validator for the bytes we have, sent back as `If-Range` when resuming. */
  entityTag?: string | undefined;
}

const partialRecordSchema = z.object({
  sha256: z.string(),
  filename: z.string(),
  size: z.number().int().nonnegative().optional(),
  entityTag: z.string().optional(),
});

/** Where a resumable download stands when an attempt begins. */
export interface ResumePoint {
  /** Bytes of the file already on disk (the `Range` start). */
  offset: number;
  entityTag: string | undefined;
}

/**
 * The download in progress, kept in the state dir (never in the download dir, which only ever receives
 * verified files): `download.part` holds a prefix of the release's bytes, `download.json` says which
 * release. The record is written before the part exists, so after a kill -9 a part without a matching
 * record is never mistaken for something it is not; a part whose bytes turn out wrong fails the SHA-256
 * check and is thrown away.
 */
export class PartialDownload {
  readonly partPath: string;
  readonly recordPath: string;
  #record: PartialRecord | undefined;

  constructor(stateDir: string) {
    this.partPath = join(stateDir, 'download.part');
    this.recordPath = join(stateDir, 'download.json');
  }

  /** Continues the partial download of `release` if there is one, else starts an empty one. */
  async open(release: Release): Promise<ResumePoint> {
    const record = await this.#readRecord();
    const size = await fileSize(this.partPath);
    const sameRelease = record !== undefined && record.sha256 === release.sha256 && record.filename === release.filename;
    const fits = release.size === undefined || (size ?? 0) <= release.size;
    if (sameRelease && size !== undefined && fits) {
      this.#record = record;
      return { offset: size, entityTag: record.entityTag };
    }
    await this.discard();
    this.#record = { sha256: release.sha256, filename: release.filename, size: release.size };
    await writeFileAtomic(this.recordPath, JSON.stringify(this.#record));
    await (await open(this.partPath, 'w')).close();
    return { offset: 0, entityTag: undefined };
  }

  /** Remembers the server's validator for the bytes being written (used as `If-Range` on resume). */
  async rememberEntityTag(entityTag: string | undefined): Promise<void> {
    if (!this.#record || this.#record.entityTag === entityTag) return;
    this.#record = { ...this.#record, entityTag };
    await writeFileAtomic(this.recordPath, JSON.stringify(this.#record));
  }

  /**
   * The SHA-256 state after the first `offset` bytes on disk. Node cannot serialise a Hash, so resuming
   * costs one read of the bytes already downloaded; the uninterrupted path hashes as it streams.
   */
  async rehash(offset: number): Promise<Hash> {
    const hash = createHash('sha256');
    if (offset === 0) return hash;
    await pipeline(createReadStream(this.partPath, { start: 0, end: offset - 1, highWaterMark: 1 << 20 }), async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) hash.update(chunk);
    });
    return hash;
  }

  /** Removes the part and its record (the part first: a record alone is harmless). */
  async discard(): Promise<void> {
    this.#record = undefined;
    await unlink(this.partPath).catch(ignoreMissing);
    await unlink(this.recordPath).catch(ignoreMissing);
  }

  /** Forgets the record once the part has been moved into the download dir. */
  async finish(): Promise<void> {
    this.#record = undefined;
    await unlink(this.recordPath).catch(ignoreMissing);
  }

  async #readRecord(): Promise<PartialRecord | undefined> {
    return readValidJson(this.recordPath, partialRecordSchema);
  }
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    ignoreMissing(error);
    return undefined;
  }
}

function ignoreMissing(error: unknown): void {
  if (errorCode(error) !== 'ENOENT') throw error;
}
