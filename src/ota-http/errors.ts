/**
 * The one error taxonomy for talking HTTP to the canota OTA server, after undici's coded errors: every
 * failure this folder throws on purpose has its own class and a stable `code`, so callers branch on the
 * code (`error.code === 'OTA_HTTP_RATE_LIMITED'`), never on message text, which is for people and may
 * change. The download client and the TMU both classify failures through these codes; each layer then
 * decides what a code means for it (retry, give up, exit code), not what happened on the wire.
 */
export type OtaHttpErrorCode =
  | 'OTA_HTTP_INVALID_URL'
  | 'OTA_HTTP_CONNECTION'
  | 'OTA_HTTP_TIMEOUT'
  | 'OTA_HTTP_BODY_TIMEOUT'
  | 'OTA_HTTP_ABORTED'
  | 'OTA_HTTP_UNAUTHORIZED'
  | 'OTA_HTTP_FORBIDDEN'
  | 'OTA_HTTP_NOT_FOUND'
  | 'OTA_HTTP_REJECTED'
  | 'OTA_HTTP_RATE_LIMITED'
  | 'OTA_HTTP_SERVER_ERROR'
  | 'OTA_HTTP_UNEXPECTED_STATUS'
  | 'OTA_HTTP_BODY_TOO_LARGE'
  | 'OTA_HTTP_BAD_JSON'
  | 'OTA_HTTP_MALFORMED'
  | 'OTA_HTTP_UNEXPECTED_ANSWER';

export abstract class OtaHttpError extends Error {
  abstract readonly code: OtaHttpErrorCode;
}

/** The server URL is not http(s): a configuration mistake, found before any request. */
export class InvalidServerUrlError extends OtaHttpError {
  override name = 'InvalidServerUrlError';
  readonly code = 'OTA_HTTP_INVALID_URL';
}

/** No usable connection: refused, reset, closed before the answer was complete, DNS failure, TLS failure. */
export class ConnectionError extends OtaHttpError {
  override name = 'ConnectionError';
  readonly code = 'OTA_HTTP_CONNECTION';
}

/** Nothing within the timeout: the connection was not established, or the response headers never came. */
export class ResponseTimeoutError extends OtaHttpError {
  override name = 'ResponseTimeoutError';
  readonly code = 'OTA_HTTP_TIMEOUT';
}

/** The headers came, then the body went silent for longer than the body timeout. */
export class BodyTimeoutError extends OtaHttpError {
  override name = 'BodyTimeoutError';
  readonly code = 'OTA_HTTP_BODY_TIMEOUT';
}

/** The caller's AbortSignal ended the request. */
export class RequestAbortedError extends OtaHttpError {
  override name = 'RequestAbortedError';
  readonly code = 'OTA_HTTP_ABORTED';
}

/**
 * The server answered with a status the caller did not expect. The subclass (and its code) says which
 * kind; `status` keeps the exact number, `serverMessage` the `{error}` text of the body.
 */
export abstract class ResponseStatusError extends OtaHttpError {
  readonly status: number;
  readonly serverMessage: string;
  /** The server's `Retry-After`, in milliseconds from when the answer arrived; undefined without one. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, details: { status: number; serverMessage: string; retryAfterMs?: number | undefined }) {
    super(message);
    this.status = details.status;
    this.serverMessage = details.serverMessage;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** 401: no token, or one the server does not know. */
export class UnauthorizedError extends ResponseStatusError {
  override name = 'UnauthorizedError';
  readonly code = 'OTA_HTTP_UNAUTHORIZED';
}

/** 403: the server knows who asks and refuses (another vehicle's VIN, IP allowlist, a used nonce). */
export class ForbiddenError extends ResponseStatusError {
  override name = 'ForbiddenError';
  readonly code = 'OTA_HTTP_FORBIDDEN';
}

/** 404 or 405: nothing at this path for this method (a missing file, or a route an older server lacks). */
export class NotFoundError extends ResponseStatusError {
  override name = 'NotFoundError';
  readonly code = 'OTA_HTTP_NOT_FOUND';
}

/** 400, 413, 422: the request itself is wrong; sending it again unchanged cannot help. */
export class RequestRejectedError extends ResponseStatusError {
  override name = 'RequestRejectedError';
  readonly code = 'OTA_HTTP_REJECTED';
}

/** 429: the server asks us to slow down, often with `Retry-After`. */
export class RateLimitedError extends ResponseStatusError {
  override name = 'RateLimitedError';
  readonly code = 'OTA_HTTP_RATE_LIMITED';
}

/** 5xx: the server (or a proxy in front of it) failed; 503 may carry `Retry-After`. */
export class ServerError extends ResponseStatusError {
  override name = 'ServerError';
  readonly code = 'OTA_HTTP_SERVER_ERROR';
}

/** Any other status (a redirect, 409, 418 …): not part of the protocol. */
export class UnexpectedStatusError extends ResponseStatusError {
  override name = 'UnexpectedStatusError';
  readonly code = 'OTA_HTTP_UNEXPECTED_STATUS';
}

/** An answer body longer than the caller allows: a broken or hostile server must not fill our memory. */
export class BodyTooLargeError extends OtaHttpError {
  override name = 'BodyTooLargeError';
  readonly code = 'OTA_HTTP_BODY_TOO_LARGE';
  readonly limit: number;

  constructor(message: string, limit: number) {
    super(message);
    this.limit = limit;
  }
}

/** A JSON answer that does not parse. */
export class BadJsonError extends OtaHttpError {
  override name = 'BadJsonError';
  readonly code = 'OTA_HTTP_BAD_JSON';
}

/** Bytes that are not HTTP at all (the parser gave up), or a response undici refused as invalid. */
export class MalformedResponseError extends OtaHttpError {
  override name = 'MalformedResponseError';
  readonly code = 'OTA_HTTP_MALFORMED';
}

/**
 * JSON that parses but is not what the route promises: a `/latest_version` answer of the wrong shape, a
 * SHA-256 that is not 64 hex digits, or a file name that could escape the download dir (it comes from the
 * network and becomes a path on the vehicle).
 */
export class UnexpectedAnswerError extends OtaHttpError {
  override name = 'UnexpectedAnswerError';
  readonly code = 'OTA_HTTP_UNEXPECTED_ANSWER';
}
