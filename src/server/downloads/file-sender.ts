import { read } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

/** Four 512 KiB buffers per download: read-ahead enough to keep the socket busy, 2 MiB whatever the file. */
const chunkBytes = 512 * 1024;
const buffersPerDownload = 4;
/** Buffers kept between downloads, so a new download does not fault in fresh memory (at most 32 MiB). */
const spareLimit = 64;
const spare: Buffer[] = [];

function takeBuffer(): Buffer {
  return spare.pop() ?? Buffer.allocUnsafeSlow(chunkBytes);
}

function returnBuffer(buffer: Buffer): void {
  if (spare.length < spareLimit) spare.push(buffer);
}

export interface SendOutcome {
  complete: boolean;
  /** Bytes handed to the socket (all of them when complete). */
  bytes: number;
}

/**
 * Copies `length` bytes of `file` from `start` into `response`, then ends it. A plain read stream piped
 * into the socket allocates a fresh buffer per chunk (for 64 MiB, 64 MiB of new memory to fault in and
 * free); here a few buffers are reused, each one only after the socket has taken its bytes (the write
 * callback), which roughly doubles single-client throughput. Closes `file` when done.
 */
export function sendFileRange(file: FileHandle, start: number, length: number, response: ServerResponse): Promise<SendOutcome> {
  return new Promise((resolve) => {
    const free: Buffer[] = Array.from({ length: buffersPerDownload }, takeBuffer);
    const end = start + length;
    let position = start;
    let reading = false;
    let writing = 0;
    let sent = 0;
    let stopped = false;

    const finish = (complete: boolean) => {
      if (stopped) return;
      stopped = true;
      response.off('close', onClose);
      // Buffers still queued in the socket are not reused; the rest go back to the pool.
      if (writing === 0) free.forEach(returnBuffer);
      void file.close().catch(() => undefined);
      resolve({ complete, bytes: sent });
    };
    const onClose = () => finish(response.writableFinished);
    response.on('close', onClose);

    const pump = () => {
      if (stopped || reading) return;
      if (position >= end) {
        if (writing === 0) response.end(() => finish(true));
        return;
      }
      const buffer = free.pop();
      if (!buffer) return;
      reading = true;
      read(file.fd, buffer, 0, Math.min(chunkBytes, end - position), position, (error, bytesRead) => {
        reading = false;
        if (stopped) return;
        if (error || bytesRead === 0) {
          // The file changed or vanished under us: cut the response so the client sees it incomplete.
          response.destroy(error ?? new Error('blob shorter than expected'));
          finish(false);
          return;
        }
        position += bytesRead;
        writing++;
        response.write(buffer.subarray(0, bytesRead), (writeError) => {
          writing--;
          if (writeError) {
            finish(false);
            return;
          }
          sent += bytesRead;
          free.push(buffer);
          pump();
        });
        pump();
      });
    };
    if (length === 0) response.end(() => finish(true));
    else pump();
  });
}
