import { createReadStream } from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReleaseRecord } from '../storage/releases.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { NotFoundError, RangeNotSatisfiableError } from '../errors.ts';
import { parseRange } from './range.ts';

export interface SentBlob {
  /** Bytes the response was meant to carry (the whole file or the range). */
  length: number;
  status: 200 | 206;
  /** Resolves when the response ends: complete, or cut with the bytes read so far. */
  finished: Promise<{ complete: boolean; bytes: number }>;
}

/** Big reads keep the per-chunk cost (syscalls, stream bookkeeping) small next to the copy itself. */
const chunkBytes = 1024 * 1024;

/**
 * Streams a release's blob with `Content-Length`, `ETag` (its SHA-256), `Accept-Ranges`, and a single
 * `Range` (206, or 416 when it lies outside the file). The path comes from the blob's hash, never from
 * the request, so no URL can reach a file outside the store.
 */
/** The caller's handler must `return reply` afterwards. */
export async function sendBlob(request: FastifyRequest, reply: FastifyReply, release: ReleaseRecord, blobs: BlobStore): Promise<SentBlob> {
  const size = await blobs.size(release.sha256);
  if (size === undefined) throw new NotFoundError(`the file of release ${release.id} is missing from the store`);
  const etag = `"${release.sha256}"`;
  const ifRange = request.headers['if-range'];
  const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, size) : undefined;
  if (range === 'unsatisfiable') throw new RangeNotSatisfiableError(size);

  const start = range?.start ?? 0;
  const end = range?.end ?? size - 1;
  const length = size === 0 ? 0 : end - start + 1;
  reply.headers({
    'content-type': 'application/octet-stream',
    'content-length': length,
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(release.filename)}`,
    etag,
    'accept-ranges': 'bytes',
    'cache-control': 'no-store',
    'last-modified': new Date(release.uploaded_at).toUTCString(),
  });
  if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);

  const stream = createReadStream(blobs.pathOf(release.sha256), { start, end: Math.max(start, end), highWaterMark: chunkBytes });
  const finished = new Promise<{ complete: boolean; bytes: number }>((resolve) => {
    let settled = false;
    const settle = (complete: boolean) => {
      if (settled) return;
      settled = true;
      resolve({ complete, bytes: complete ? length : Math.min(length, stream.bytesRead) });
    };
    reply.raw.once('finish', () => settle(true));
    reply.raw.once('close', () => settle(reply.raw.writableFinished));
  });
  // Not awaited: a FastifyReply is thenable and would wait for the whole download.
  if (length === 0) {
    stream.destroy();
    void reply.send('');
  } else {
    void reply.send(stream);
  }
  return { length, status: range ? 206 : 200, finished };
}
