/**
 * How long a frame occupies a CAN wire (ISO 11898-1:2015), so the virtual bus can deliver frames no
 * faster than a real one and benchmarks can state the theoretical limit of a bus.
 *
 * A frame's bits, in order:
 * - classic, 11-bit: SOF, ID(11), RTR, IDE, r0, DLC(4), data, CRC(15), CRC delimiter, ACK slot,
 *   ACK delimiter, EOF(7), then the intermission (IFS, 3) before the bus is idle again;
 * - classic, 29-bit: SOF, ID-A(11), SRR, IDE, ID-B(18), RTR, r1, r0, DLC(4), data, CRC(15), …;
 * - FD: RRS in place of RTR, then FDF, res, BRS, ESI, DLC(4), data, stuff count (4), CRC (17 bits up to
 *   16 data bytes, else 21), CRC delimiter, ACK, ACK delimiter, EOF(7), IFS(3).
 * Bit stuffing: after five equal bits the transmitter inserts a complementary bit (which itself starts
 * the next run). Classic frames are stuffed from SOF to the end of the CRC; FD frames dynamically from SOF
 * to the end of the data field, then the CRC field carries fixed stuff bits: one before the stuff count
 * and one after every four bits (6 with CRC-17, 7 with CRC-21).
 * With BRS the data phase runs from the bit after BRS up to and including the CRC delimiter (the
 * switch happens at the sample points of BRS and of the CRC delimiter; we count those two bits whole on the
 * slower and the faster side respectively).
 */
import { InvalidFrameError, InvalidTimingError } from './errors.ts';
import { canFrame, dlcCodeFor, type CanFrame } from './frame.ts';

/**
 * How dynamic stuff bits are counted: from the frame's real bit sequence, the worst case for its length,
 * or not at all. The fixed stuff bits of an FD CRC field are always counted (they are part of the format).
 */
export type StuffingModel = 'exact' | 'worst-case' | 'none';

/** The bit timing of one bus segment (the wire, not a node). */
export interface BusTiming {
  /** Nominal (arbitration) bit rate in bit/s, e.g. 500_000. */
  bitrate: number;
  /** CAN FD data-phase bit rate in bit/s for frames with BRS, e.g. 2_000_000; without it BRS frames stay at `bitrate`. */
  dataBitrate?: number;
  /** Defaults to `exact`. */
  stuffing?: StuffingModel;
}

export { InvalidTimingError };

/** ISO 11898-1 limits nominal bit rates to 1 Mbit/s; FD transceivers are specified up to 8 Mbit/s (we allow 16). */
const MAX_NOMINAL_BITRATE = 1_000_000;
const MAX_DATA_BITRATE = 16_000_000;

/** Checks a timing and returns it with defaults filled in; throws InvalidTimingError with the reason. */
export function busTiming(timing: BusTiming): Required<Omit<BusTiming, 'dataBitrate'>> & Pick<BusTiming, 'dataBitrate'> {
  const { bitrate, dataBitrate } = timing;
  if (!Number.isFinite(bitrate) || bitrate <= 0 || bitrate > MAX_NOMINAL_BITRATE) {
    throw new InvalidTimingError(`nominal bitrate must be a number in (0, ${MAX_NOMINAL_BITRATE}] bit/s, got ${bitrate}`);
  }
  if (dataBitrate !== undefined
    && (!Number.isFinite(dataBitrate) || dataBitrate < bitrate || dataBitrate > MAX_DATA_BITRATE)) {
    throw new InvalidTimingError(
      `data bitrate must be a number between the nominal bitrate (${bitrate}) and ${MAX_DATA_BITRATE} bit/s, got ${dataBitrate}`,
    );
  }
  const stuffing = timing.stuffing ?? 'exact';
  if (!['exact', 'worst-case', 'none'].includes(stuffing)) {
    throw new InvalidTimingError(`stuffing must be exact, worst-case or none, got ${String(stuffing)}`);
  }
  return dataBitrate === undefined ? { bitrate, stuffing } : { bitrate, dataBitrate, stuffing };
}

/** True when two timings describe the same wire. */
export function sameTiming(a: BusTiming, b: BusTiming): boolean {
  return a.bitrate === b.bitrate && a.dataBitrate === b.dataBitrate && (a.stuffing ?? 'exact') === (b.stuffing ?? 'exact');
}

export function describeTiming(timing: BusTiming): string {
  const data = timing.dataBitrate === undefined ? '' : `/${timing.dataBitrate}`;
  return `${timing.bitrate}${data} bit/s, ${timing.stuffing ?? 'exact'} stuffing`;
}

/** A frame's length on the wire, split by bit rate phase. */
export interface FrameBits {
  /** Bits sent at the nominal bit rate (all of them for classic frames and FD frames without BRS). */
  nominalBits: number;
  /** Bits sent at the data bit rate (FD frames with BRS only). */
  dataPhaseBits: number;
  /** Of the above, how many are stuff bits (dynamic and fixed). */
  stuffBits: number;
  /** nominalBits + dataPhaseBits, including the 3-bit intermission. */
  totalBits: number;
}

/** Error flag (6) + error delimiter (8) + intermission (3); superposed flags from other nodes are not modelled. */
const ERROR_FRAME_BITS = 17;
/** CRC delimiter, ACK slot, ACK delimiter, EOF (7), intermission (3): never stuffed. */
const CLASSIC_TAIL_BITS = 13;
/** ACK slot, ACK delimiter, EOF (7), intermission (3): the FD tail after the CRC delimiter, at nominal rate. */
const FD_NOMINAL_TAIL_BITS = 12;
const CRC15_POLYNOMIAL = 0x4599;

/** CRC-15/CAN over a bit sequence (one bit per element), as the Bosch specification computes it. */
export function crc15(bits: Uint8Array, length = bits.length): number {
  let crc = 0;
  for (let index = 0; index < length; index += 1) {
    const next = (bits[index]! ^ (crc >> 14)) & 1;
    crc = (crc << 1) & 0x7fff;
    if (next) crc ^= CRC15_POLYNOMIAL;
  }
  return crc;
}

/** Shared scratch buffer: a frame has at most 41 header + 512 data + 15 CRC bits. */
const scratch = new Uint8Array(600);

function pushBits(bits: Uint8Array, at: number, value: number, width: number): number {
  for (let shift = width - 1; shift >= 0; shift -= 1) bits[at++] = (value >>> shift) & 1;
  return at;
}

/**
 * Writes the unstuffed bits from SOF to the end of the data field; returns their count and how many of
 * them (from the start) belong to the arbitration phase (up to and including BRS for FD frames).
 */
function headerAndDataBits(frame: CanFrame, bits: Uint8Array): { length: number; arbitrationBits: number } {
  let at = 0;
  bits[at++] = 0; // SOF
  if (frame.extended) {
    at = pushBits(bits, at, frame.id >>> 18, 11);
    bits[at++] = 1; // SRR
    bits[at++] = 1; // IDE
    at = pushBits(bits, at, frame.id & 0x3ffff, 18);
  } else {
    at = pushBits(bits, at, frame.id, 11);
  }
  let arbitrationBits: number;
  if (frame.fd) {
    bits[at++] = 0; // RRS
    if (!frame.extended) bits[at++] = 0; // IDE
    bits[at++] = 1; // FDF
    bits[at++] = 0; // res
    bits[at++] = frame.brs ? 1 : 0;
    arbitrationBits = at;
    bits[at++] = frame.esi ? 1 : 0;
    at = pushBits(bits, at, dlcCodeFor(frame.data.length), 4);
  } else {
    bits[at++] = frame.remote ? 1 : 0; // RTR
    if (!frame.extended) bits[at++] = 0; // IDE
    else bits[at++] = 0; // r1
    bits[at++] = 0; // r0
    at = pushBits(bits, at, frame.remote ? frame.dlc : frame.data.length, 4);
    arbitrationBits = at;
  }
  for (const byte of frame.data) at = pushBits(bits, at, byte, 8);
  return { length: at, arbitrationBits };
}

/**
 * Counts stuff bits in `bits[0..length)`, and how many fall before position `split` (inserted after a bit
 * whose index is < split - 1, i.e. sent before the bit at `split`). With `dropTrailing`, a stuff bit that
 * would follow the last bit is not counted (FD: the fixed stuff bit before the stuff count takes its place).
 */
function countStuffBits(bits: Uint8Array, length: number, split: number, dropTrailing: boolean): { total: number; beforeSplit: number } {
  let total = 0;
  let beforeSplit = 0;
  let previous = -1;
  let run = 0;
  for (let index = 0; index < length; index += 1) {
    const bit = bits[index]!;
    if (bit === previous) run += 1;
    else { previous = bit; run = 1; }
    if (run === 5) {
      if (dropTrailing && index === length - 1) break;
      total += 1;
      if (index + 1 < split) beforeSplit += 1;
      // The complementary stuff bit starts the next run.
      previous ^= 1;
      run = 1;
    }
  }
  return { total, beforeSplit };
}

function worstCaseStuffBits(length: number): number {
  return length > 0 ? Math.floor((length - 1) / 4) : 0;
}

/** The frame's bits on the wire, by phase, with stuff bits counted by `stuffing`. */
export function frameBits(frame: CanFrame, stuffing: StuffingModel = 'exact'): FrameBits {
  if (frame.error) {
    return { nominalBits: ERROR_FRAME_BITS, dataPhaseBits: 0, stuffBits: 0, totalBits: ERROR_FRAME_BITS };
  }
  const { length, arbitrationBits } = headerAndDataBits(frame, scratch);
  if (!frame.fd) {
    const stuffedLength = length + 15;
    let stuffBits = 0;
    if (stuffing === 'exact') {
      pushBits(scratch, length, crc15(scratch, length), 15);
      stuffBits = countStuffBits(scratch, stuffedLength, stuffedLength, false).total;
    } else if (stuffing === 'worst-case') {
      stuffBits = worstCaseStuffBits(stuffedLength);
    }
    const totalBits = stuffedLength + stuffBits + CLASSIC_TAIL_BITS;
    return { nominalBits: totalBits, dataPhaseBits: 0, stuffBits, totalBits };
  }

  const crcBits = frame.data.length > 16 ? 21 : 17;
  const crcFieldBits = 4 + crcBits; // stuff count (3-bit Gray code + parity) and CRC sequence
  const fixedStuffBits = 1 + Math.floor((crcFieldBits - 1) / 4);
  let dynamic = { total: 0, beforeSplit: 0 };
  if (stuffing === 'exact') {
    dynamic = countStuffBits(scratch, length, arbitrationBits, true);
  } else if (stuffing === 'worst-case') {
    const total = worstCaseStuffBits(length);
    dynamic = { total, beforeSplit: Math.min(total, worstCaseStuffBits(arbitrationBits)) };
  }
  // Fixed stuff bits are part of the FD format, so every model counts them.
  const fixed = fixedStuffBits;
  const arbitrationPhase = arbitrationBits + dynamic.beforeSplit;
  // ESI … data, stuff count, CRC, fixed stuff bits, CRC delimiter.
  const fastPhase = (length - arbitrationBits) + (dynamic.total - dynamic.beforeSplit) + crcFieldBits + fixed + 1;
  const stuffBits = dynamic.total + fixed;
  if (frame.brs) {
    return {
      nominalBits: arbitrationPhase + FD_NOMINAL_TAIL_BITS,
      dataPhaseBits: fastPhase,
      stuffBits,
      totalBits: arbitrationPhase + fastPhase + FD_NOMINAL_TAIL_BITS,
    };
  }
  const totalBits = arbitrationPhase + fastPhase + FD_NOMINAL_TAIL_BITS;
  return { nominalBits: totalBits, dataPhaseBits: 0, stuffBits, totalBits };
}

/** Total bits a frame occupies the wire, including stuff bits and the 3-bit intermission. */
export function frameBitLength(frame: CanFrame, stuffing: StuffingModel = 'exact'): number {
  return frameBits(frame, stuffing).totalBits;
}

/** Seconds a frame occupies a wire with `timing` (stuffing from `timing.stuffing`, default exact). */
export function frameDurationSeconds(frame: CanFrame, timing: BusTiming): number {
  const bits = frameBits(frame, timing.stuffing ?? 'exact');
  const dataBitrate = timing.dataBitrate ?? timing.bitrate;
  return bits.nominalBits / timing.bitrate + bits.dataPhaseBits / dataBitrate;
}

export interface IsoTpLimitOptions {
  timing: BusTiming;
  /** CAN FD consecutive frames (else classic). */
  fd: boolean;
  /** Data bytes per consecutive frame: 8 for classic; an FD length such as 64 for FD. */
  frameDataLength: number;
  /** FD bit rate switching; defaults to on when the timing has a data bit rate. */
  brs?: boolean;
  /** 29-bit ids (default 11-bit). */
  extended?: boolean;
  /** Defaults to `none`, the usual way such limits are quoted; `worst-case` gives the lower bound. */
  stuffing?: Exclude<StuffingModel, 'exact'>;
}

/**
 * The theoretical ISO-TP (ISO 15765-2, normal addressing) payload rate of a bus, in bytes per second:
 * a long transfer is a stream of back-to-back consecutive frames (BS = 0, STmin = 0), each carrying
 * `frameDataLength - 1` payload bytes (one PCI byte), each costing its full wire time including the
 * intermission. First frame, flow control and the UDS requests/responses around the transfer are not
 * counted, so every real transfer stays below this. Classic 500 kbit/s, 8 bytes, no stuffing:
 * 7 B / 111 bits ≈ 31,532 B/s; FD 500k/2M, 64 bytes with BRS: 63 B / (29 nominal + 550 data bits) ≈ 189,189 B/s.
 */
export function isoTpPayloadLimitBytesPerSecond(options: IsoTpLimitOptions): number {
  const { timing, fd, frameDataLength } = options;
  if (!Number.isInteger(frameDataLength) || frameDataLength < 2) {
    throw new InvalidFrameError(`an ISO-TP consecutive frame needs at least 2 data bytes, got ${frameDataLength}`);
  }
  const stuffing = options.stuffing ?? 'none';
  const brs = fd && (options.brs ?? timing.dataBitrate !== undefined);
  const frame = canFrame({ id: 0, extended: options.extended ?? false, fd, brs, data: new Uint8Array(frameDataLength) });
  busTiming(timing);
  return (frameDataLength - 1) / frameDurationSeconds(frame, { ...timing, stuffing });
}

/**
 * Accumulates wire time of frames seen on any bus (e.g. through `Bus.onTraffic`) to report bus load, for
 * drivers that do not model timing themselves.
 */
export class BusLoadMeter {
  readonly timing: BusTiming;
  #busySeconds = 0;
  #frames = 0;

  constructor(timing: BusTiming) {
    this.timing = busTiming(timing);
  }

  add(frame: CanFrame): void {
    this.#busySeconds += frameDurationSeconds(frame, this.timing);
    this.#frames += 1;
  }

  get frames(): number {
    return this.#frames;
  }

  get busySeconds(): number {
    return this.#busySeconds;
  }

  /** Share of `elapsedSeconds` the frames added so far kept the wire busy, in percent. */
  loadPercent(elapsedSeconds: number): number {
    return elapsedSeconds > 0 ? (100 * this.#busySeconds) / elapsedSeconds : 0;
  }
}
