import { LzDictionary } from './lz-dictionary.ts';
import { LZMA_IN_REQUIRED, LzmaDecoder, RC_INIT_BYTES } from './lzma-decoder.ts';
import { XzDataError, type XzBuffers } from './xz-buffers.ts';

type Sequence =
  | 'control' | 'uncompressed-1' | 'uncompressed-2' | 'compressed-0' | 'compressed-1'
  | 'properties' | 'lzma-prepare' | 'lzma-run' | 'copy';

/**
 * LZMA2 (the xz format's filter 0x21): a sequence of chunks, each LZMA-compressed or stored, with resets of
 * the dictionary, the state or the properties between them. Streams in any pieces: a symbol is only decoded
 * with LZMA_IN_REQUIRED bytes at hand, and the few bytes of a chunk at the end of one input wait in a
 * 63-byte buffer for the next (xz-embedded's design, which bounds memory to the dictionary, the
 * probabilities and that buffer).
 */
export class Lzma2Decoder {
  readonly dict: LzDictionary;
  readonly #lzma: LzmaDecoder;
  /** A chunk's bytes carried from one input to the next (3 × LZMA_IN_REQUIRED, zero-padded at a chunk's end). */
  readonly #temp = new Uint8Array(3 * LZMA_IN_REQUIRED);
  #tempSize = 0;
  #sequence: Sequence = 'control';
  #next: Sequence = 'control';
  #uncompressed = 0;
  #compressed = 0;
  #needDictReset = true;
  #needProperties = true;

  constructor(dictSize: number) {
    this.dict = new LzDictionary(dictSize);
    this.#lzma = new LzmaDecoder(this.dict);
  }

  /** Bytes this decoder holds: dictionary, probabilities, carry buffer. */
  get memory(): number {
    return this.dict.buffer.byteLength + this.#lzma.probabilities.byteLength + this.#temp.byteLength;
  }

  /** Back to the start of a stream (a new xz block). */
  reset(): void {
    this.#sequence = 'control';
    this.#needDictReset = true;
    this.#needProperties = true;
    this.#tempSize = 0;
    this.dict.reset();
    this.#lzma.resetRangeDecoder();
  }

  /** Decodes what the buffers allow; true once the LZMA2 end marker was read. */
  run(buffers: XzBuffers): boolean {
    const input = buffers.input;
    while (buffers.inPos < input.length || this.#sequence === 'lzma-run') {
      switch (this.#sequence) {
        case 'control': {
          const control = input[buffers.inPos++]!;
          if (control === 0x00) return true;
          if (control >= 0xe0 || control === 0x01) {
            this.#needProperties = true;
            this.#needDictReset = false;
            this.dict.reset();
          } else if (this.#needDictReset) {
            throw new XzDataError('the first LZMA2 chunk does not reset the dictionary');
          }
          if (control >= 0x80) {
            this.#uncompressed = (control & 0x1f) << 16;
            this.#sequence = 'uncompressed-1';
            if (control >= 0xc0) {
              this.#needProperties = false;
              this.#next = 'properties';
            } else if (this.#needProperties) {
              throw new XzDataError('an LZMA2 chunk needs properties it does not carry');
            } else {
              this.#next = 'lzma-prepare';
              if (control >= 0xa0) this.#lzma.resetState();
            }
          } else {
            if (control > 0x02) throw new XzDataError(`invalid LZMA2 control byte 0x${control.toString(16)}`);
            this.#sequence = 'compressed-0';
            this.#next = 'copy';
          }
          break;
        }
        case 'uncompressed-1':
          this.#uncompressed += input[buffers.inPos++]! << 8;
          this.#sequence = 'uncompressed-2';
          break;
        case 'uncompressed-2':
          this.#uncompressed += input[buffers.inPos++]! + 1;
          this.#sequence = 'compressed-0';
          break;
        case 'compressed-0':
          this.#compressed = input[buffers.inPos++]! << 8;
          this.#sequence = 'compressed-1';
          break;
        case 'compressed-1':
          this.#compressed += input[buffers.inPos++]! + 1;
          this.#sequence = this.#next;
          break;
        case 'properties':
          this.#lzma.setProperties(input[buffers.inPos++]!);
          this.#sequence = 'lzma-prepare';
          break;
        case 'lzma-prepare':
          if (this.#compressed < RC_INIT_BYTES) throw new XzDataError('an LZMA2 chunk is shorter than its range coder\'s start');
          if (!this.#lzma.readInit(input, buffers)) return false;
          this.#compressed -= RC_INIT_BYTES;
          this.#sequence = 'lzma-run';
          break;
        case 'lzma-run': {
          this.dict.setLimit(Math.min(buffers.outEnd - buffers.outPos, this.#uncompressed));
          this.#decodeLzma(buffers);
          this.#uncompressed -= this.dict.flush(buffers);
          if (this.#uncompressed === 0) {
            if (this.#compressed > 0 || this.#lzma.pendingLength > 0 || !this.#lzma.finished) {
              throw new XzDataError('an LZMA2 chunk\'s compressed and uncompressed sizes do not agree with its data');
            }
            this.#lzma.resetRangeDecoder();
            this.#sequence = 'control';
          } else if (buffers.outPos === buffers.outEnd || (buffers.inPos === input.length && this.#tempSize < this.#compressed)) {
            return false;
          }
          break;
        }
        case 'copy':
          this.#compressed -= this.dict.copyUncompressed(buffers, this.#compressed);
          if (this.#compressed > 0) return false;
          this.#sequence = 'control';
          break;
      }
    }
    return false;
  }

  /** Runs the LZMA decoder on the chunk's bytes: from the carry buffer first, then straight from the input. */
  #decodeLzma(buffers: XzBuffers): void {
    const lzma = this.#lzma;
    const temp = this.#temp;
    let available = buffers.input.length - buffers.inPos;
    if (this.#tempSize > 0 || this.#compressed === 0) {
      const take = Math.min(2 * LZMA_IN_REQUIRED - this.#tempSize, this.#compressed - this.#tempSize, available);
      temp.set(buffers.input.subarray(buffers.inPos, buffers.inPos + take), this.#tempSize);
      const filled = this.#tempSize + take;
      if (filled === this.#compressed) {
        temp.fill(0, filled);
        lzma.inLimit = filled;
      } else if (filled < LZMA_IN_REQUIRED) {
        this.#tempSize = filled;
        buffers.inPos += take;
        return;
      } else {
        lzma.inLimit = filled - LZMA_IN_REQUIRED;
      }
      lzma.input = temp;
      lzma.inPos = 0;
      lzma.run();
      if (lzma.inPos > filled) throw new XzDataError('an LZMA chunk\'s data runs past its compressed size');
      this.#compressed -= lzma.inPos;
      if (lzma.inPos < this.#tempSize) {
        this.#tempSize -= lzma.inPos;
        temp.copyWithin(0, lzma.inPos, lzma.inPos + this.#tempSize);
        return;
      }
      buffers.inPos += lzma.inPos - this.#tempSize;
      this.#tempSize = 0;
    }
    available = buffers.input.length - buffers.inPos;
    if (available >= LZMA_IN_REQUIRED) {
      lzma.input = buffers.input;
      lzma.inPos = buffers.inPos;
      lzma.inLimit = available >= this.#compressed + LZMA_IN_REQUIRED ? buffers.inPos + this.#compressed : buffers.input.length - LZMA_IN_REQUIRED;
      lzma.run();
      const used = lzma.inPos - buffers.inPos;
      if (used > this.#compressed) throw new XzDataError('an LZMA chunk\'s data runs past its compressed size');
      this.#compressed -= used;
      buffers.inPos = lzma.inPos;
    }
    available = buffers.input.length - buffers.inPos;
    if (available < LZMA_IN_REQUIRED) {
      const keep = Math.min(available, this.#compressed);
      temp.set(buffers.input.subarray(buffers.inPos, buffers.inPos + keep));
      this.#tempSize = keep;
      buffers.inPos += keep;
    }
  }
}
