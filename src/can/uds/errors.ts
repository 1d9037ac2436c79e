import { NegativeResponseCode, nrcName } from './nrc.ts';
import { describeSid } from './service-ids.ts';
import { errorMessage } from '../../errors/error-message.ts';

/** The UDS layer's errors; everything the client, the server framework and the codecs throw on purpose. */
export class UdsError extends Error {
  override name = 'UdsError';
}

/** The server answered 0x7F SID NRC. */
export class NegativeResponseError extends UdsError {
  override name = 'NegativeResponseError';
  readonly sid: number;
  readonly nrc: number;
  readonly nrcName: string;
  constructor(sid: number, nrc: number) {
    super(`${describeSid(sid)} refused: ${nrcName(nrc)} (0x${nrc.toString(16).padStart(2, '0')})`);
    this.sid = sid;
    this.nrc = nrc;
    this.nrcName = nrcName(nrc);
  }
}

/** No (final) response within P2, or within P2* after a response-pending NRC 0x78. */
export class UdsTimeoutError extends UdsError {
  override name = 'UdsTimeoutError';
  readonly timer: 'P2' | 'P2*';
  readonly timeoutMs: number;
  readonly sid: number;
  constructor(sid: number, timer: 'P2' | 'P2*', timeoutMs: number) {
    super(`no response to ${describeSid(sid)} within ${timer} = ${timeoutMs} ms`);
    this.sid = sid;
    this.timer = timer;
    this.timeoutMs = timeoutMs;
  }
}

/** A response that does not fit the request: wrong SID, wrong echo, truncated. */
export class UdsResponseError extends UdsError {
  override name = 'UdsResponseError';
}

/** The transport (ISO-TP) failed under a request; `cause` holds the IsoTpError. */
export class UdsTransportError extends UdsError {
  override name = 'UdsTransportError';
  constructor(sid: number, cause: unknown) {
    super(`${describeSid(sid)}: transport failed: ${errorMessage(cause)}`, { cause });
  }
}

/** A request the client refuses to encode (argument out of range). */
export class UdsRequestError extends UdsError {
  override name = 'UdsRequestError';
}

/** UdsServer options or wiring that cannot work (a security level no tester could request, listening twice, …). */
export class UdsServerConfigurationError extends UdsError {
  override name = 'UdsServerConfigurationError';
}

/**
 * Thrown by request decoders and by server handlers (including the application's DID, routine and
 * download callbacks) to answer with a negative response: `throw new RequestRejectedError(0x22, 'engine running')`.
 */
export class RequestRejectedError extends UdsError {
  override name = 'RequestRejectedError';
  readonly nrc: NegativeResponseCode;
  constructor(nrc: NegativeResponseCode, reason?: string) {
    super(reason ? `${nrcName(nrc)}: ${reason}` : nrcName(nrc));
    this.nrc = nrc;
  }
}

/** Shorthand for decoders: a malformed request is answered 0x13. */
export function invalidFormat(reason: string): RequestRejectedError {
  return new RequestRejectedError(NegativeResponseCode.IncorrectMessageLengthOrInvalidFormat, reason);
}
