import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { baseApplicationHeader, DEFAULT_DELTA_WINDOW } from '../../vehicle/ecu/patching-writer.ts';

const run = promisify(execFile);

/** A delta xdelta3 made, and what it cost. */
export interface MadeDelta {
  path: string;
  size: number;
  sha256: string;
  milliseconds: number;
}

export interface MakeDeltaOptions {
  /** The image vehicles run now (the delta's source). */
  base: string;
  baseSha256: string;
  /** The new image. */
  target: string;
  /** Where the delta goes (overwritten). */
  out: string;
  /** Target window: the most an ECU keeps in RAM to apply it (docs/vehicle-protocol.md). Default 16 KiB. */
  window?: number;
  /** The xdelta3 binary. Default `xdelta3` on the PATH (Debian's package). */
  xdelta3?: string;
  timeoutMs?: number;
}

export class DeltaError extends Error {
  override name = 'DeltaError';
}

/**
 * Makes a VCDIFF delta (RFC 3284) from `base` to `target` with Debian's xdelta3, in the form ECUs apply
 * (src/vehicle/ecu/vcdiff-decoder.ts): no secondary compression (`-S none`: the ECU decodes the standard
 * format only), target windows of `window` bytes (`-W`, the ECU's RAM for it), and the base image's SHA-256
 * as application header (`-A`), so the ECU refuses a delta for an image it does not run before it writes.
 * Best compression (`-9`): made once per release pair, applied by every car.
 */
export async function makeDelta(options: MakeDeltaOptions): Promise<MadeDelta> {
  const started = performance.now();
  const window = options.window ?? DEFAULT_DELTA_WINDOW;
  const args = ['-e', '-9', '-S', 'none', '-W', String(window), '-A', baseApplicationHeader(options.baseSha256), '-f', '-s', options.base, options.target, options.out];
  try {
    await run(options.xdelta3 ?? 'xdelta3', args, { timeout: options.timeoutMs ?? 120_000 });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    const detail = failure.code === 'ENOENT' ? `${options.xdelta3 ?? 'xdelta3'} is not installed (Debian package xdelta3)`
      : (failure.stderr?.trim() || failure.message);
    throw new DeltaError(`xdelta3 failed: ${detail}`);
  }
  const milliseconds = performance.now() - started;
  const { size } = await stat(options.out);
  return { path: options.out, size, sha256: await sha256OfFile(options.out), milliseconds };
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
