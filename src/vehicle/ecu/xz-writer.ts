import { FlashError, type BankWriter } from './flash-banks.ts';
import { DEFAULT_PAGE_SIZE, type DecoderMemory } from './inflating-writer.ts';
import { XzDataError, type XzBuffers } from './xz/xz-buffers.ts';
import { XzDecoder } from './xz/xz-decoder.ts';

/** LZMA2's smallest dictionary is 4 KiB: a smaller window cannot take an xz stream at all. */
export const MIN_XZ_WINDOW = 4096;
/** The page must hold the ARM-Thumb filter's held-back bytes and still make progress. */
const MIN_PAGE_SIZE = 64;

/**
 * Decompresses an .xz stream (ARM-Thumb BCJ + LZMA2, CRC32 or no check: dataFormatIdentifier 0x20) into the
 * inactive bank as its blocks arrive, in memory a microcontroller has: the LZMA2 dictionary (at most
 * `window` bytes; a stream whose block header asks for more is refused before anything is decoded), the
 * LZMA probabilities (28 268 bytes), a 1 KiB header buffer and one page of output. The decoder (./xz/) is
 * written to the xz file format specification with xz-embedded's structure, the decoder Linux and U-Boot
 * use in their bootloaders. The TransferData block itself is the transport's buffer and not counted.
 *
 * The stream must end (index and footer) exactly with the last block: nothing after it, nothing missing;
 * the image's length and SHA-256 are still checked by the BankWriter and 0xFF01.
 */
export class XzWriter {
  readonly #writer: BankWriter;
  readonly #decoder: XzDecoder;
  readonly #page: Uint8Array;
  #memory: DecoderMemory;

  constructor(writer: BankWriter, options: { window: number; pageSize?: number }) {
    if (!Number.isInteger(options.window) || options.window < MIN_XZ_WINDOW) {
      throw new FlashError(`an xz window is a whole number of bytes from ${MIN_XZ_WINDOW}, not ${options.window}`);
    }
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < MIN_PAGE_SIZE) throw new FlashError(`an xz output page holds at least ${MIN_PAGE_SIZE} bytes, not ${pageSize}`);
    this.#writer = writer;
    this.#decoder = new XzDecoder({ maxDictSize: options.window });
    this.#page = new Uint8Array(pageSize);
    this.#memory = { peak: 0, window: 0, tables: 0, page: pageSize };
    this.#measure();
  }

  get written(): number {
    return this.#writer.written;
  }

  get size(): number {
    return this.#writer.size;
  }

  /** The most the decoder held at once so far. */
  get memory(): DecoderMemory {
    return { ...this.#memory };
  }

  /** Decompresses one block into the bank, a page at a time; returns the image bytes it produced. */
  async write(block: Uint8Array): Promise<number> {
    const buffers: XzBuffers = { input: block, inPos: 0, output: this.#page, outPos: 0, outEnd: this.#page.length };
    let produced = 0;
    for (;;) {
      buffers.outPos = 0;
      let ended: boolean;
      try {
        ended = this.#decoder.run(buffers);
      } catch (error) {
        if (error instanceof XzDataError) throw new FlashError(`the compressed image is corrupt: ${error.message}`);
        throw error;
      }
      this.#measure();
      if (buffers.outPos > 0) {
        // Awaited before the page is reused: never more than one page of output in memory.
        await this.#writer.write(this.#page.subarray(0, buffers.outPos));
        produced += buffers.outPos;
      }
      if (ended) break;
      // Input used up and room left in the page: the decoder waits for the next block. (A page with only a
      // few bytes free may have stopped it instead, so it gets another, empty page.)
      if (buffers.inPos === block.length && buffers.outPos < buffers.outEnd - MIN_PAGE_SIZE) break;
    }
    return produced;
  }

  /** The stream must have ended, and the BankWriter must have exactly the announced size. */
  async finish(): Promise<string> {
    if (!this.#decoder.ended) {
      await this.abort();
      throw new FlashError(`the compressed image ended early (${this.#writer.written} of ${this.#writer.size} bytes)`);
    }
    return this.#writer.finish();
  }

  async abort(): Promise<void> {
    await this.#writer.abort();
  }

  #measure(): void {
    const { dictionary, state } = this.#decoder.memory;
    const total = dictionary + state + this.#page.byteLength;
    if (total > this.#memory.peak) this.#memory = { peak: total, window: dictionary, tables: state, page: this.#page.byteLength };
  }
}
