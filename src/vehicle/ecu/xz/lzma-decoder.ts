import type { LzDictionary } from './lz-dictionary.ts';
import { XzDataError } from './xz-buffers.ts';

/*
 * The LZMA decoder inside LZMA2 (xz file format, LZMA SDK; the structure of xz-embedded's xz_dec_lzma2.c):
 * a range decoder and the literal/match/rep symbols, writing into the LzDictionary. Every probability lives
 * in one Uint16Array sized for the largest lc + lp LZMA2 allows (4), so its memory is fixed: 28 268 bytes.
 */

const STATES = 12;
const POS_STATES_MAX = 16;
const MATCH_LEN_MIN = 2;
const LEN_LOW_SYMBOLS = 8;
const LEN_MID_SYMBOLS = 8;
const LEN_HIGH_SYMBOLS = 256;
const DIST_STATES = 4;
const DIST_SLOTS = 64;
const DIST_MODEL_START = 4;
const DIST_MODEL_END = 14;
const FULL_DISTANCES = 128;
const ALIGN_BITS = 4;
const ALIGN_SIZE = 16;
const LITERAL_CODER_SIZE = 0x300;
const LITERAL_CODERS_MAX = 1 << 4;
const BIT_MODEL_TOTAL = 1 << 11;
const MOVE_BITS = 5;
const TOP_VALUE = 1 << 24;
const RANGE = 0;
const CODE = 1;
/** Most input bytes one symbol can take (xz-embedded's LZMA_IN_REQUIRED). */
export const LZMA_IN_REQUIRED = 21;
/** A range coder starts with 5 bytes, the first of them zero. */
export const RC_INIT_BYTES = 5;

// Offsets of each probability array in the one Uint16Array.
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2;
const LEN_MID = LEN_LOW + POS_STATES_MAX * LEN_LOW_SYMBOLS;
const LEN_HIGH = LEN_MID + POS_STATES_MAX * LEN_MID_SYMBOLS;
const LEN_SIZE = LEN_HIGH + LEN_HIGH_SYMBOLS;
const IS_MATCH = 0;
const IS_REP = IS_MATCH + STATES * POS_STATES_MAX;
const IS_REP0 = IS_REP + STATES;
const IS_REP1 = IS_REP0 + STATES;
const IS_REP2 = IS_REP1 + STATES;
const IS_REP0_LONG = IS_REP2 + STATES;
const DIST_SLOT = IS_REP0_LONG + STATES * POS_STATES_MAX;
const DIST_SPECIAL = DIST_SLOT + DIST_STATES * DIST_SLOTS;
const DIST_ALIGN = DIST_SPECIAL + FULL_DISTANCES - DIST_MODEL_END;
const MATCH_LEN = DIST_ALIGN + ALIGN_SIZE;
const REP_LEN = MATCH_LEN + LEN_SIZE;
const LITERAL = REP_LEN + LEN_SIZE;
const PROBABILITIES = LITERAL + LITERAL_CODER_SIZE * LITERAL_CODERS_MAX;

/** Largest LZMA2 properties byte: (pb * 5 + lp) * 9 + lc with pb ≤ 4, lc + lp ≤ 4. */
const PROPERTIES_MAX = (4 * 5 + 4) * 9 + 8;

export class LzmaDecoder {
  readonly probabilities = new Uint16Array(PROBABILITIES);
  /**
   * The range decoder's range and code, unsigned 32-bit, updated for every bit: in a typed array they stay
   * plain 32-bit values (as object fields, numbers above 2^30 are heap numbers); measured 10-15 % faster.
   */
  readonly #rc = new Uint32Array(2);
  #initBytesLeft = RC_INIT_BYTES;
  /** The input the range decoder reads now, its position, and the position after which it must stop. */
  input: Uint8Array = new Uint8Array(0);
  inPos = 0;
  inLimit = 0;
  // LZMA state.
  #state = 0;
  #rep0 = 0;
  #rep1 = 0;
  #rep2 = 0;
  #rep3 = 0;
  /** Bytes of the last match still to be copied (the output was full). */
  pendingLength = 0;
  #lc = 0;
  #literalPosMask = 0;
  #posMask = 0;
  readonly #dict: LzDictionary;

  constructor(dict: LzDictionary) {
    this.#dict = dict;
  }

  /** Applies an LZMA2 properties byte (lc, lp, pb) and resets the state; throws on a value LZMA2 forbids. */
  setProperties(properties: number): void {
    if (properties > PROPERTIES_MAX) throw new XzDataError(`LZMA properties byte 0x${properties.toString(16)} is out of range`);
    const pb = Math.floor(properties / 45);
    const lp = Math.floor((properties % 45) / 9);
    const lc = properties % 9;
    if (lc + lp > 4) throw new XzDataError(`LZMA2 allows lc + lp ≤ 4, not lc=${lc} lp=${lp}`);
    this.#posMask = (1 << pb) - 1;
    this.#literalPosMask = (1 << lp) - 1;
    this.#lc = lc;
    this.resetState();
  }

  resetState(): void {
    this.#state = 0;
    this.#rep0 = this.#rep1 = this.#rep2 = this.#rep3 = 0;
    this.pendingLength = 0;
    this.probabilities.fill(BIT_MODEL_TOTAL >>> 1);
  }

  resetRangeDecoder(): void {
    this.#rc[RANGE] = 0xffffffff;
    this.#rc[CODE] = 0;
    this.#initBytesLeft = RC_INIT_BYTES;
  }

  /** Reads the range coder's first bytes from `input`; false while more are needed. */
  readInit(input: Uint8Array, position: { inPos: number }): boolean {
    while (this.#initBytesLeft > 0) {
      if (position.inPos === input.length) return false;
      const byte = input[position.inPos++]!;
      if (this.#initBytesLeft === RC_INIT_BYTES && byte !== 0) throw new XzDataError('an LZMA chunk\'s range coder does not start with a zero byte');
      this.#rc[CODE] = (this.#rc[CODE]! << 8) | byte;
      this.#initBytesLeft -= 1;
    }
    return true;
  }

  /** The range coder ended where the encoder flushed it (its code is back to zero). */
  get finished(): boolean {
    return this.#rc[CODE] === 0;
  }

  /**
   * Decodes symbols into the dictionary until its limit or until the input position passes `inLimit`
   * (each symbol takes at most LZMA_IN_REQUIRED bytes, so it never reads past the input's end).
   */
  run(): void {
    const dict = this.#dict;
    if (dict.hasSpace() && this.pendingLength > 0) this.pendingLength = dict.repeat(this.pendingLength, this.#rep0);
    while (dict.hasSpace() && this.inPos <= this.inLimit) {
      const posState = dict.pos & this.#posMask;
      if (!this.#bit(IS_MATCH + this.#state * POS_STATES_MAX + posState)) {
        this.#literal();
      } else {
        if (this.#bit(IS_REP + this.#state)) this.#repMatch(posState);
        else this.#match(posState);
        this.pendingLength = dict.repeat(this.pendingLength, this.#rep0);
      }
    }
    this.#normalize();
  }

  #normalize(): void {
    const rc = this.#rc;
    if (rc[RANGE]! < TOP_VALUE) {
      // The typed array keeps the low 32 bits of what is stored.
      rc[RANGE] = rc[RANGE]! << 8;
      rc[CODE] = (rc[CODE]! << 8) | this.input[this.inPos++]!;
    }
  }

  #bit(index: number): number {
    this.#normalize();
    const rc = this.#rc;
    const probabilities = this.probabilities;
    const probability = probabilities[index]!;
    const bound = (rc[RANGE]! >>> 11) * probability;
    if (rc[CODE]! < bound) {
      rc[RANGE] = bound;
      probabilities[index] = probability + ((BIT_MODEL_TOTAL - probability) >>> MOVE_BITS);
      return 0;
    }
    rc[RANGE] = rc[RANGE]! - bound;
    rc[CODE] = rc[CODE]! - bound;
    probabilities[index] = probability - (probability >>> MOVE_BITS);
    return 1;
  }

  /** A bit tree of `limit` leaves at `base`; returns the symbol with its leading 1 (limit…2·limit-1). */
  #bittree(base: number, limit: number): number {
    let symbol = 1;
    do symbol = (symbol << 1) | this.#bit(base + symbol);
    while (symbol < limit);
    return symbol;
  }

  #bittreeReverse(base: number, value: number, bits: number): number {
    let symbol = 1;
    for (let i = 0; i < bits; i += 1) {
      const bit = this.#bit(base + symbol);
      symbol = (symbol << 1) | bit;
      value += bit << i;
    }
    return value;
  }

  #direct(value: number, bits: number): number {
    for (let i = 0; i < bits; i += 1) {
      this.#normalize();
      const rc = this.#rc;
      rc[RANGE] = rc[RANGE]! >>> 1;
      if (rc[CODE]! >= rc[RANGE]!) {
        rc[CODE] = rc[CODE]! - rc[RANGE]!;
        value = value * 2 + 1;
      } else {
        value *= 2;
      }
    }
    return value;
  }

  #literal(): void {
    const dict = this.#dict;
    const previous = dict.get(0);
    const base = LITERAL + LITERAL_CODER_SIZE * (((dict.pos & this.#literalPosMask) << this.#lc) + (previous >>> (8 - this.#lc)));
    let symbol: number;
    if (this.#state < 7) {
      symbol = this.#bittree(base, 0x100);
    } else {
      // After a match the byte at rep0 predicts the literal, bit by bit, until the first mismatch.
      symbol = 1;
      let matchByte = dict.get(this.#rep0) << 1;
      let offset = 0x100;
      do {
        const matchBit = matchByte & offset;
        matchByte <<= 1;
        if (this.#bit(base + offset + matchBit + symbol)) {
          symbol = (symbol << 1) | 1;
          offset = matchBit;
        } else {
          symbol <<= 1;
          offset ^= matchBit;
        }
      } while (symbol < 0x100);
    }
    dict.put(symbol & 0xff);
    this.#state = this.#state <= 3 ? 0 : this.#state <= 9 ? this.#state - 3 : this.#state - 6;
  }

  #length(base: number, posState: number): number {
    if (!this.#bit(base + LEN_CHOICE)) {
      return MATCH_LEN_MIN + this.#bittree(base + LEN_LOW + posState * LEN_LOW_SYMBOLS, LEN_LOW_SYMBOLS) - LEN_LOW_SYMBOLS;
    }
    if (!this.#bit(base + LEN_CHOICE2)) {
      return MATCH_LEN_MIN + LEN_LOW_SYMBOLS + this.#bittree(base + LEN_MID + posState * LEN_MID_SYMBOLS, LEN_MID_SYMBOLS) - LEN_MID_SYMBOLS;
    }
    return MATCH_LEN_MIN + LEN_LOW_SYMBOLS + LEN_MID_SYMBOLS + this.#bittree(base + LEN_HIGH, LEN_HIGH_SYMBOLS) - LEN_HIGH_SYMBOLS;
  }

  #match(posState: number): void {
    this.#state = this.#state < 7 ? 7 : 10;
    this.#rep3 = this.#rep2;
    this.#rep2 = this.#rep1;
    this.#rep1 = this.#rep0;
    const length = this.#length(MATCH_LEN, posState);
    this.pendingLength = length;
    const distState = length < DIST_STATES + MATCH_LEN_MIN ? length - MATCH_LEN_MIN : DIST_STATES - 1;
    const slot = this.#bittree(DIST_SLOT + distState * DIST_SLOTS, DIST_SLOTS) - DIST_SLOTS;
    if (slot < DIST_MODEL_START) {
      this.#rep0 = slot;
      return;
    }
    const bits = (slot >>> 1) - 1;
    let distance = 2 + (slot & 1);
    if (slot < DIST_MODEL_END) {
      distance <<= bits;
      this.#rep0 = this.#bittreeReverse(DIST_SPECIAL + distance - slot - 1, distance, bits);
    } else {
      distance = this.#direct(distance, bits - ALIGN_BITS) * ALIGN_SIZE;
      this.#rep0 = this.#bittreeReverse(DIST_ALIGN, distance, ALIGN_BITS);
    }
  }

  #repMatch(posState: number): void {
    const state = this.#state;
    if (!this.#bit(IS_REP0 + state)) {
      if (!this.#bit(IS_REP0_LONG + state * POS_STATES_MAX + posState)) {
        // A short rep: one byte from rep0.
        this.#state = state < 7 ? 9 : 11;
        this.pendingLength = 1;
        return;
      }
    } else {
      let distance: number;
      if (!this.#bit(IS_REP1 + state)) {
        distance = this.#rep1;
      } else {
        if (!this.#bit(IS_REP2 + state)) {
          distance = this.#rep2;
        } else {
          distance = this.#rep3;
          this.#rep3 = this.#rep2;
        }
        this.#rep2 = this.#rep1;
      }
      this.#rep1 = this.#rep0;
      this.#rep0 = distance;
    }
    this.#state = state < 7 ? 8 : 11;
    this.pendingLength = this.#length(REP_LEN, posState);
  }
}
