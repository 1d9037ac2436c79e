import { crc32 } from 'node:zlib';
import { armThumbDecode } from './arm-thumb.ts';
import { Lzma2Decoder } from './lzma2-decoder.ts';
import { XzDataError, type XzBuffers } from './xz-buffers.ts';

const HEADER_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const FOOTER_MAGIC = [0x59, 0x5a];
const STREAM_HEADER_SIZE = 12;
/** A block header is at most 1024 bytes (its size byte × 4); the stream header and footer are 12. */
const HEADER_BUFFER_SIZE = 1024;
const FILTER_ARM_THUMB = 0x08;
const FILTER_LZMA2 = 0x21;
const CHECK_NONE = 0x00;
const CHECK_CRC32 = 0x01;
const CHECK_NAMES: Record<number, string> = { 0x04: 'CRC64', 0x0a: 'SHA-256' };
/** What the ARM-Thumb filter may hold back at once (the start of a 4-byte instruction pair). */
const THUMB_CARRY = 3;

type State =
  | 'stream-header' | 'block-start' | 'block-header' | 'block-data' | 'block-padding' | 'block-check'
  | 'index-count' | 'index-unpadded' | 'index-uncompressed' | 'index-padding' | 'index-crc' | 'stream-footer' | 'end';

/** What a block header announced. */
interface Block {
  headerSize: number;
  compressedSize: number | null;
  uncompressedSize: number | null;
  armThumb: { startOffset: number } | null;
  dictSize: number;
}

/**
 * Decodes one .xz stream (xz file format 1.x: stream header, blocks, index, stream footer) whose blocks use
 * LZMA2, optionally after the ARM-Thumb BCJ filter, with a dictionary no larger than `maxDictSize` (a stream
 * asking for more is refused before anything is decoded) and a CRC32 check or none. Every header, the index
 * and the footer are checked (sizes, CRC32s, padding) as xz-embedded does, and nothing may follow the stream.
 * Streams in any pieces, in bounded memory: see `memory`.
 */
export class XzDecoder {
  readonly #maxDictSize: number;
  readonly #header = new Uint8Array(HEADER_BUFFER_SIZE);
  #headerFill = 0;
  #headerNeed = STREAM_HEADER_SIZE;
  #state: State = 'stream-header';
  #checkType = CHECK_NONE;
  #lzma2: Lzma2Decoder | null = null;
  #block: Block | null = null;
  #blockCompressed = 0;
  #blockPadding = 0;
  #blockUncompressed = 0;
  #blockCrc = 0;
  readonly #carry = new Uint8Array(THUMB_CARRY);
  #carrySize = 0;
  #thumbPosition = 0;
  /** Blocks seen, and a CRC32 over their (unpadded, uncompressed) sizes, compared with the index's records. */
  #blocks = 0;
  #blockRecords = 0;
  #indexRecords = 0;
  #indexRecordsHash = 0;
  #indexCount = 0;
  #indexSize = 0;
  #indexCrc = 0;
  #indexUnpadded = 0;
  #vli = 0;
  #vliBytes = 0;

  constructor(options: { maxDictSize: number }) {
    this.#maxDictSize = options.maxDictSize;
  }

  /**
   * Bytes held now: the dictionary (allocated at the first block header, the size the stream asks for), and
   * the rest: LZMA probabilities, LZMA2's carry buffer, the header buffer and the filter's carry.
   */
  get memory(): { dictionary: number; state: number } {
    const dictionary = this.#lzma2?.dict.buffer.byteLength ?? 0;
    return { dictionary, state: (this.#lzma2?.memory ?? 0) - dictionary + this.#header.byteLength + this.#carry.byteLength };
  }

  get ended(): boolean {
    return this.#state === 'end';
  }

  /**
   * Decodes until the input is used up, the output has no room left to progress, or the stream ended
   * (then true). Throws XzDataError on anything invalid or unsupported.
   */
  run(buffers: XzBuffers): boolean {
    const input = buffers.input;
    for (;;) {
      if (this.#state === 'end') {
        if (buffers.inPos < input.length) throw new XzDataError(`${input.length - buffers.inPos} bytes after the end of the xz stream`);
        return true;
      }
      if (this.#state === 'block-data') {
        if (!this.#decodeBlockData(buffers)) return false;
        continue;
      }
      if (buffers.inPos === input.length) return false;
      switch (this.#state) {
        case 'stream-header':
          if (this.#collect(buffers)) this.#streamHeader();
          break;
        case 'block-start': {
          const size = input[buffers.inPos]!;
          if (size === 0) {
            buffers.inPos += 1;
            this.#indexByte(0);
            this.#state = 'index-count';
            break;
          }
          this.#headerNeed = (size + 1) * 4;
          this.#state = 'block-header';
          break;
        }
        case 'block-header':
          if (this.#collect(buffers)) this.#blockHeader();
          break;
        case 'block-padding':
          if ((this.#blockCompressed + this.#blockPadding) % 4 === 0) {
            this.#headerNeed = this.#checkType === CHECK_CRC32 ? 4 : 0;
            this.#state = 'block-check';
            if (this.#headerNeed === 0) this.#blockEnd();
            break;
          }
          if (input[buffers.inPos++] !== 0) throw new XzDataError('a block\'s padding is not zero');
          this.#blockPadding += 1;
          break;
        case 'block-check':
          if (this.#collect(buffers)) this.#blockEnd();
          break;
        case 'index-count':
        case 'index-unpadded':
        case 'index-uncompressed': {
          const byte = input[buffers.inPos++]!;
          this.#indexByte(byte);
          const value = this.#readVli(byte);
          if (value !== null) this.#indexValue(value);
          break;
        }
        case 'index-padding': {
          if (this.#indexSize % 4 === 0) {
            this.#headerNeed = 4;
            this.#state = 'index-crc';
            break;
          }
          const byte = input[buffers.inPos++]!;
          if (byte !== 0) throw new XzDataError('the index\'s padding is not zero');
          this.#indexByte(byte);
          break;
        }
        case 'index-crc':
          if (this.#collect(buffers)) {
            if (this.#u32(0) !== this.#indexCrc) throw new XzDataError('the index\'s CRC32 does not match');
            this.#headerNeed = STREAM_HEADER_SIZE;
            this.#state = 'stream-footer';
          }
          break;
        case 'stream-footer':
          if (this.#collect(buffers)) this.#streamFooter();
          break;
        default:
          throw new Error(`unreachable xz state ${this.#state}`);
      }
    }
  }

  /** Gathers `#headerNeed` bytes into the header buffer; true once they are all there (and resets the fill). */
  #collect(buffers: XzBuffers): boolean {
    const take = Math.min(this.#headerNeed - this.#headerFill, buffers.input.length - buffers.inPos);
    this.#header.set(buffers.input.subarray(buffers.inPos, buffers.inPos + take), this.#headerFill);
    this.#headerFill += take;
    buffers.inPos += take;
    if (this.#headerFill < this.#headerNeed) return false;
    this.#headerFill = 0;
    return true;
  }

  #u32(offset: number): number {
    const h = this.#header;
    return (h[offset]! | (h[offset + 1]! << 8) | (h[offset + 2]! << 16) | (h[offset + 3]! << 24)) >>> 0;
  }

  #streamHeader(): void {
    const h = this.#header;
    if (!HEADER_MAGIC.every((byte, index) => h[index] === byte)) throw new XzDataError('not an xz stream (no xz header magic)');
    if (crc32(h.subarray(6, 8)) !== this.#u32(8)) throw new XzDataError('the xz stream header\'s CRC32 does not match');
    const check = h[7]!;
    if (h[6] !== 0 || check > 0x0f) throw new XzDataError('the xz stream header has unknown flags');
    if (check !== CHECK_NONE && check !== CHECK_CRC32) {
      throw new XzDataError(`integrity check ${CHECK_NAMES[check] ?? `0x${check.toString(16)}`} is not supported: use CRC32 or none`);
    }
    this.#checkType = check;
    this.#state = 'block-start';
  }

  #blockHeader(): void {
    const h = this.#header;
    const size = this.#headerNeed;
    if (crc32(h.subarray(0, size - 4)) !== this.#u32(size - 4)) throw new XzDataError('a block header\'s CRC32 does not match');
    const flags = h[1]!;
    if (flags & 0x3c) throw new XzDataError('a block header has unknown flags');
    const reader = { offset: 2, end: size - 4 };
    const compressedSize = flags & 0x40 ? this.#headerVli(reader) : null;
    const uncompressedSize = flags & 0x80 ? this.#headerVli(reader) : null;
    if (compressedSize === 0) throw new XzDataError('a block announces zero compressed bytes');
    const filters: Array<{ id: number; properties: Uint8Array }> = [];
    for (let count = (flags & 0x03) + 1; count > 0; count -= 1) {
      const id = this.#headerVli(reader);
      const length = this.#headerVli(reader);
      if (reader.offset + length > reader.end) throw new XzDataError('a block header\'s filter properties overrun it');
      filters.push({ id, properties: h.subarray(reader.offset, reader.offset + length) });
      reader.offset += length;
    }
    if (h.subarray(reader.offset, reader.end).some((byte) => byte !== 0)) throw new XzDataError('a block header\'s padding is not zero');
    const last = filters.at(-1)!;
    if (last.id !== FILTER_LZMA2) throw new XzDataError(`the block's last filter is 0x${last.id.toString(16)}, not LZMA2 (0x21)`);
    let armThumb: Block['armThumb'] = null;
    for (const filter of filters.slice(0, -1)) {
      if (filter.id !== FILTER_ARM_THUMB || armThumb) throw new XzDataError(`filter 0x${filter.id.toString(16)} is not supported here: only ARM-Thumb (0x08) before LZMA2`);
      const p = filter.properties;
      if (p.length !== 0 && p.length !== 4) throw new XzDataError('the ARM-Thumb filter\'s start offset is not 0 or 4 bytes');
      const startOffset = p.length === 4 ? (p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24)) >>> 0 : 0;
      if (startOffset % 2 !== 0) throw new XzDataError('the ARM-Thumb filter\'s start offset is odd');
      armThumb = { startOffset };
    }
    if (last.properties.length !== 1) throw new XzDataError('LZMA2\'s properties are not one byte');
    const dictBits = last.properties[0]!;
    if (dictBits > 40) throw new XzDataError(`LZMA2 dictionary size byte ${dictBits} is out of range`);
    const dictSize = dictBits === 40 ? 0xffffffff : (2 | (dictBits & 1)) * 2 ** (Math.floor(dictBits / 2) + 11);
    if (dictSize > this.#maxDictSize) {
      throw new XzDataError(`the stream needs a ${dictSize}-byte LZMA2 dictionary, larger than this ECU's window of ${this.#maxDictSize} bytes`);
    }
    this.#block = { headerSize: size, compressedSize, uncompressedSize, armThumb, dictSize };
    if (this.#lzma2?.dict.size !== dictSize) this.#lzma2 = new Lzma2Decoder(dictSize);
    this.#lzma2.reset();
    this.#blockCompressed = 0;
    this.#blockPadding = 0;
    this.#blockUncompressed = 0;
    this.#blockCrc = 0;
    this.#carrySize = 0;
    this.#thumbPosition = armThumb?.startOffset ?? 0;
    this.#state = 'block-data';
  }

  #headerVli(reader: { offset: number; end: number }): number {
    this.#vli = 0;
    this.#vliBytes = 0;
    while (reader.offset < reader.end) {
      const value = this.#readVli(this.#header[reader.offset++]!);
      if (value !== null) return value;
    }
    throw new XzDataError('a block header ends inside a number');
  }

  /** One byte of a variable-length integer; the value once complete (minimal encoding, below 2^53). */
  #readVli(byte: number): number | null {
    if (this.#vliBytes > 0 && byte === 0) throw new XzDataError('a variable-length integer is not minimally encoded');
    this.#vli += (byte & 0x7f) * 2 ** (7 * this.#vliBytes);
    this.#vliBytes += 1;
    if (this.#vli > Number.MAX_SAFE_INTEGER) throw new XzDataError('a size in the xz stream is too large');
    if (byte & 0x80) return null;
    const value = this.#vli;
    this.#vli = 0;
    this.#vliBytes = 0;
    return value;
  }

  /** LZMA2 into the output, then the ARM-Thumb filter and the check over what became final; true at the block's end. */
  #decodeBlockData(buffers: XzBuffers): boolean {
    const block = this.#block!;
    const lzma2 = this.#lzma2!;
    const out = buffers.output;
    const outStart = buffers.outPos;
    if (this.#carrySize > 0) {
      if (buffers.outEnd - buffers.outPos <= this.#carrySize) return false;
      out.set(this.#carry.subarray(0, this.#carrySize), buffers.outPos);
      buffers.outPos += this.#carrySize;
      this.#carrySize = 0;
    }
    const inStart = buffers.inPos;
    const ended = lzma2.run(buffers);
    this.#blockCompressed += buffers.inPos - inStart;
    if (block.compressedSize !== null && this.#blockCompressed > block.compressedSize) {
      throw new XzDataError(`a block is longer than the ${block.compressedSize} compressed bytes its header announced`);
    }
    let final = buffers.outPos;
    if (block.armThumb) {
      const converted = armThumbDecode(out, outStart, buffers.outPos, this.#thumbPosition);
      // At the block's end the last bytes are final as they are; before it they wait for what follows.
      if (!ended) {
        final = converted;
        this.#carrySize = buffers.outPos - final;
        this.#carry.set(out.subarray(final, buffers.outPos));
        buffers.outPos = final;
      }
      this.#thumbPosition += final - outStart;
    }
    if (final > outStart) {
      this.#blockCrc = crc32(out.subarray(outStart, final), this.#blockCrc);
      this.#blockUncompressed += final - outStart;
    }
    if (block.uncompressedSize !== null && this.#blockUncompressed > block.uncompressedSize) {
      throw new XzDataError(`a block decodes to more than the ${block.uncompressedSize} bytes its header announced`);
    }
    if (!ended) return false;
    if (block.compressedSize !== null && this.#blockCompressed !== block.compressedSize) {
      throw new XzDataError(`a block has ${this.#blockCompressed} compressed bytes, its header announced ${block.compressedSize}`);
    }
    if (block.uncompressedSize !== null && this.#blockUncompressed !== block.uncompressedSize) {
      throw new XzDataError(`a block decoded to ${this.#blockUncompressed} bytes, its header announced ${block.uncompressedSize}`);
    }
    this.#state = 'block-padding';
    return true;
  }

  #blockEnd(): void {
    if (this.#checkType === CHECK_CRC32 && this.#u32(0) !== this.#blockCrc) throw new XzDataError('a block\'s CRC32 of the decoded data does not match');
    const block = this.#block!;
    const unpadded = block.headerSize + this.#blockCompressed + (this.#checkType === CHECK_CRC32 ? 4 : 0);
    this.#blocks += 1;
    this.#blockRecords = crc32(`${unpadded}:${this.#blockUncompressed};`, this.#blockRecords);
    this.#block = null;
    this.#state = 'block-start';
  }

  #indexByte(byte: number): void {
    this.#indexCrc = crc32(Uint8Array.of(byte), this.#indexCrc);
    this.#indexSize += 1;
  }

  #indexValue(value: number): void {
    if (this.#state === 'index-count') {
      if (value !== this.#blocks) throw new XzDataError(`the index lists ${value} blocks, the stream has ${this.#blocks}`);
      this.#indexCount = value;
    } else if (this.#state === 'index-unpadded') {
      this.#indexUnpadded = value;
      this.#state = 'index-uncompressed';
      return;
    } else {
      this.#indexRecordsHash = crc32(`${this.#indexUnpadded}:${value};`, this.#indexRecordsHash);
      this.#indexRecords += 1;
    }
    if (this.#indexRecords < this.#indexCount) {
      this.#state = 'index-unpadded';
      return;
    }
    if (this.#indexRecordsHash !== this.#blockRecords) throw new XzDataError('the index\'s block sizes do not match the blocks');
    this.#state = 'index-padding';
  }

  #streamFooter(): void {
    const h = this.#header;
    if (crc32(h.subarray(4, 10)) !== this.#u32(0)) throw new XzDataError('the xz stream footer\'s CRC32 does not match');
    // Backward Size counts the whole index, its CRC32 included.
    if ((this.#u32(4) + 1) * 4 !== this.#indexSize + 4) throw new XzDataError('the stream footer\'s index size does not match the index');
    if (h[8] !== 0 || h[9] !== this.#checkType) throw new XzDataError('the stream footer\'s flags differ from the header\'s');
    if (h[10] !== FOOTER_MAGIC[0] || h[11] !== FOOTER_MAGIC[1]) throw new XzDataError('the xz stream footer has no magic');
    this.#state = 'end';
  }
}
