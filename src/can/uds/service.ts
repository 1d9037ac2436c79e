import { UdsRequestError, UdsResponseError, invalidFormat } from './errors.ts';
import type { NegativeResponseCode } from './nrc.ts';
import { POSITIVE_RESPONSE_OFFSET, SUPPRESS_POSITIVE_RESPONSE } from './service-ids.ts';

/**
 * One UDS service as python-udsoncan models it: its SID, its sub-function (if any), and the four
 * conversions both ends need. The client encodes requests and decodes responses; the server decodes
 * requests (throwing RequestRejectedError with the NRC the standard prescribes) and encodes responses.
 */
export interface UdsService<Request, Response> {
  readonly sid: number;
  readonly name: string;
  /** The second byte is a sub-function whose bit 7 suppresses the positive response. */
  readonly hasSubFunction: boolean;
  /** NRCs the standard lists for this service (besides the general ones). */
  readonly negativeResponseCodes: readonly NegativeResponseCode[];
  encodeRequest(request: Request): Uint8Array;
  decodeRequest(message: Uint8Array): Request;
  encodeResponse(response: Response): Uint8Array;
  /** `request` (when known) lets the decoder check echoed parameters. */
  decodeResponse(message: Uint8Array, request?: Request): Response;
  /**
   * True for a positive response that answers an earlier request of this service, not `request`: a late
   * answer to a request the client timed out on and repeated. The client skips it and keeps waiting.
   */
  isStaleResponse?(message: Uint8Array, request: Request): boolean;
}

/** Requests of services with a sub-function may ask the server not to answer positively. */
export interface SuppressibleRequest {
  suppressPositiveResponse?: boolean;
}

export function subFunctionByte(subFunction: number, request: SuppressibleRequest): number {
  byteValue('sub-function', subFunction, 0x7f);
  return subFunction | (request.suppressPositiveResponse ? SUPPRESS_POSITIVE_RESPONSE : 0);
}

export function byteValue(name: string, value: number, max = 0xff): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new UdsRequestError(`${name} must be an integer from 0 to 0x${max.toString(16)}, got ${value}`);
  }
  return value;
}

export function message(...parts: (number | Uint8Array | readonly number[])[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += typeof part === 'number' ? 1 : part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    if (typeof part === 'number') out[at++] = part;
    else {
      out.set(part, at);
      at += part.length;
    }
  }
  return out;
}

/** Big-endian unsigned integer of `length` bytes (1-6, so it stays a safe integer). */
export function readUint(bytes: Uint8Array, offset: number, length: number): number {
  let value = 0;
  for (let index = 0; index < length; index += 1) value = value * 256 + bytes[offset + index]!;
  return value;
}

export function writeUint(value: number, length: number, name = 'value'): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 256 ** length) {
    throw new UdsRequestError(`${name} ${value} does not fit ${length} byte(s)`);
  }
  const out = new Uint8Array(length);
  for (let index = length - 1; index >= 0; index -= 1) {
    out[index] = value % 256;
    value = Math.floor(value / 256);
  }
  return out;
}

/** Bytes needed to write `value` big-endian (at least `min`). */
export function bytesFor(value: number, min = 1): number {
  let length = min;
  while (value >= 256 ** length) length += 1;
  return length;
}

export function did(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

export function didBytes(identifier: number): [number, number] {
  byteValue('data identifier', identifier, 0xffff);
  return [identifier >> 8, identifier & 0xff];
}

/** Server side: the request is at least `min` bytes, else 0x13. */
export function requireLength(request: Uint8Array, min: number, exact = false): void {
  if (request.length < min || (exact && request.length !== min)) {
    throw invalidFormat(`expected ${exact ? '' : 'at least '}${min} bytes, got ${request.length}`);
  }
}

/** Client side: a positive response of this service, at least `min` bytes long. */
export function checkResponse(response: Uint8Array, sid: number, min: number, name: string): void {
  if (response[0] !== sid + POSITIVE_RESPONSE_OFFSET) {
    throw new UdsResponseError(`${name}: expected response SID 0x${(sid + POSITIVE_RESPONSE_OFFSET).toString(16)}, got 0x${(response[0] ?? 0).toString(16)}`);
  }
  if (response.length < min) throw new UdsResponseError(`${name}: response of ${response.length} bytes, expected at least ${min}`);
}

export function checkEcho(name: string, field: string, expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) {
    throw new UdsResponseError(`${name}: response echoes ${field} 0x${actual.toString(16)}, request had 0x${expected.toString(16)}`);
  }
}
