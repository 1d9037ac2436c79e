import { ZStream, Z_BUF_ERROR, Z_NO_FLUSH, Z_OK, Z_STREAM_END, zlibInflate, zlibInflateEnd, zlibInflateInit2 } from 'pako';
import { FlashError, type BankWriter } from './flash-banks.ts';

/** Smallest and largest deflate window (zlib's windowBits 9-15: 512 B to 32 KiB). */
export const MIN_WINDOW = 512;
export const MAX_WINDOW = 32 * 1024;
/** Decompressed bytes handed to the flash at a time: one flash page buffer. */
export const DEFAULT_PAGE_SIZE = 4096;

/** What a decoder held at most while the image went through it, in bytes, and of what. */
export interface DecoderMemory {
  /** The whole working memory: window + tables + page buffer (+ whatever else the decoder allocated). */
  peak: number;
  window: number;
  tables: number;
  page: number;
}

/**
 * Decompresses a zlib stream (RFC 1950) into the inactive bank as its blocks arrive, in memory a
 * microcontroller has: the deflate window (at most `window` bytes; a stream whose header asks for more is
 * refused), the inflater's Huffman tables (~7 KiB) and one page of output. It is zlib's own algorithm and
 * API (pako's port of it): the same streaming loop runs on an ECU with zlib or miniz. The TransferData
 * block itself is the transport's buffer and not counted.
 *
 * The stream must end (deflate's last block and the Adler-32 trailer) exactly with the image: nothing
 * after it, nothing missing; the image's length and SHA-256 are still checked by the BankWriter and 0xFF01.
 */
export class InflatingWriter {
  readonly #writer: BankWriter;
  readonly #stream = new ZStream();
  readonly #page: Uint8Array<ArrayBuffer>;
  #ended = false;
  #memory: DecoderMemory;

  constructor(writer: BankWriter, options: { window: number; pageSize?: number }) {
    const windowBits = Math.log2(options.window);
    if (!Number.isInteger(windowBits) || options.window < MIN_WINDOW || options.window > MAX_WINDOW) {
      throw new FlashError(`a deflate window is a power of two from ${MIN_WINDOW} to ${MAX_WINDOW} bytes, not ${options.window}`);
    }
    this.#writer = writer;
    this.#page = new Uint8Array(options.pageSize ?? DEFAULT_PAGE_SIZE);
    // Positive windowBits: the zlib format, whose header names the window and whose trailer is an Adler-32.
    if (zlibInflateInit2(this.#stream, windowBits) !== Z_OK) throw new FlashError(`cannot start the inflater: ${this.#stream.msg}`);
    this.#memory = { peak: 0, window: 0, tables: 0, page: this.#page.byteLength };
    this.#measure();
  }

  /** Image bytes written so far. */
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
    if (this.#ended) throw new FlashError('data after the end of the compressed image');
    const stream = this.#stream;
    stream.input = block;
    stream.next_in = 0;
    stream.avail_in = block.length;
    let produced = 0;
    for (;;) {
      stream.output = this.#page;
      stream.next_out = 0;
      stream.avail_out = this.#page.length;
      const status = zlibInflate(stream, Z_NO_FLUSH);
      if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
        throw new FlashError(`the compressed image is corrupt: ${stream.msg || `inflate status ${status}`}`);
      }
      this.#measure();
      const count = this.#page.length - stream.avail_out;
      if (count > 0) {
        // Awaited before the page is reused: never more than one page of output in memory.
        await this.#writer.write(this.#page.subarray(0, count));
        produced += count;
      }
      if (status === Z_STREAM_END) {
        this.#ended = true;
        if (stream.avail_in > 0) throw new FlashError(`${stream.avail_in} bytes after the end of the compressed image`);
        break;
      }
      // Output space left means the inflater ran out of input: the block is used up.
      if (stream.avail_out > 0) break;
    }
    stream.input = new Uint8Array(0);
    return produced;
  }

  /** The stream must have ended, and the BankWriter must have exactly the announced size. */
  async finish(): Promise<string> {
    if (!this.#ended) {
      await this.abort();
      throw new FlashError(`the compressed image ended early (${this.#writer.written} of ${this.#writer.size} bytes)`);
    }
    zlibInflateEnd(this.#stream);
    return this.#writer.finish();
  }

  async abort(): Promise<void> {
    zlibInflateEnd(this.#stream);
    await this.#writer.abort();
  }

  /**
   * Adds up the typed arrays the inflater holds right now (the window is allocated at the first output; the
   * fixed Huffman tables are shared constants, ROM on a microcontroller, and not counted).
   */
  #measure(): void {
    const state = this.#stream.state as Record<string, unknown> | null;
    if (!state) return;
    const own = new Set<ArrayBufferLike>();
    let window = 0;
    let tables = 0;
    for (const [name, value] of Object.entries(state)) {
      if (!ArrayBuffer.isView(value) || own.has(value.buffer)) continue;
      if ((name === 'lencode' || name === 'distcode') && !isDynamicTable(state, value)) continue;
      own.add(value.buffer);
      if (name === 'window') window += value.buffer.byteLength;
      else tables += value.buffer.byteLength;
    }
    const total = window + tables + this.#page.byteLength;
    if (total > this.#memory.peak) this.#memory = { peak: total, window, tables, page: this.#page.byteLength };
  }
}

function isDynamicTable(state: Record<string, unknown>, table: ArrayBufferView): boolean {
  return [state['lendyn'], state['distdyn']].some((dynamic) => ArrayBuffer.isView(dynamic) && dynamic.buffer === table.buffer);
}
