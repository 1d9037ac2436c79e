import { createHmac } from 'node:crypto';
import { invalidFormat } from '../errors.ts';
import { NegativeResponseCode as Nrc } from '../nrc.ts';
import { ServiceId } from '../service-ids.ts';
import { checkEcho, checkResponse, message, requireLength, subFunctionByte, type SuppressibleRequest, type UdsService } from '../service.ts';

/**
 * 0x27 SecurityAccess (ISO 14229-1 §10.4). A security *level* is named by its requestSeed sub-function
 * (odd: 0x01, 0x03, … 0x41); the matching sendKey is level + 1.
 */
export interface SecurityAccessRequest extends SuppressibleRequest {
  subFunction: number;
  /** requestSeed: securityAccessDataRecord (optional); sendKey: the key. */
  data: Uint8Array;
}

export interface SecurityAccessResponse {
  subFunction: number;
  /** requestSeed: the seed (all zero when the level is already unlocked); sendKey: empty. */
  seed: Uint8Array;
}

export const isRequestSeed = (subFunction: number): boolean => subFunction % 2 === 1;
/** The security level a sub-function belongs to (its requestSeed value). */
export const securityLevelOf = (subFunction: number): number => (isRequestSeed(subFunction) ? subFunction : subFunction - 1);
export const requestSeedSubFunction = (level: number): number => level;
export const sendKeySubFunction = (level: number): number => level + 1;

/** Levels ISO 14229-1 Table 42 leaves to the vehicle manufacturer: odd values 0x01-0x41. */
export function isValidSecurityLevel(level: number): boolean {
  return Number.isInteger(level) && level >= 0x01 && level <= 0x41 && level % 2 === 1;
}

/**
 * canota's seed/key algorithm: the key is the first `keyLength` bytes of HMAC-SHA256(secret, seed).
 * Without the per-ECU secret no key can be computed from seeds seen on the bus.
 */
export function computeSecurityKey(secret: Uint8Array | string, seed: Uint8Array, keyLength = 16): Uint8Array {
  return new Uint8Array(createHmac('sha256', secret).update(seed).digest().subarray(0, keyLength));
}

export const securityAccess: UdsService<SecurityAccessRequest, SecurityAccessResponse> = {
  sid: ServiceId.SecurityAccess,
  name: 'SecurityAccess',
  hasSubFunction: true,
  negativeResponseCodes: [
    Nrc.SubFunctionNotSupported, Nrc.IncorrectMessageLengthOrInvalidFormat, Nrc.ConditionsNotCorrect, Nrc.RequestSequenceError,
    Nrc.RequestOutOfRange, Nrc.InvalidKey, Nrc.ExceededNumberOfAttempts, Nrc.RequiredTimeDelayNotExpired,
  ],
  encodeRequest: (request) => message(ServiceId.SecurityAccess, subFunctionByte(request.subFunction, request), request.data),
  decodeRequest(request) {
    requireLength(request, 2);
    const subFunction = request[1]! & 0x7f;
    if (!isRequestSeed(subFunction) && request.length < 3) throw invalidFormat('sendKey without a key');
    return { subFunction, data: request.slice(2), suppressPositiveResponse: (request[1]! & 0x80) !== 0 };
  },
  encodeResponse: (response) => message(ServiceId.SecurityAccess + 0x40, response.subFunction, response.seed),
  decodeResponse(response, request) {
    checkResponse(response, ServiceId.SecurityAccess, 2, 'SecurityAccess');
    checkEcho('SecurityAccess', 'sub-function', request?.subFunction, response[1]!);
    return { subFunction: response[1]!, seed: response.slice(2) };
  },
};
