import { spawn } from 'node:child_process';
import { errorMessage } from '../../errors/error-message.ts';

/** Debian's xz (package xz-utils, on every Debian system): the reference encoder of the format. */
export const XZ_COMMAND = '/usr/bin/xz';

/** The TMU cannot make xz streams (no xz on this system): the session sends the image another way. */
export class XzUnavailableError extends Error {
  override name = 'XzUnavailableError';
}

/**
 * Compresses an image for dataFormatIdentifier 0x20: one .xz stream, CRC32 check, filters ARM-Thumb BCJ then
 * LZMA2 with a dictionary of exactly the ECU's window (the decoder refuses a larger one). lc=3 lp=1 pb=1:
 * Thumb-2 code is made of 2-byte units, so literal and match contexts aligned to 2 bytes fit it (1.60:1 on
 * the firmware corpus against 1.50:1 for xz's defaults and 1.34:1 for deflate). The image is a few MiB at
 * most and xz takes ~0.1 s for 400 KiB at preset 9, so it is compressed whole, in memory, by `xz`: no
 * maintained Node library sets both the BCJ filter and the dictionary size on Node 20 (docs/ecu.md).
 */
export async function compressXz(image: Uint8Array | { path: string }, options: { window: number; command?: string }): Promise<Uint8Array> {
  const { window } = options;
  if (!Number.isInteger(window) || window < 4096) throw new RangeError(`an xz dictionary is at least 4096 bytes, not ${window}`);
  const args = ['--format=xz', '--check=crc32', '--armthumb', `--lzma2=preset=9,dict=${window},lc=3,lp=1,pb=1`, '--stdout', '--threads=1', '--quiet'];
  if (!(image instanceof Uint8Array)) args.push('--keep', '--', image.path);
  const child = spawn(options.command ?? XZ_COMMAND, args, { stdio: [image instanceof Uint8Array ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  const output: Buffer[] = [];
  const errors: Buffer[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk));
  child.stderr!.on('data', (chunk: Buffer) => errors.push(chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (image instanceof Uint8Array) {
    // A write error (EPIPE when xz dies early) shows up as xz's exit status below.
    child.stdin!.on('error', () => {});
    child.stdin!.end(image);
  }
  let code: number | null;
  try {
    code = await exited;
  } catch (error) {
    throw new XzUnavailableError(`cannot run ${options.command ?? XZ_COMMAND} (apt-get install xz-utils): ${errorMessage(error)}`, { cause: error });
  }
  if (code !== 0) throw new Error(`xz failed (exit ${code}): ${Buffer.concat(errors).toString('utf8').trim()}`);
  return new Uint8Array(Buffer.concat(output));
}
