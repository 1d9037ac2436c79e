import { open, type FileHandle } from 'node:fs/promises';
import { FlashError, type BankWriter } from './flash-banks.ts';
import { VcdiffDecoder, VcdiffError, type VcdiffMemory } from './vcdiff-decoder.ts';

/** The smallest target window xdelta3 makes (`-W 16384`), and the bootloader's default. */
export const DEFAULT_DELTA_WINDOW = 16 * 1024;

/**
 * The application header a canota delta carries (xdelta3 `-A base-sha256=<hex>`): which image it was made
 * from, so the ECU can refuse a delta for another base before it writes a byte.
 */
export const BASE_HEADER_PREFIX = 'base-sha256=';

export function baseApplicationHeader(baseSha256: string): string {
  return `${BASE_HEADER_PREFIX}${baseSha256}`;
}

/** The delta was made from another image than the one the ECU runs: nothing was written, the bank is still erased. */
export class DeltaBaseMismatchError extends FlashError {
  override name = 'DeltaBaseMismatchError';
}

/** The image the ECU runs, which the delta is applied against. */
export interface DeltaBase {
  path: string;
  size: number;
  sha256: string;
}

export interface PatchingWriterOptions {
  base: DeltaBase;
  /** Starts programming the inactive bank; called only once the delta's header named the right base. */
  begin: () => Promise<BankWriter>;
  /** Size of the image the delta makes (memorySize, the grant's size). */
  size: number;
  /** The largest target window the bootloader keeps (xdelta3 `-W`). */
  window: number;
}

/**
 * Applies a VCDIFF delta (RFC 3284, as xdelta3 -S none makes it) to the running image while the new image
 * goes into the inactive bank: the bootloader's side of dataFormatIdentifier 0x30. The running (active)
 * bank is only read, a COPY at a time, straight into the target window; each rebuilt window is written to
 * the bank before the next one is decoded. The bank is opened for programming only after the delta's
 * header named the running image as its base, so a delta for another base leaves the bank erased and the
 * tester can send the full image in the same session. The result is checked like any other download (the
 * BankWriter's size and SHA-256, then 0xFF01).
 */
export class PatchingWriter {
  readonly #options: PatchingWriterOptions;
  readonly #decoder: VcdiffDecoder;
  #base: FileHandle | null = null;
  #bank: BankWriter | null = null;
  #ended = false;

  constructor(options: PatchingWriterOptions) {
    this.#options = options;
    this.#decoder = new VcdiffDecoder({
      maxTargetWindow: options.window,
      targetSize: options.size,
      source: { size: options.base.size, read: (into, position) => this.#readBase(into, position) },
      onHeader: (appHeader) => this.#checkBase(appHeader),
      onWindow: async (target) => {
        this.#bank ??= await options.begin();
        await this.#bank.write(target);
      },
    });
  }

  /** Image bytes written to the bank so far. */
  get written(): number {
    return this.#bank?.written ?? 0;
  }

  get size(): number {
    return this.#options.size;
  }

  /** The decoder's working memory (fixed when it is made). */
  get memory(): VcdiffMemory {
    return this.#decoder.memory;
  }

  /** Decodes one TransferData block into the bank; returns the image bytes it made. */
  async write(block: Uint8Array): Promise<number> {
    if (this.#ended) throw new FlashError('the delta download has ended');
    const before = this.written;
    try {
      await this.#decoder.push(block);
    } catch (error) {
      if (error instanceof VcdiffError) throw new FlashError(`the delta cannot be applied: ${error.message}`);
      throw error;
    }
    return this.written - before;
  }

  /** The delta must be complete, and have made exactly the announced image; returns its SHA-256. */
  async finish(): Promise<string> {
    try {
      this.#decoder.finish();
    } catch (error) {
      await this.abort();
      throw new FlashError(`the delta cannot be applied: ${(error as Error).message} (${this.written} of ${this.size} bytes made)`);
    }
    const bank = this.#bank;
    if (!bank) throw new FlashError('the delta made no image');
    this.#ended = true;
    await this.#closeBase();
    return bank.finish();
  }

  async abort(): Promise<void> {
    this.#ended = true;
    await this.#closeBase();
    await this.#bank?.abort();
  }

  #checkBase(appHeader: Uint8Array | null): void {
    const text = appHeader ? Buffer.from(appHeader).toString('latin1') : '';
    if (!text.startsWith(BASE_HEADER_PREFIX)) {
      throw new VcdiffError(`the delta does not name its base image (an application header ${BASE_HEADER_PREFIX}<sha256> is required)`);
    }
    const named = text.slice(BASE_HEADER_PREFIX.length);
    if (named !== this.#options.base.sha256) {
      throw new DeltaBaseMismatchError(`the delta was made from the image ${named.slice(0, 64)}, but this ECU runs ${this.#options.base.sha256}`);
    }
  }

  async #readBase(into: Uint8Array, position: number): Promise<void> {
    this.#base ??= await open(this.#options.base.path, 'r');
    const { bytesRead } = await this.#base.read(into, 0, into.length, position);
    if (bytesRead !== into.length) throw new FlashError(`the running image ended at ${position + bytesRead} bytes while the delta copies from it`);
  }

  async #closeBase(): Promise<void> {
    const base = this.#base;
    this.#base = null;
    await base?.close();
  }
}
