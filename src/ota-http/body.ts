import type { Readable } from 'node:stream';
import { BadJsonError, BodyTooLargeError } from './errors.ts';

/**
 * The one size limit for a JSON answer of the OTA server, whichever route it comes from. The largest is
 * `/api/v1/releases/latest`: one entry per ECU with its signed manifest, about 1 KiB each, so a vehicle
 * with hundreds of ECUs fits many times over; a server sending more is broken or hostile, and we stop
 * reading instead of buffering it. (Firmware images are streamed to disk, never read through here.)
 */
export const jsonLimitBytes = 1024 * 1024;

/** An error answer is only read for its message: a few KiB say all a person needs. */
const errorBodyLimitBytes = 4096;

/**
 * Reads a small answer body as text, destroying the stream past `limit` bytes. Transport errors pass
 * through unclassified (the caller knows which request it was).
 */
export async function readBodyText(body: Readable, limit: number, what: string): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) {
      body.destroy();
      throw new BodyTooLargeError(`${what}: answer larger than ${limit} bytes`, limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON answer; the start of the text goes into the error so a person sees what came instead. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new BadJsonError(`${what} did not answer JSON: ${text.slice(0, 200)}`);
  }
}

/** The `{error}` of a JSON error answer, or the start of whatever else came. Never throws. */
export async function errorMessageOf(body: Readable): Promise<string> {
  let text: string;
  try {
    text = await readBodyText(body, errorBodyLimitBytes, 'error answer');
  } catch {
    return '(no readable body)';
  }
  try {
    const parsed = JSON.parse(text) as { error?: unknown } | null;
    if (typeof parsed?.error === 'string') return parsed.error;
  } catch {
    // not JSON: the raw text below
  }
  return text.trim().slice(0, 200) || '(empty body)';
}
