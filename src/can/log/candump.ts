/**
 * One line of a candump log file (`candump -L`, linux-can/can-utils `lib.c`), the format python-can's
 * `can.LogReader`/`can.Logger` read and write as `.log`:
 *
 *     (1700000000.123456) cant 720#0210020000000000       classic, 11-bit id as 3 hex digits
 *     (1700000000.123456) canb 18DAF110#02A1B2            29-bit id as 8 hex digits
 *     (1700000000.123456) canb 730##1CCCC…                CAN FD: '##', a flags nibble (1 BRS, 2 ESI), data
 *     (1700000000.123456) cant 123#R  /  123#R4           remote frame, with the requested length if not 0
 *     (1700000000.123456) cant 20000004#0004000000000000  error frame: CAN_ERR_FLAG | error class, 8 digits
 *
 * python-can's writer adds a direction (` R` received / ` T` sent) after the frame; we read it and ignore it.
 */
import { CanBusError } from '../bus/errors.ts';
import { canFrame, type CanFrame } from '../bus/frame.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** A line that is not candump; `lineNumber` is 1-based when the line came from a file. */
export class CandumpFormatError extends CanBusError {
  override name = 'CandumpFormatError';
  readonly lineNumber: number | undefined;

  constructor(reason: string, lineNumber?: number) {
    super(lineNumber === undefined ? reason : `line ${lineNumber}: ${reason}`);
    this.lineNumber = lineNumber;
  }
}

export const CAN_ERR_FLAG = 0x20000000;
const CAN_ERR_MASK = 0x1fffffff;
const CANFD_BRS = 0x01;
const CANFD_ESI = 0x02;

const hex = (value: number, width: number): string => value.toString(16).toUpperCase().padStart(width, '0');

function dataHex(data: Uint8Array): string {
  let text = '';
  for (const byte of data) text += hex(byte, 2);
  return text;
}

/** `(sec.usec)` with the seconds zero-padded to 10 digits, as candump writes it. */
export function formatCandumpTimestamp(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new CandumpFormatError(`cannot write timestamp ${seconds}`);
  let whole = Math.floor(seconds);
  let micros = Math.round((seconds - whole) * 1e6);
  if (micros === 1_000_000) {
    whole += 1;
    micros = 0;
  }
  return `(${String(whole).padStart(10, '0')}.${String(micros).padStart(6, '0')})`;
}

/** The `ID#DATA` part of a line. */
export function formatCandumpFrame(frame: CanFrame): string {
  if (frame.error) return `${hex(CAN_ERR_FLAG | frame.id, 8)}#${dataHex(frame.data)}`;
  const id = frame.extended ? hex(frame.id, 8) : hex(frame.id, 3);
  if (frame.remote) return `${id}#R${frame.dlc > 0 ? frame.dlc : ''}`;
  if (frame.fd) return `${id}##${hex((frame.brs ? CANFD_BRS : 0) | (frame.esi ? CANFD_ESI : 0), 1)}${dataHex(frame.data)}`;
  return `${id}#${dataHex(frame.data)}`;
}

/**
 * A whole line (without newline). The frame's own timestamp and channel are used unless given; a frame
 * without a timestamp is written with `timestamp`, or fails.
 */
export function formatCandumpLine(frame: CanFrame, options: { channel?: string; timestamp?: number } = {}): string {
  const channel = frame.channel ?? options.channel;
  if (!channel || /\s/.test(channel)) throw new CandumpFormatError(`cannot write interface name ${JSON.stringify(channel)}`);
  const timestamp = frame.timestamp ?? options.timestamp;
  if (timestamp === undefined) throw new CandumpFormatError('cannot write a frame without a timestamp');
  return `${formatCandumpTimestamp(timestamp)} ${channel} ${formatCandumpFrame(frame)}`;
}

const LINE = /^\((\d+)\.(\d+)\)\s+(\S+)\s+(\S+)(?:\s+([RrTt]))?$/;
const HEX = /^[0-9A-Fa-f]*$/;

function parseData(text: string, fail: (reason: string) => never): Uint8Array {
  // can-utils accepts '.' between bytes.
  const digits = text.replace(/\./g, '');
  if (!HEX.test(digits)) fail(`data "${text}" is not hex`);
  if (digits.length % 2 !== 0) fail(`data "${text}" has an odd number of hex digits`);
  return Uint8Array.from({ length: digits.length / 2 }, (_, i) => parseInt(digits.slice(2 * i, 2 * i + 2), 16));
}

/**
 * Parses the `ID#DATA` part of a line (also what `cansend` takes) into a frame; throws CandumpFormatError.
 */
export function parseCandumpFrame(
  body: string, extra: { timestamp?: number; channel?: string } = {}, lineNumber?: number,
): CanFrame {
  const fail = (reason: string): never => {
    throw new CandumpFormatError(reason, lineNumber);
  };
  const separator = body.indexOf('#');
  if (separator < 0) return fail(`frame "${body}" has no '#' between id and data`);
  const idText = body.slice(0, separator);
  let rest = body.slice(separator + 1);
  if (!HEX.test(idText) || (idText.length !== 3 && idText.length !== 8)) {
    return fail(`id "${idText}" must be 3 hex digits (11-bit) or 8 (29-bit or error frame)`);
  }
  const rawId = parseInt(idText, 16);
  const extended = idText.length === 8;
  const error = extended && (rawId & CAN_ERR_FLAG) !== 0;
  if (extended && rawId > (CAN_ERR_FLAG | CAN_ERR_MASK)) return fail(`id "${idText}" has flag bits other than CAN_ERR_FLAG`);

  let fd = false;
  let brs = false;
  let esi = false;
  if (rest.startsWith('##')) return fail('CAN XL frames ("###") are not supported');
  if (rest.startsWith('#')) {
    if (error) fail('an error frame cannot be CAN FD');
    const flags = parseInt(rest.charAt(1), 16);
    if (rest.length < 2 || Number.isNaN(flags)) return fail(`CAN FD frame "${body}" needs a flags nibble after "##"`);
    fd = true;
    brs = (flags & CANFD_BRS) !== 0;
    esi = (flags & CANFD_ESI) !== 0;
    rest = rest.slice(2);
  }
  try {
    if (/^[Rr]/.test(rest)) {
      if (fd) fail('CAN FD has no remote frames');
      const dlcText = rest.slice(1);
      if (!/^[0-8]?$/.test(dlcText)) fail(`remote frame length "${dlcText}" must be one digit 0-8`);
      return canFrame({ ...extra, id: rawId, extended, remote: true, dlc: dlcText ? Number(dlcText) : 0 });
    }
    const data = parseData(rest, fail);
    if (error) return canFrame({ ...extra, id: rawId & CAN_ERR_MASK, error: true, data });
    return canFrame({ ...extra, id: rawId, extended, fd, brs, esi, data });
  } catch (caught) {
    if (caught instanceof CandumpFormatError) throw caught;
    return fail(errorMessage(caught));
  }
}

/** Parses one line into a frame with its timestamp and channel; throws CandumpFormatError with the reason. */
export function parseCandumpLine(line: string, lineNumber?: number): CanFrame {
  const match = LINE.exec(line.trim());
  if (!match) {
    const shown = JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}…` : line);
    throw new CandumpFormatError(`not a candump line "(SECONDS.MICROS) IFACE ID#DATA": ${shown}`, lineNumber);
  }
  const [, seconds, fraction, channel, body] = match as unknown as [string, string, string, string, string];
  return parseCandumpFrame(body, { timestamp: Number(`${seconds}.${fraction}`), channel }, lineNumber);
}
