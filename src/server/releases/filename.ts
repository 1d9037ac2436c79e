import { BadRequestError } from '../errors.ts';

/**
 * A release's filename is what vehicles put in `/ota_download/<filename>` (the seed's `version`) and what
 * admins read in the release list, so it must be plain and unambiguous: two names that look the same must
 * be the same name. Only ASCII letters, digits and `. _ - +` pass, starting with a letter or digit, no `..`,
 * at most 255 bytes. Anything else (a Cyrillic `а`, a fullwidth `．`, a division slash `∕`, a zero-width
 * space, a bidi control) is refused with the character, its position and why. The name never reaches the
 * filesystem (blobs are stored by hash), but it does reach URLs, logs and pages.
 */
export function checkFilename(name: string | undefined): string {
  if (!name) throw new BadRequestError('the file needs a name');
  const problem = filenameProblem(name);
  if (problem) throw new BadRequestError(`bad filename: ${problem}`);
  return name;
}

const allowed = /^[A-Za-z0-9._+-]$/;
const allowedText = 'ASCII letters, digits and . _ - +';

export function filenameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (Buffer.byteLength(name) > 255) return 'it is longer than 255 bytes';
  let position = 0;
  for (const character of name) {
    position++;
    if (allowed.test(character)) continue;
    return `character ${position} ${describe(character)} is not allowed: ${whyRefused(character)} (allowed: ${allowedText})`;
  }
  if (/^[._+-]/.test(name)) return 'it must start with a letter or a digit (no leading dot, dash or plus)';
  if (name.includes('..')) return 'it must not contain ..';
  return undefined;
}

/** `'а' (U+0430)`; invisible and control characters only by code point, so the message shows no trap itself. */
function describe(character: string): string {
  const codePoint = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  return /[\p{L}\p{N}\p{P}\p{S}]/u.test(character) ? `"${character}" (${codePoint})` : codePoint;
}

function whyRefused(character: string): string {
  if (character === '/' || character === '\\') return 'a path separator';
  if (/[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]/.test(character)) return 'a bidi control, it changes the direction text is displayed in';
  // NFKC folds compatibility forms (fullwidth letters and dots, ligatures, superscripts) onto the plain
  // character they imitate: name that character, so the uploader sees the trap.
  const folded = character.normalize('NFKC');
  if (folded !== character && [...folded].every((c) => allowed.test(c))) return `it looks like "${folded}" but is a different character`;
  if (/\p{Cf}/u.test(character)) return 'an invisible (zero-width or format) character';
  if (/\p{Cc}/u.test(character)) return 'a control character';
  if (/[\p{Z}\s]/u.test(character)) return 'a space';
  if (/\p{L}/u.test(character)) return 'not an ASCII letter (letters from other scripts can look exactly like ASCII ones)';
  if (/\p{N}/u.test(character)) return 'not an ASCII digit';
  return 'not a plain ASCII character (it may look like one that is allowed)';
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
