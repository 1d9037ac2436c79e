import { ClientError } from './errors.ts';

/**
 * The resume logic (RFC 9110 §14): which request to send for the bytes already on disk, and what the
 * server's answer means for them. Pure functions, so the property tests can throw every combination of
 * offsets, sizes and answers at them.
 */

export interface ContentRange {
  /** First byte of this part, or undefined for an unsatisfied range (`bytes *` + `/total`, sent with 416). */
  start: number | undefined;
  end: number | undefined;
  /** The whole file's length, or undefined when the server sent `*`. */
  total: number | undefined;
}

/** Headers asking for the file from `offset` on; `If-Range` makes a changed file come back whole (200). */
export function resumeHeaders(offset: number, entityTag: string | undefined): Record<string, string> {
  if (offset <= 0) return {};
  const headers: Record<string, string> = { range: `bytes=${offset}-` };
  // Only a strong validator may be used in If-Range (RFC 9110 §13.1.5).
  if (entityTag && !entityTag.startsWith('W/')) headers['if-range'] = entityTag;
  return headers;
}

export function formatContentRange(range: ContentRange): string {
  const total = range.total === undefined ? '*' : String(range.total);
  if (range.start === undefined || range.end === undefined) return `bytes */${total}`;
  return `bytes ${range.start}-${range.end}/${total}`;
}

export function parseContentRange(value: string): ContentRange | null {
  const match = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!match) return null;
  const total = match[3] === '*' ? undefined : safeInteger(match[3]!);
  if (match[1] === undefined) {
    // An unsatisfied range without a length says nothing.
    return total === undefined ? null : { start: undefined, end: undefined, total };
  }
  const start = safeInteger(match[1]);
  const end = safeInteger(match[2]!);
  if (start === undefined || end === undefined || end < start) return null;
  if (total !== undefined && end >= total) return null;
  if (match[3] !== '*' && total === undefined) return null;
  return { start, end, total };
}

function safeInteger(digits: string): number | undefined {
  const value = Number(digits);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** What to do with the body of a download answer, given what is already on disk. */
export type BodyPlan =
  /** Write the body from byte 0 (fresh download, or the server ignored our Range / the file changed). */
  | { kind: 'from-start'; total: number | undefined }
  /** Append the body to the `offset` bytes on disk. */
  | { kind: 'append'; total: number | undefined }
  /** The bytes on disk already are the whole file (416 with that length): verify them, fetch nothing. */
  | { kind: 'complete'; total: number }
  /** The bytes on disk cannot be a prefix of this file: throw them away and start again. */
  | { kind: 'discard' };

export interface DownloadAnswer {
  status: number;
  /** Bytes already on disk, i.e. what we asked for with `Range: bytes=offset-` (0: no Range sent). */
  offset: number;
  contentLength: number | undefined;
  contentRange: string | undefined;
  /** The size `/latest_version` announced, if it did. */
  announcedSize: number | undefined;
}

/**
 * Decides from a 200/206/416 answer how its body relates to the partial file; throws a `ClientError` for
 * an answer that contradicts the request or the announced size (checked before any byte is written, so
 * a lying server costs one round trip, not a download).
 */
export function planBody(answer: DownloadAnswer): BodyPlan {
  const { status, offset, contentLength, announcedSize } = answer;
  if (status === 200) {
    if (announcedSize !== undefined && contentLength !== undefined && contentLength !== announcedSize) {
      throw lengthMismatch(`the server sends ${contentLength} bytes but announced ${announcedSize}`);
    }
    return { kind: 'from-start', total: announcedSize ?? contentLength };
  }
  if (status === 206) {
    if (offset === 0) throw new ClientError('bad-response', 'a 206 answer to a request without Range', { status });
    const range = answer.contentRange === undefined ? null : parseContentRange(answer.contentRange);
    if (!range || range.start === undefined || range.end === undefined) {
      throw new ClientError('bad-response', `206 with a missing or bad Content-Range: ${answer.contentRange}`, { status });
    }
    if (range.start !== offset) {
      throw new ClientError('bad-response', `asked for bytes from ${offset}, got a part from ${range.start}`, { status });
    }
    const total = range.total ?? announcedSize;
    if (announcedSize !== undefined && range.total !== undefined && range.total !== announcedSize) {
      throw lengthMismatch(`the server's file has ${range.total} bytes but ${announcedSize} were announced`);
    }
    if (total !== undefined && range.end !== total - 1) {
      throw new ClientError('bad-response', `asked for bytes ${offset}- of ${total}, got only up to ${range.end}`, { status });
    }
    if (contentLength !== undefined && contentLength !== range.end - range.start + 1) {
      throw new ClientError('bad-response', `Content-Length ${contentLength} does not match Content-Range ${answer.contentRange}`, { status });
    }
    return { kind: 'append', total };
  }
  if (status === 416) {
    const range = answer.contentRange === undefined ? null : parseContentRange(answer.contentRange);
    const total = range?.total;
    const matchesAnnouncement = announcedSize === undefined || announcedSize === total;
    if (total !== undefined && total === offset && matchesAnnouncement) return { kind: 'complete', total };
    return { kind: 'discard' };
  }
  throw new ClientError('bad-response', `unexpected status ${status} for a download`, { status });
}

function lengthMismatch(message: string): ClientError {
  return new ClientError('length-mismatch', message);
}

/** Strong comparison (RFC 9110 §8.8.3.2): both present, both strong, and the same characters. */
export function sameEntityTag(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && !a.startsWith('W/') && a === b;
}
