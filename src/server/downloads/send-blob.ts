import { open, type FileHandle } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReleaseRecord } from '../storage/releases.ts';
import type { BlobStore } from '../storage/blobs.ts';
import { NotFoundError, RangeNotSatisfiableError } from '../errors.ts';
import { parseRange } from './range.ts';
import { sendFileRange, type SendOutcome } from './file-sender.ts';
import { errorCode } from '../../errors/error-message.ts';

export interface SentBlob {
  /** Bytes the response was meant to carry (the whole file or the range). */
  length: number;
  status: 200 | 206;
  /** Resolves when the response ends: complete, or cut with the bytes sent so far. */
  finished: Promise<SendOutcome>;
}

/**
 * Streams a release's blob with `Content-Length`, `ETag` (its SHA-256), `Accept-Ranges`, and a single
 * `Range` (206, or 416 when it lies outside the file). The path comes from the blob's hash, never from
 * the request, so no URL can reach a file outside the store.
 *
 * The body bypasses Fastify's reply (hijack) so `sendFileRange` can reuse its buffers; the headers set
 * on the reply so far (by hooks such as helmet) are still sent, and onResponse hooks still run. The
 * caller's handler must `return reply` afterwards.
 */
export async function sendBlob(request: FastifyRequest, reply: FastifyReply, release: ReleaseRecord, blobs: BlobStore): Promise<SentBlob> {
  let file: FileHandle;
  try {
    file = await open(blobs.pathOf(release.sha256), 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new NotFoundError(`the file of release ${release.id} is missing from the store`);
    throw error;
  }
  let hijacked = false;
  try {
    const { size } = await file.stat();
    const etag = `"${release.sha256}"`;
    const ifRange = request.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? parseRange(request.headers.range, size) : undefined;
    if (range === 'unsatisfiable') throw new RangeNotSatisfiableError(size);

    const start = range?.start ?? 0;
    const length = range ? range.end - range.start + 1 : size;
    reply.headers({
      'content-type': 'application/octet-stream',
      'content-length': length,
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(release.filename)}`,
      etag,
      'accept-ranges': 'bytes',
      'cache-control': 'no-store',
      'last-modified': new Date(release.uploaded_at).toUTCString(),
    });
    const status = range ? 206 : 200;
    if (range) reply.header('content-range', `bytes ${range.start}-${range.end}/${size}`);
    reply.hijack();
    hijacked = true;
    reply.raw.writeHead(status, reply.getHeaders() as OutgoingHttpHeaders);
    return { length, status, finished: sendFileRange(file, start, length, reply.raw) };
  } catch (error) {
    if (!hijacked) await file.close();
    throw error;
  }
}
