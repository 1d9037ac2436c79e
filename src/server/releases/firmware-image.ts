/**
 * Whether an upload can be a firmware image at all. An ECU flashes the bytes as they are, so an empty
 * file, or a text file (release notes, a hex dump, an Intel HEX or S-record file that was meant to be
 * converted first) uploaded by mistake must be refused before any vehicle is offered it.
 *
 * The text test looks at the first `sniffBytes` of the file (all of a smaller one): it is text when it has no
 * NUL byte, decodes as UTF-8 (or as UTF-16 after a byte-order mark) without error, and holds no control
 * character other than tab, line feed, carriage return and form feed. A real image fails all of that in
 * its first bytes (vector tables, zero padding, and any 64 KiB of machine code hold NULs and controls),
 * so a binary image is never refused; a text file with a stray control character in its first 64 KiB is
 * accepted, which errs on the side of the uploader.
 */
export const sniffBytes = 64 * 1024;

/** Why a file of `size` bytes starting with `head` is no firmware image, or undefined when it may be one. */
export function firmwareImageProblem(head: Buffer, size: number): string | undefined {
  if (size === 0) return 'the file is empty: a firmware image has at least one byte';
  if (looksLikeText(head, size > head.length)) {
    return 'this looks like a text file, not a firmware image (its first bytes are all readable text); upload the binary image (.bin), not notes, a hex dump or an Intel HEX / S-record file';
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const controlCharacter = /[\u0000-\u0008\u000b\u000e-\u001f\u007f-\u009f]/;

/** `cut`: `head` is only the start of the file, so a multi-byte character may be cut at its end. */
export function looksLikeText(head: Buffer, cut: boolean): boolean {
  const utf16 = head[0] === 0xff && head[1] === 0xfe ? 'utf-16le' : head[0] === 0xfe && head[1] === 0xff ? 'utf-16be' : undefined;
  if (!utf16 && head.includes(0)) return false;
  let text: string;
  try {
    // `stream` keeps an incomplete last character back instead of calling it an error.
    text = new TextDecoder(utf16 ?? 'utf-8', { fatal: true }).decode(head, { stream: cut });
  } catch {
    return false;
  }
  return !controlCharacter.test(text);
}
