import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { syncDirectory } from '../../files/atomic-write.ts';
import { errorCode } from '../../errors/error-message.ts';
import { InvalidBlobHashError } from './errors.ts';

/** A blob written to disk and hashed, not yet visible under its hash until `commit()`. */
export interface PendingBlob {
  sha256: string;
  size: number;
  /** The file's first bytes (as many as `write()` was asked to keep), to check what kind of file it is. */
  head: Buffer;
  /** fsync'd already; moves it into place atomically. */
  commit(): Promise<void>;
  discard(): Promise<void>;
}

const sha256Pattern = /^[0-9a-f]{64}$/;

/**
 * Content-addressed file store: a blob lives at `<root>/<first two hex>/<sha256>`, so its path comes from
 * its hash alone (no user-chosen name ever reaches the filesystem) and identical uploads share one file.
 * New blobs are streamed into `<root>/incoming/` and renamed into place after fsync, so a crash or a cut
 * upload never leaves a partial file where a download could find it.
 */
export class BlobStore {
  private readonly incoming: string;

  constructor(readonly root: string) {
    this.incoming = join(root, 'incoming');
  }

  /** Creates the folders and deletes uploads a previous process left half-written. */
  async open(): Promise<void> {
    await mkdir(this.incoming, { recursive: true });
    for (const name of await readdir(this.incoming)) await rm(join(this.incoming, name), { force: true });
  }

  pathOf(sha256: string): string {
    if (!sha256Pattern.test(sha256)) throw new InvalidBlobHashError(`not a SHA-256: ${sha256}`);
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  async size(sha256: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Streams `source` to disk while hashing it; memory use is one chunk, whatever the size, plus the first
   * `headBytes` kept for the caller.
   */
  async write(source: Readable, options: { headBytes?: number } = {}): Promise<PendingBlob> {
    const temp = join(this.incoming, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    const headBytes = options.headBytes ?? 0;
    const head: Buffer[] = [];
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        if (size < headBytes) head.push(chunk.subarray(0, headBytes - size));
        size += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
      const handle = await open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    const sha256 = hash.digest('hex');
    const discard = () => unlink(temp).catch(() => undefined);
    return {
      sha256,
      size,
      head: Buffer.concat(head),
      discard,
      commit: async () => {
        const target = this.pathOf(sha256);
        if ((await this.size(sha256)) === size) {
          await discard();
          return;
        }
        await mkdir(join(this.root, sha256.slice(0, 2)), { recursive: true });
        await rename(temp, target);
        await syncDirectory(join(this.root, sha256.slice(0, 2)));
      },
    };
  }
}
