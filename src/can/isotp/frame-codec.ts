/**
 * ISO 15765-2 protocol data units on CAN frames, normal addressing (the PCI starts at data byte 0):
 * single frame (SF), first frame (FF), consecutive frame (CF) and flow control (FC), for classic CAN
 * (TX_DL 8) and CAN FD (TX_DL up to 64, with the SF and FF escape sequences of ISO 15765-2:2016).
 * Encoders never allocate beyond the frame's own bytes; decoders never throw: a frame the standard says
 * to ignore decodes to `null`.
 */
import { FD_LENGTHS, fdLengthFor } from '../bus/frame.ts';
import { IsoTpConfigurationError } from './errors.ts';

export const PCI_SINGLE_FRAME = 0x0;
export const PCI_FIRST_FRAME = 0x1;
export const PCI_CONSECUTIVE_FRAME = 0x2;
export const PCI_FLOW_CONTROL = 0x3;

export enum FlowStatus {
  ContinueToSend = 0,
  Wait = 1,
  Overflow = 2,
}

/** Largest FF_DL the 12-bit length field holds; longer messages use the 32-bit escape. */
export const MAX_SHORT_FIRST_FRAME_LENGTH = 0xfff;
/** Largest message ISO-TP can announce (32-bit FF_DL). */
export const MAX_MESSAGE_LENGTH = 0xffff_ffff;
export const DEFAULT_PADDING = 0xcc;

/** How this node lays out the frames it sends. */
export interface FrameLayout {
  /** CAN FD frames (else classic). */
  readonly fd: boolean;
  /** TX_DL: data bytes of a full frame; 8 for classic, one of 8, 12, 16, 20, 24, 32, 48, 64 for FD. */
  readonly dataLength: number;
  /** Byte that fills unused frame bytes, or null to send short frames where the bus allows it. */
  readonly padding: number | null;
}

export function frameLayout(fd: boolean, dataLength: number | undefined, padding: number | null | undefined): FrameLayout {
  const length = dataLength ?? (fd ? 64 : 8);
  if (!fd && length !== 8) throw new IsoTpConfigurationError(`classic CAN frames carry 8 data bytes; dataLength ${length} needs fd`);
  if (fd && (length < 8 || !FD_LENGTHS.includes(length))) {
    throw new IsoTpConfigurationError(`CAN FD dataLength must be one of 8, 12, 16, 20, 24, 32, 48, 64, got ${length}`);
  }
  const pad = padding === undefined ? DEFAULT_PADDING : padding;
  if (pad !== null && (!Number.isInteger(pad) || pad < 0 || pad > 0xff)) {
    throw new IsoTpConfigurationError(`padding must be a byte (0-255) or null, got ${pad}`);
  }
  return { fd, dataLength: length, padding: pad };
}

/** Largest payload of a single frame: 7 with TX_DL 8, else TX_DL - 2 (escape SF with a length byte). */
export function singleFrameCapacity(layout: FrameLayout): number {
  return layout.dataLength > 8 ? layout.dataLength - 2 : 7;
}

/** Payload bytes a first frame carries for a message of `length` bytes. */
export function firstFrameCapacity(layout: FrameLayout, length: number): number {
  return layout.dataLength - (length > MAX_SHORT_FIRST_FRAME_LENGTH ? 6 : 2);
}

export function consecutiveFrameCapacity(layout: FrameLayout): number {
  return layout.dataLength - 1;
}

/** Number of frames (SF, or FF + CFs) a payload of `length` bytes needs; flow control not counted. */
export function framesForPayload(layout: FrameLayout, length: number): number {
  if (length <= singleFrameCapacity(layout)) return 1;
  return 1 + Math.ceil((length - firstFrameCapacity(layout, length)) / consecutiveFrameCapacity(layout));
}

/** CAN data length for `content` meaningful bytes: padded to 8 when padding is on, to a valid FD length always. */
function paddedLength(layout: FrameLayout, content: number): number {
  if (content > 8) return fdLengthFor(content);
  return layout.padding === null ? content : 8;
}

function padFrom(frame: Uint8Array, from: number, layout: FrameLayout): void {
  if (from < frame.length) frame.fill(layout.padding ?? DEFAULT_PADDING, from);
}

export function encodeSingleFrame(payload: Uint8Array, layout: FrameLayout): Uint8Array {
  const length = payload.length;
  const header = length > 7 ? 2 : 1;
  const frame = new Uint8Array(paddedLength(layout, header + length));
  if (header === 1) {
    frame[0] = length;
  } else {
    frame[0] = 0;
    frame[1] = length;
  }
  frame.set(payload, header);
  padFrom(frame, header + length, layout);
  return frame;
}

/** The first frame of `payload`; it carries `firstFrameCapacity(layout, payload.length)` bytes. */
export function encodeFirstFrame(payload: Uint8Array, layout: FrameLayout): Uint8Array {
  const length = payload.length;
  const frame = new Uint8Array(layout.dataLength);
  let header: number;
  if (length > MAX_SHORT_FIRST_FRAME_LENGTH) {
    frame[0] = 0x10;
    frame[1] = 0;
    frame[2] = length >>> 24;
    frame[3] = (length >>> 16) & 0xff;
    frame[4] = (length >>> 8) & 0xff;
    frame[5] = length & 0xff;
    header = 6;
  } else {
    frame[0] = 0x10 | (length >>> 8);
    frame[1] = length & 0xff;
    header = 2;
  }
  frame.set(payload.subarray(0, layout.dataLength - header), header);
  return frame;
}

/**
 * The consecutive frame with sequence number `sequence` (0-15) carrying payload from `offset`; full
 * frames are TX_DL long, the last one is padded (or, without padding, as short as the bus allows).
 */
export function encodeConsecutiveFrame(payload: Uint8Array, offset: number, sequence: number, layout: FrameLayout): Uint8Array {
  const remaining = payload.length - offset;
  const capacity = layout.dataLength - 1;
  const count = remaining < capacity ? remaining : capacity;
  const frame = new Uint8Array(count === capacity ? layout.dataLength : paddedLength(layout, count + 1));
  frame[0] = 0x20 | sequence;
  if (count <= 16) {
    // A byte loop beats subarray()+set() for classic frames: no view object per frame.
    for (let index = 0; index < count; index += 1) frame[index + 1] = payload[offset + index]!;
  } else {
    frame.set(payload.subarray(offset, offset + count), 1);
  }
  if (count + 1 < frame.length) padFrom(frame, count + 1, layout);
  return frame;
}

export function encodeFlowControl(status: FlowStatus, blockSize: number, stMinByte: number, layout: FrameLayout): Uint8Array {
  const frame = new Uint8Array(layout.padding === null ? 3 : 8);
  frame[0] = 0x30 | status;
  frame[1] = blockSize;
  frame[2] = stMinByte;
  padFrom(frame, 3, layout);
  return frame;
}

/**
 * STmin as sent in a flow control: 0-127 ms as is, 100-900 µs as 0xF1-0xF9 (ISO 15765-2 Table 20).
 * `ms` must be one of those values exactly.
 */
export function encodeStMin(ms: number): number {
  if (Number.isInteger(ms) && ms >= 0 && ms <= 0x7f) return ms;
  const tenths = Math.round(ms * 10);
  if (tenths >= 1 && tenths <= 9 && Math.abs(ms * 10 - tenths) < 1e-9) return 0xf0 + tenths;
  throw new IsoTpConfigurationError(`STmin must be 0-127 ms or 0.1-0.9 ms in 0.1 ms steps, got ${ms}`);
}

/** Milliseconds a sender waits for an STmin byte; reserved values mean the longest, 127 ms (§9.6.5.4). */
export function decodeStMin(byte: number): number {
  if (byte <= 0x7f) return byte;
  if (byte >= 0xf1 && byte <= 0xf9) return (byte - 0xf0) / 10;
  return 0x7f;
}

export interface SingleFrameHeader {
  /** Bytes of PCI before the payload (1, or 2 for the escape SF). */
  headerLength: number;
  length: number;
}

/** SF_DL and header size, or null for a single frame the standard says to ignore. */
export function parseSingleFrame(data: Uint8Array): SingleFrameHeader | null {
  const canDl = data.length;
  if (canDl < 2) return null;
  const nibble = data[0]! & 0x0f;
  if (canDl <= 8) {
    if (nibble === 0 || nibble > canDl - 1) return null;
    return { headerLength: 1, length: nibble };
  }
  // CAN_DL > 8 requires the escape sequence (ISO 15765-2:2016 §9.6.2.1).
  if (nibble !== 0) return null;
  const length = data[1]!;
  if (length === 0 || length > canDl - 2) return null;
  return { headerLength: 2, length };
}

export interface FirstFrameHeader {
  headerLength: number;
  /** FF_DL: the whole message's length. */
  length: number;
}

/** FF_DL and header size, or null for a first frame to ignore (short frame, message that would fit the FF). */
export function parseFirstFrame(data: Uint8Array): FirstFrameHeader | null {
  const canDl = data.length;
  if (canDl < 8 || (canDl > 8 && !FD_LENGTHS.includes(canDl))) return null;
  let length = ((data[0]! & 0x0f) << 8) | data[1]!;
  let headerLength = 2;
  if (length === 0) {
    length = ((data[2]! << 24) | (data[3]! << 16) | (data[4]! << 8) | data[5]!) >>> 0;
    headerLength = 6;
  }
  // A message that would have fit a single frame of this size is not a valid multi-frame message.
  if (length < 8 || length <= canDl - headerLength) return null;
  return { headerLength, length };
}

export interface FlowControl {
  status: number;
  blockSize: number;
  stMinMs: number;
}

export function parseFlowControl(data: Uint8Array): FlowControl | null {
  if (data.length < 3) return null;
  return { status: data[0]! & 0x0f, blockSize: data[1]!, stMinMs: decodeStMin(data[2]!) };
}

/** One decoded PDU, for monitors and logs (the channel's hot path does not build these). */
export type IsoTpPdu =
  | { type: 'SF'; length: number; payload: Uint8Array }
  | { type: 'FF'; length: number; payload: Uint8Array }
  | { type: 'CF'; sequence: number; payload: Uint8Array }
  | { type: 'FC'; status: number; blockSize: number; stMinMs: number }
  | { type: 'invalid'; reason: string };

export function decodePdu(data: Uint8Array): IsoTpPdu {
  if (data.length === 0) return { type: 'invalid', reason: 'empty frame' };
  switch (data[0]! >> 4) {
    case PCI_SINGLE_FRAME: {
      const header = parseSingleFrame(data);
      if (!header) return { type: 'invalid', reason: 'single frame with an invalid length' };
      return { type: 'SF', length: header.length, payload: data.subarray(header.headerLength, header.headerLength + header.length) };
    }
    case PCI_FIRST_FRAME: {
      const header = parseFirstFrame(data);
      if (!header) return { type: 'invalid', reason: 'first frame with an invalid length' };
      return { type: 'FF', length: header.length, payload: data.subarray(header.headerLength) };
    }
    case PCI_CONSECUTIVE_FRAME:
      if (data.length < 2) return { type: 'invalid', reason: 'consecutive frame without data' };
      return { type: 'CF', sequence: data[0]! & 0x0f, payload: data.subarray(1) };
    case PCI_FLOW_CONTROL: {
      const fc = parseFlowControl(data);
      if (!fc) return { type: 'invalid', reason: 'flow control shorter than 3 bytes' };
      return { type: 'FC', ...fc };
    }
    default:
      return { type: 'invalid', reason: `reserved PCI type ${data[0]! >> 4}` };
  }
}

const flowStatusNames = ['CTS', 'WAIT', 'OVFLW'];

/** A short human description, as `can dump --decode` prints it: `FF len=4096`, `CF sn=3`, `FC CTS bs=0 st=0ms`. */
export function describePdu(pdu: IsoTpPdu): string {
  switch (pdu.type) {
    case 'SF': return `SF len=${pdu.length}`;
    case 'FF': return `FF len=${pdu.length}`;
    case 'CF': return `CF sn=${pdu.sequence}`;
    case 'FC': return `FC ${flowStatusNames[pdu.status] ?? `FS=${pdu.status}`} bs=${pdu.blockSize} st=${pdu.stMinMs}ms`;
    case 'invalid': return `not ISO-TP (${pdu.reason})`;
  }
}
