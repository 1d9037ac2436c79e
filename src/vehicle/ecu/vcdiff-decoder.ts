import { ADDRESS_MODES, DEFAULT_CODE_TABLE, NEAR_CACHE_SIZE, SAME_CACHE_SIZE, VcdiffInstruction } from './vcdiff-code-table.ts';

/**
 * A streaming VCDIFF decoder (RFC 3284) for a bootloader: it takes the delta in pieces of any size, decodes
 * it one target window at a time, and reads the source (the image the ECU runs) on demand from flash, never
 * whole. Its RAM is fixed when it is made and does not grow with the image:
 *
 * - the target window being rebuilt (at most `maxTargetWindow` bytes; a COPY inside the window reads back
 *   from it);
 * - the encoded delta window (its data, instruction and address sections must all be at hand: at most
 *   `maxDeltaWindow` bytes, plus the window header);
 * - the address caches of RFC 3284 §5.1 (4 near + 3 × 256 same addresses, 32-bit each).
 *
 * The default code table is a constant (ROM). What it decodes is what Debian's xdelta3 writes with
 * `-S none` (no secondary compression): the standard format, plus two xdelta3 extensions every xdelta3
 * decoder knows: an application header (Hdr_Indicator 0x04), and an Adler-32 of each target window
 * (Win_Indicator 0x04), which this decoder requires and checks. Custom code tables, secondary compression,
 * windows without an Adler-32 and windows copying from earlier target output (VCD_TARGET) are refused.
 */
export interface VcdiffSource {
  /** Bytes in the source (the image the delta was made against). */
  readonly size: number;
  /** Fills `into` with the source's bytes from `position` (never past `size`). */
  read(into: Uint8Array, position: number): Promise<void>;
}

export interface VcdiffDecoderOptions {
  source: VcdiffSource;
  /** The largest target window accepted (xdelta3's `-W`). */
  maxTargetWindow: number;
  /** The largest encoded delta window accepted. Default twice the target window. */
  maxDeltaWindow?: number;
  /** The largest application header accepted. Default 256 bytes. */
  maxAppHeader?: number;
  /**
   * The size the rebuilt image must have (the download's memorySize): a window past it is refused at once,
   * an end short of it at finish(). Without it, a damaged header that swallows whole windows could end in a
   * shorter image whose every remaining window checks out.
   */
  targetSize?: number;
  /** Called once the file header is read, with its application header (null: none); may throw to refuse. */
  onHeader?: (appHeader: Uint8Array | null) => void;
  /** Called with each decoded (and checksum-verified) target window; the buffer is reused afterwards. */
  onWindow: (target: Uint8Array) => Promise<void>;
}

export class VcdiffError extends Error {
  override name = 'VcdiffError';
}

/**
 * What the decoder holds, in bytes, fixed at construction; in the terms of the inflater's DecoderMemory too
 * (`tables`: the address caches; `page`: 0, the target window is written to flash as it is).
 */
export interface VcdiffMemory {
  peak: number;
  window: number;
  deltaWindow: number;
  addressCache: number;
  tables: number;
  page: number;
}

const MAGIC = [0xd6, 0xc3, 0xc4, 0x00];
const HDR_DECOMPRESS = 0x01;
const HDR_CODETABLE = 0x02;
const HDR_APPHEADER = 0x04;
const WIN_SOURCE = 0x01;
const WIN_TARGET = 0x02;
const WIN_ADLER32 = 0x04;
/** Indicator + three integers before the delta encoding: the most a window header takes before its encoding. */
const WINDOW_PREFIX_MAX = 1 + 3 * 5;
const MAX_INTEGER = 0xffff_ffff;

/** Reading past the bytes at hand: wait for more input (not an error while the stream goes on). */
class NeedMore extends Error {}

export class VcdiffDecoder {
  readonly #options: VcdiffDecoderOptions;
  readonly #maxDeltaWindow: number;
  readonly #maxAppHeader: number;
  /** Encoded bytes waiting to be decoded: at most one window's. */
  readonly #input: Uint8Array;
  #inputLength = 0;
  readonly #target: Uint8Array;
  readonly #near = new Uint32Array(NEAR_CACHE_SIZE);
  readonly #same = new Uint32Array(SAME_CACHE_SIZE * 256);
  #nextNear = 0;
  #headerDone = false;
  #windows = 0;
  /** Target bytes rebuilt so far. */
  #produced = 0;
  #targetBytes = 0;

  constructor(options: VcdiffDecoderOptions) {
    if (!Number.isSafeInteger(options.maxTargetWindow) || options.maxTargetWindow <= 0) {
      throw new VcdiffError(`the target window limit must be a positive byte count, not ${options.maxTargetWindow}`);
    }
    this.#options = options;
    this.#maxDeltaWindow = options.maxDeltaWindow ?? 2 * options.maxTargetWindow;
    this.#maxAppHeader = options.maxAppHeader ?? 256;
    this.#target = new Uint8Array(options.maxTargetWindow);
    const headerRoom = Math.max(5 + 1 + 5 + this.#maxAppHeader, WINDOW_PREFIX_MAX);
    this.#input = new Uint8Array(headerRoom + this.#maxDeltaWindow);
  }

  get memory(): VcdiffMemory {
    const addressCache = this.#near.byteLength + this.#same.byteLength;
    return {
      peak: this.#target.byteLength + this.#input.byteLength + addressCache,
      window: this.#target.byteLength,
      deltaWindow: this.#input.byteLength,
      addressCache,
      tables: addressCache,
      page: 0,
    };
  }

  /** Target bytes decoded so far. */
  get decoded(): number {
    return this.#targetBytes;
  }

  /** Decodes what `bytes` completes; keeps an unfinished window's bytes for the next call. */
  async push(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      const room = this.#input.length - this.#inputLength;
      if (room === 0) throw new VcdiffError(`a delta window is larger than the ${this.#maxDeltaWindow} bytes this ECU decodes`);
      const take = Math.min(room, bytes.length - offset);
      this.#input.set(bytes.subarray(offset, offset + take), this.#inputLength);
      this.#inputLength += take;
      offset += take;
      await this.#decodeAvailable();
    }
  }

  /** The delta must end after a whole window, with at least one window behind it. */
  finish(): void {
    if (!this.#headerDone) throw new VcdiffError('the delta ended inside its VCDIFF header');
    if (this.#inputLength > 0) throw new VcdiffError(`the delta ended inside window ${this.#windows} (${this.#inputLength} bytes of it)`);
    if (this.#windows === 0) throw new VcdiffError('the delta holds no window');
    const expected = this.#options.targetSize;
    if (expected !== undefined && this.#produced !== expected) {
      throw new VcdiffError(`the delta made ${this.#produced} bytes, the image has ${expected}`);
    }
  }

  async #decodeAvailable(): Promise<void> {
    let start = 0;
    try {
      for (;;) {
        const reader = new ByteReader(this.#input, start, this.#inputLength);
        if (!this.#headerDone) {
          this.#readHeader(reader);
          this.#headerDone = true;
        } else {
          if (reader.remaining === 0) break;
          await this.#decodeWindow(reader);
        }
        start = reader.position;
      }
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
    }
    // Keep the unfinished rest at the front of the buffer.
    this.#input.copyWithin(0, start, this.#inputLength);
    this.#inputLength -= start;
  }

  #readHeader(reader: ByteReader): void {
    for (const expected of MAGIC) {
      if (reader.byte() !== expected) throw new VcdiffError('not a VCDIFF delta (RFC 3284 magic D6 C3 C4 00 missing)');
    }
    const indicator = reader.byte();
    if (indicator & HDR_DECOMPRESS) throw new VcdiffError('the delta uses secondary compression; make it with xdelta3 -S none');
    if (indicator & HDR_CODETABLE) throw new VcdiffError('the delta uses its own code table; only the default one is supported');
    if (indicator & ~(HDR_DECOMPRESS | HDR_CODETABLE | HDR_APPHEADER)) {
      throw new VcdiffError(`unknown VCDIFF header indicator bits 0x${indicator.toString(16)}`);
    }
    let appHeader: Uint8Array | null = null;
    if (indicator & HDR_APPHEADER) {
      const length = reader.integer();
      if (length > this.#maxAppHeader) throw new VcdiffError(`an application header of ${length} bytes (at most ${this.#maxAppHeader})`);
      appHeader = reader.bytes(length).slice();
    }
    this.#options.onHeader?.(appHeader);
  }

  async #decodeWindow(reader: ByteReader): Promise<void> {
    const number = this.#windows;
    const indicator = reader.byte();
    if (indicator & WIN_TARGET) throw new VcdiffError(`window ${number} copies from earlier output (VCD_TARGET), which is not supported`);
    if (indicator & ~(WIN_SOURCE | WIN_TARGET | WIN_ADLER32)) throw new VcdiffError(`window ${number}: unknown indicator bits 0x${indicator.toString(16)}`);
    // Every window must prove its bytes: a delta whose windows are not checked (xdelta3 -n), or a damaged
    // delta that parses as one, would otherwise write unverified bytes into the bank.
    if (!(indicator & WIN_ADLER32)) throw new VcdiffError(`window ${number} carries no Adler-32: this ECU takes only deltas whose windows are checked`);
    let sourceLength = 0;
    let sourcePosition = 0;
    if (indicator & WIN_SOURCE) {
      sourceLength = reader.integer();
      sourcePosition = reader.integer();
      if (sourcePosition + sourceLength > this.#options.source.size) {
        throw new VcdiffError(`window ${number} copies bytes ${sourcePosition}-${sourcePosition + sourceLength} of a ${this.#options.source.size}-byte base image`);
      }
    }
    const encodingLength = reader.integer();
    if (encodingLength > this.#maxDeltaWindow) {
      throw new VcdiffError(`window ${number} is ${encodingLength} bytes encoded, more than the ${this.#maxDeltaWindow} this ECU decodes`);
    }
    const encoding = new ByteReader(reader.buffer, reader.position, reader.position + encodingLength);
    if (reader.remaining < encodingLength) {
      // Its header is in; the rest of it must fit what is left of the buffer once moved to the front.
      throw new NeedMore();
    }
    reader.skip(encodingLength);
    try {
      await this.#decodeEncoding(number, indicator, encoding, sourceLength, sourcePosition);
    } catch (error) {
      if (error instanceof NeedMore) throw new VcdiffError(`window ${number} is malformed: its encoding ends early`);
      throw error;
    }
  }

  async #decodeEncoding(number: number, indicator: number, encoding: ByteReader, sourceLength: number, sourcePosition: number): Promise<void> {
    const encodingLength = encoding.remaining;
    const targetLength = encoding.integer();
    if (targetLength > this.#target.length) {
      throw new VcdiffError(`window ${number} makes ${targetLength} bytes, more than the ${this.#target.length}-byte window this ECU keeps`);
    }
    const deltaIndicator = encoding.byte();
    if (deltaIndicator !== 0) throw new VcdiffError(`window ${number} has compressed sections (Delta_Indicator 0x${deltaIndicator.toString(16)}); make it with xdelta3 -S none`);
    const dataLength = encoding.integer();
    const instLength = encoding.integer();
    const addrLength = encoding.integer();
    let checksum: number | null = null;
    if (indicator & WIN_ADLER32) checksum = encoding.uint32();
    if (encoding.remaining !== dataLength + instLength + addrLength) {
      throw new VcdiffError(`window ${number}: its sections (${dataLength} + ${instLength} + ${addrLength} bytes) do not fill its ${encodingLength}-byte encoding`);
    }
    const data = new ByteReader(encoding.buffer, encoding.position, encoding.position + dataLength);
    const inst = new ByteReader(encoding.buffer, data.end, data.end + instLength);
    const addr = new ByteReader(encoding.buffer, inst.end, inst.end + addrLength);
    const target = this.#target.subarray(0, targetLength);
    await this.#runInstructions({ number, target, data, inst, addr, sourceLength, sourcePosition });
    if (checksum !== null && adler32(target) !== checksum) {
      throw new VcdiffError(`window ${number}: the rebuilt bytes fail their Adler-32: the base image is not the one the delta was made from, or the delta is corrupt`);
    }
    const expected = this.#options.targetSize;
    if (expected !== undefined && this.#produced + target.length > expected) {
      throw new VcdiffError(`window ${number} makes bytes ${this.#produced}-${this.#produced + target.length} of an image of ${expected}`);
    }
    await this.#options.onWindow(target);
    this.#produced += target.length;
    this.#windows += 1;
    this.#targetBytes += targetLength;
  }

  async #runInstructions(window: {
    number: number; target: Uint8Array; data: ByteReader; inst: ByteReader; addr: ByteReader; sourceLength: number; sourcePosition: number;
  }): Promise<void> {
    const { number, target, data, inst, addr, sourceLength, sourcePosition } = window;
    this.#near.fill(0);
    this.#same.fill(0);
    this.#nextNear = 0;
    let position = 0;
    const malformed = (what: string): VcdiffError => new VcdiffError(`window ${number} is malformed: ${what}`);
    try {
      while (inst.remaining > 0) {
        const code = DEFAULT_CODE_TABLE[inst.byte()]!;
        for (const [type, tableSize, mode] of [[code.type1, code.size1, code.mode1], [code.type2, code.size2, code.mode2]] as const) {
          if (type === VcdiffInstruction.Noop) continue;
          const size = tableSize === 0 ? inst.integer() : tableSize;
          if (position + size > target.length) throw malformed(`an instruction writes past its ${target.length}-byte target window`);
          if (type === VcdiffInstruction.Add) {
            target.set(data.bytes(size), position);
          } else if (type === VcdiffInstruction.Run) {
            target.fill(data.byte(), position, position + size);
          } else {
            const here = sourceLength + position;
            const address = this.#address(mode, here, addr);
            if (address >= here) throw malformed(`a COPY from address ${address}, not before the current position ${here}`);
            if (address < sourceLength) {
              if (address + size > sourceLength) throw malformed('a COPY runs past the end of its source segment');
              await this.#options.source.read(target.subarray(position, position + size), sourcePosition + address);
            } else {
              // From earlier in this target window; may overlap what it writes (a repeating pattern), so byte by byte.
              const from = address - sourceLength;
              for (let i = 0; i < size; i++) target[position + i] = target[from + i]!;
            }
          }
          position += size;
        }
      }
    } catch (error) {
      if (error instanceof NeedMore) throw malformed('a section ends in the middle of an instruction');
      throw error;
    }
    if (position !== target.length) throw malformed(`its instructions make ${position} of its ${target.length} bytes`);
    if (data.remaining > 0 || addr.remaining > 0) throw malformed(`${data.remaining} data and ${addr.remaining} address bytes left unused`);
  }

  /** RFC 3284 §5.3: decodes a COPY address and updates the caches. */
  #address(mode: number, here: number, addr: ByteReader): number {
    let address: number;
    if (mode === 0) address = addr.integer();
    else if (mode === 1) address = here - addr.integer();
    else if (mode < 2 + NEAR_CACHE_SIZE) address = this.#near[mode - 2]! + addr.integer();
    else if (mode < ADDRESS_MODES) address = this.#same[(mode - 2 - NEAR_CACHE_SIZE) * 256 + addr.byte()]!;
    else throw new VcdiffError(`address mode ${mode} does not exist`);
    if (address < 0 || address > MAX_INTEGER) throw new VcdiffError(`COPY address ${address} is out of range`);
    this.#near[this.#nextNear] = address;
    this.#nextNear = (this.#nextNear + 1) % NEAR_CACHE_SIZE;
    this.#same[address % (SAME_CACHE_SIZE * 256)] = address;
    return address;
  }
}

/** Sequential reads from [position, end) of a buffer; throws NeedMore past `end`. */
class ByteReader {
  constructor(readonly buffer: Uint8Array, public position: number, readonly end: number) {}

  get remaining(): number {
    return this.end - this.position;
  }

  byte(): number {
    if (this.position >= this.end) throw new NeedMore();
    return this.buffer[this.position++]!;
  }

  bytes(length: number): Uint8Array {
    if (length > this.remaining) throw new NeedMore();
    const slice = this.buffer.subarray(this.position, this.position + length);
    this.position += length;
    return slice;
  }

  skip(length: number): void {
    this.bytes(length);
  }

  uint32(): number {
    const bytes = this.bytes(4);
    return ((bytes[0]! << 24) >>> 0) + (bytes[1]! << 16) + (bytes[2]! << 8) + bytes[3]!;
  }

  /** RFC 3284 §2: base-128, most significant digit first, the high bit set on all but the last byte. */
  integer(): number {
    let value = 0;
    for (let digits = 1; ; digits++) {
      const byte = this.byte();
      value = value * 128 + (byte & 0x7f);
      if (value > MAX_INTEGER) throw new VcdiffError(`an integer larger than ${MAX_INTEGER} (${digits} digits)`);
      if ((byte & 0x80) === 0) return value;
    }
  }
}

/** Adler-32 (RFC 1950), as xdelta3 computes it over each target window. */
export function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i += 3800) {
    const end = Math.min(bytes.length, i + 3800);
    for (let j = i; j < end; j++) {
      a += bytes[j]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
