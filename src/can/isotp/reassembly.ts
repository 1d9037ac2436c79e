import type { FirstFrameHeader } from './frame-codec.ts';

/** What one consecutive frame did to a reassembly. */
export type ConsecutiveResult = 'ignored' | 'accepted' | 'complete' | 'wrong-sequence';

/**
 * Puts one segmented message back together from its FF and CFs, with the checks of ISO 15765-2 §9.6.4:
 * sequence numbers 1, 2, …, 15, 0, 1, … and every CF but the last exactly as long as the FF (RX_DL).
 * Pure state, no I/O: the active receiver and the passive observer share it.
 */
export class Reassembly {
  #buffer: Uint8Array | null = null;
  #offset = 0;
  #expectedSequence = 1;
  #frameLength = 0;

  get active(): boolean {
    return this.#buffer !== null;
  }

  get received(): number {
    return this.#offset;
  }

  get length(): number {
    return this.#buffer?.length ?? 0;
  }

  get expectedSequence(): number {
    return this.#expectedSequence;
  }

  start(header: FirstFrameHeader, firstFrame: Uint8Array): void {
    const buffer = new Uint8Array(header.length);
    const carried = firstFrame.subarray(header.headerLength);
    buffer.set(carried.length > header.length ? carried.subarray(0, header.length) : carried);
    this.#buffer = buffer;
    this.#offset = Math.min(carried.length, header.length);
    this.#expectedSequence = 1;
    this.#frameLength = firstFrame.length;
  }

  consecutive(data: Uint8Array): ConsecutiveResult {
    const buffer = this.#buffer;
    if (buffer === null) return 'ignored';
    if ((data[0]! & 0x0f) !== this.#expectedSequence) return 'wrong-sequence';
    const remaining = buffer.length - this.#offset;
    const capacity = this.#frameLength - 1;
    let count: number;
    if (remaining > capacity) {
      if (data.length !== this.#frameLength) return 'ignored';
      count = capacity;
    } else {
      if (data.length < remaining + 1) return 'ignored';
      count = remaining;
    }
    const offset = this.#offset;
    if (count <= 16) {
      for (let index = 0; index < count; index += 1) buffer[offset + index] = data[index + 1]!;
    } else {
      buffer.set(data.subarray(1, 1 + count), offset);
    }
    this.#offset = offset + count;
    this.#expectedSequence = (this.#expectedSequence + 1) & 0x0f;
    return this.#offset === buffer.length ? 'complete' : 'accepted';
  }

  /** The finished message; the reassembly is idle afterwards. */
  take(): Uint8Array {
    const buffer = this.#buffer!;
    this.reset();
    return buffer;
  }

  reset(): void {
    this.#buffer = null;
    this.#offset = 0;
    this.#expectedSequence = 1;
  }
}
