import { BadRequestError } from '../errors.ts';

/**
 * A release's filename is what vehicles put in `/ota_download/<filename>` (the seed's `version`), so it
 * must be a plain name: no path separators, no `..`, no control characters, at most 255 bytes. It never
 * reaches the filesystem (blobs are stored by hash), but it does reach URLs, logs and pages.
 */
export function checkFilename(name: string | undefined): string {
  if (!name) throw new BadRequestError('the file needs a name');
  const problem = filenameProblem(name);
  if (problem) throw new BadRequestError(`bad filename: ${problem}`);
  return name;
}

export function filenameProblem(name: string): string | undefined {
  if (/[/\\]/.test(name)) return 'it must not contain / or \\';
  if (name.includes('..')) return 'it must not contain ..';
  // C0 and C1 control characters, DEL, and Unicode line/paragraph separators and bidi overrides.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(name)) return 'it must not contain control characters';
  if (name.trim() !== name || name.length === 0) return 'it must not start or end with spaces';
  if (name.startsWith('.')) return 'it must not start with a dot';
  if (Buffer.byteLength(name) > 255) return 'it is longer than 255 bytes';
  return undefined;
}

/** Optional short text fields of a release (ECU, firmware version, notes). */
export function checkLabel(field: string, value: string | undefined, maxLength: number): string | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (text === '') return null;
  if (text.length > maxLength) throw new BadRequestError(`${field} is longer than ${maxLength} characters`);
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new BadRequestError(`${field} must not contain control characters`);
  return text;
}
