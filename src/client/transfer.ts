import type { Hash } from 'node:crypto';
import { close, closeSync, fdatasync, fsync, openSync, writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { ClientError } from './errors.ts';

const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/**
 * Written bytes are flushed in the background every this many bytes, so the disk works while the
 * network does and the fsync before the rename finds little left to write (and a resume after a power
 * cut finds most of the partial file durable).
 */
const backgroundSyncBytes = 32 * 1024 * 1024;

export interface TransferInput {
  body: Readable;
  partPath: string;
  /** Bytes already in the part file; the body continues from there (0: the part is emptied first). */
  offset: number;
  /** The hash of those `offset` bytes; the body's bytes are added as they pass. */
  hash: Hash;
  /** The length the whole file must have; more is refused as it arrives, less fails at the end. */
  expectedTotal: number | undefined;
  /** The most bytes accepted when no length is known at all. */
  maxSize: number;
  /** Called with the file's byte count so far, for every chunk. */
  onBytes: (bytes: number) => void;
}

/**
 * Streams one answer's body into the part file, hashing each chunk on its way to the disk: one pass,
 * never more than a chunk or two in memory whatever the size. Resolves with the file's total length once
 * the body ended and every byte is written and fsynced.
 *
 * Must be called in the same tick the response arrived (no `await` in between), and writes each chunk
 * synchronously from the `data` event. That is deliberate: undici 7 crashes the process with an
 * uncatchable `assert(!this.paused)` when a server closes the connection (`Connection: close`, as the
 * seed's Flask server does) while the body stream applies back-pressure (nodejs/undici#5360, fixed only
 * in undici 8). A flowing body whose consumer never buffers never applies it; the socket is simply not
 * read while a chunk is hashed and written, which is back-pressure at the TCP level instead.
 */
export function transferBody(input: TransferInput): Promise<number> {
  const limit = input.expectedTotal ?? input.maxSize;
  let bytes = input.offset;
  let fd: number | undefined;
  let unsynced = 0;
  // At most one background flush at a time; the file is closed only once it has finished.
  let flushing: Promise<void> = Promise.resolve();
  return new Promise<number>((resolve, reject) => {
    let failed = false;
    const fail = (error: unknown) => {
      // The first failure is the reason; destroying the body below makes undici report an abort too.
      if (failed) return;
      failed = true;
      input.body.off('data', onData);
      input.body.destroy();
      const handle = fd;
      fd = undefined;
      if (handle === undefined) {
        reject(error);
        return;
      }
      void flushing.finally(() => close(handle, () => reject(error)));
    };
    const onData = (chunk: Buffer) => {
      try {
        bytes += chunk.length;
        if (bytes > limit) {
          // An endless (or just longer) body is cut off here, before the extra bytes reach the disk.
          throw new ClientError('length-mismatch', input.expectedTotal === undefined
            ? `the file is larger than the ${limit}-byte limit`
            : `the server sent more than the announced ${limit} bytes`);
        }
        input.hash.update(chunk);
        for (let written = 0; written < chunk.length;) written += writeSync(fd!, chunk, written);
        unsynced += chunk.length;
        if (unsynced >= backgroundSyncBytes) {
          unsynced = 0;
          const handle = fd!;
          flushing = flushing.then(() => fdatasyncAsync(handle)).catch(() => undefined);
        }
        input.onBytes(bytes);
      } catch (error) {
        fail(error);
      }
    };
    try {
      fd = openSync(input.partPath, input.offset === 0 ? 'w' : 'a');
    } catch (error) {
      fail(error);
      return;
    }
    input.body.on('data', onData);
    input.body.once('error', fail);
    input.body.once('end', () => {
      const handle = fd!;
      fd = undefined;
      // The file is durable before anyone renames it into place.
      flushing.then(() => fsyncAsync(handle)).finally(() => closeSync(handle)).then(() => {
        if (input.expectedTotal !== undefined && bytes < input.expectedTotal) {
          reject(new ClientError('connection', `the body ended after ${bytes} of ${input.expectedTotal} bytes`));
        } else {
          resolve(bytes);
        }
      }, reject);
    });
  });
}
