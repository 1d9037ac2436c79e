import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { errorMessage } from '../../errors/error-message.ts';

/** Debian's xz (package xz-utils, on every Debian system): the reference encoder of the format. */
export const XZ_COMMAND = '/usr/bin/xz';

/** The TMU cannot make xz streams (no xz on this system): the session sends the image another way. */
export class XzUnavailableError extends Error {
  override name = 'XzUnavailableError';
}

/** An image being compressed: its .xz stream as it comes, and how much of the image a prefix of it stands for. */
export interface XzCompression {
  /** The .xz stream, chunk by chunk; fails if xz fails (never ends short without an error). */
  chunks: AsyncIterable<Uint8Array>;
  /** Image bytes behind the first `compressedBytes` of the stream (estimated from what xz has read and written). */
  imageBytesFor(compressedBytes: number): number;
  /** Stops xz (after a failed download). */
  stop(): void;
}

/**
 * Compresses an image for dataFormatIdentifier 0x20: one .xz stream, CRC32 check, filters ARM-Thumb BCJ then
 * LZMA2 with a dictionary of exactly the ECU's window (the decoder refuses a larger one). lc=3 lp=1 pb=1:
 * Thumb-2 code is made of 2-byte units, so literal and match contexts aligned to 2 bytes fit it (1.60:1 on
 * the firmware corpus against 1.50:1 for xz's defaults and 1.34:1 for deflate). Streamed: the first
 * TransferData block goes out while xz still works on the rest (a whole 400 KiB image takes xz ~60 ms at
 * preset 9, 4 % of a CAN FD flash). It runs Debian's `xz`: no maintained Node library sets both the BCJ filter
 * and the dictionary size on Node 20 (docs/ecu.md). Resolves once xz runs, so that a missing xz is known
 * (XzUnavailableError) before anything is asked of the ECU.
 */
export async function startXzCompression(
  image: Uint8Array | { path: string },
  options: { window: number; command?: string },
): Promise<XzCompression> {
  const { window } = options;
  if (!Number.isInteger(window) || window < 4096) throw new RangeError(`an xz dictionary is at least 4096 bytes, not ${window}`);
  const command = options.command ?? XZ_COMMAND;
  const args = ['--format=xz', '--check=crc32', '--armthumb', `--lzma2=preset=9,dict=${window},lc=3,lp=1,pb=1`, '--stdout', '--threads=1', '--quiet'];
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // Taken from now on: when xz exits, Node resumes a stdout nobody listens to and its bytes are lost; the
  // PassThrough keeps them (the whole .xz stream at most: a few hundred KiB) until the download reads them.
  const output = child.stdout.pipe(new PassThrough());
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  // Rejects too when xz cannot start: that is reported below, from the spawn.
  exited.catch(() => {});
  // Known at once: an 'error' event instead of 'spawn' means there is no xz to run.
  try {
    await once(child, 'spawn');
  } catch (error) {
    throw new XzUnavailableError(`cannot run ${command} (apt-get install xz-utils): ${errorMessage(error)}`, { cause: error });
  }
  const errors: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => errors.push(chunk));
  // What xz has read and written so far: their ratio maps sent stream bytes to image bytes. xz is far
  // faster than any bus, so it has usually finished (the ratio is exact) by the first acknowledged block.
  let consumed = 0;
  let produced = 0;
  child.stdout.on('data', (chunk: Buffer) => { produced += chunk.length; });
  let estimate = 0;
  const stdin = child.stdin;
  // A write error (EPIPE when xz dies early) shows up as xz's exit status.
  stdin.on('error', () => {});
  if (image instanceof Uint8Array) {
    stdin.end(image, () => { consumed = image.length; });
  } else {
    const file = createReadStream(image.path, { highWaterMark: 64 * 1024 });
    file.on('data', (chunk) => { consumed += chunk.length; });
    file.on('error', (error) => {
      errors.push(Buffer.from(`reading ${image.path}: ${error.message}`));
      child.kill();
    });
    file.pipe(stdin);
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of output as AsyncIterable<Buffer>) {
      yield new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    const [code, signal] = await exited;
    if (code !== 0) throw new Error(`xz failed (${signal ?? `exit ${code}`}): ${Buffer.concat(errors).toString('utf8').trim()}`);
  }
  return {
    chunks: chunks(),
    imageBytesFor(compressedBytes) {
      // Never backwards, and exact once xz has read the whole image and everything it wrote was sent.
      const ratio = produced > 0 ? consumed / produced : 0;
      estimate = Math.max(estimate, Math.min(consumed, Math.round(compressedBytes * ratio)));
      return estimate;
    },
    stop() {
      if (child.exitCode === null) child.kill();
    },
  };
}
