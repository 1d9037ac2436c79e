import { XzDataError, type XzBuffers } from './xz-buffers.ts';

/**
 * LZMA2's sliding dictionary: a circular buffer of the stream's dictionary size (never more than the ECU's
 * window), which is also where decoded bytes wait until they are copied to the output. `start…pos` is what
 * was decoded but not yet copied out; `limit` stops decoding when the output has no more room.
 * The buffer size is a multiple of 16 (every LZMA2 dictionary size is), so `pos` has the same low bits as
 * the stream position, which LZMA's position-dependent contexts need.
 */
export class LzDictionary {
  readonly buffer: Uint8Array;
  pos = 0;
  start = 0;
  limit = 0;
  /** Bytes of history held (up to the size): a match may not reach further back. */
  full = 0;

  constructor(readonly size: number) {
    this.buffer = new Uint8Array(size);
  }

  reset(): void {
    this.pos = 0;
    this.start = 0;
    this.limit = 0;
    this.full = 0;
  }

  /** Lets decoding produce at most `outMax` more bytes (and never past the buffer's end, where it wraps). */
  setLimit(outMax: number): void {
    this.limit = this.size - this.pos <= outMax ? this.size : this.pos + outMax;
  }

  hasSpace(): boolean {
    return this.pos < this.limit;
  }

  /** The byte `distance + 1` positions back (0 before any byte was decoded). */
  get(distance: number): number {
    if (this.full === 0) return 0;
    let offset = this.pos - distance - 1;
    if (distance >= this.pos) offset += this.size;
    return this.buffer[offset]!;
  }

  put(byte: number): void {
    this.buffer[this.pos++] = byte;
    if (this.full < this.pos) this.full = this.pos;
  }

  /** Copies up to `length` bytes from `distance + 1` back (a match); returns how many of them are left for later. */
  repeat(length: number, distance: number): number {
    if (distance >= this.full || distance >= this.size) {
      throw new XzDataError(`a match reaches ${distance + 1} bytes back, but only ${this.full} bytes are in the dictionary`);
    }
    const count = Math.min(this.limit - this.pos, length);
    let back = this.pos - distance - 1;
    if (distance >= this.pos) back += this.size;
    const buffer = this.buffer;
    for (let left = count; left > 0; left -= 1) {
      buffer[this.pos++] = buffer[back++]!;
      if (back === this.size) back = 0;
    }
    if (this.full < this.pos) this.full = this.pos;
    return length - count;
  }

  /** Copies an uncompressed LZMA2 chunk's bytes through the dictionary to the output; returns how many. */
  copyUncompressed(buffers: XzBuffers, left: number): number {
    const count = Math.min(left, buffers.input.length - buffers.inPos, buffers.outEnd - buffers.outPos, this.size - this.pos);
    const bytes = buffers.input.subarray(buffers.inPos, buffers.inPos + count);
    this.buffer.set(bytes, this.pos);
    this.pos += count;
    if (this.full < this.pos) this.full = this.pos;
    if (this.pos === this.size) this.pos = 0;
    buffers.output.set(bytes, buffers.outPos);
    this.start = this.pos;
    buffers.outPos += count;
    buffers.inPos += count;
    return count;
  }

  /** Copies what was decoded since the last flush to the output; returns how many bytes. */
  flush(buffers: XzBuffers): number {
    const count = this.pos - this.start;
    buffers.output.set(this.buffer.subarray(this.start, this.pos), buffers.outPos);
    if (this.pos === this.size) this.pos = 0;
    this.start = this.pos;
    buffers.outPos += count;
    return count;
  }
}
