/**
 * The xz format's ARM-Thumb BCJ filter (id 0x08), decoding side: the encoder turned the relative targets of
 * Thumb BL instruction pairs into absolute addresses (repeated calls to one function then look alike and
 * compress better); this turns them back. `position` is the stream position of `buffer[start]` (plus the
 * filter's start offset). Converts in place and returns the end of what is final: up to 3 bytes after it
 * may begin an instruction pair and must be looked at again with the bytes that follow.
 */
export function armThumbDecode(buffer: Uint8Array, start: number, end: number, position: number): number {
  let i = start;
  for (; i + 4 <= end; i += 2) {
    if ((buffer[i + 1]! & 0xf8) === 0xf0 && (buffer[i + 3]! & 0xf8) === 0xf8) {
      const source = (((buffer[i + 1]! & 7) << 19) | (buffer[i]! << 11) | ((buffer[i + 3]! & 7) << 8) | buffer[i + 2]!) << 1;
      const destination = ((source - (position + (i - start) + 4)) >>> 0) >>> 1;
      buffer[i + 1] = 0xf0 | ((destination >>> 19) & 7);
      buffer[i] = (destination >>> 11) & 0xff;
      buffer[i + 3] = 0xf8 | ((destination >>> 8) & 7);
      buffer[i + 2] = destination & 0xff;
      i += 2;
    }
  }
  return i;
}
