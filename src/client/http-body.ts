import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

/** An answer longer than the caller allows (a broken or hostile server must not fill our memory). */
export class AnswerTooLargeError extends Error {
  override name = 'AnswerTooLargeError';
  constructor(readonly limit: number) {
    super(`answer larger than ${limit} bytes`);
  }
}

/** Reads a small answer body as text, destroying the stream past `limit` bytes. Transport errors pass through. */
export async function readBodyText(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) {
      body.destroy();
      throw new AnswerTooLargeError(limit);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The `{error}` of a JSON error answer, or the start of whatever else came. Never throws. */
export async function errorMessageOf(response: Dispatcher.ResponseData): Promise<string> {
  let text: string;
  try {
    text = await readBodyText(response.body, 4096);
  } catch {
    return '(no readable body)';
  }
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body?.error === 'string') return body.error;
  } catch {
    // not JSON: the raw text below
  }
  return text.trim().slice(0, 200) || '(empty body)';
}
