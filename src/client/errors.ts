import { OtaHttpError, ResponseStatusError, RequestAbortedError, type OtaHttpErrorCode } from '../ota-http/errors.ts';
import { toOtaHttpError } from '../ota-http/transport-errors.ts';
import { errorMessage } from '../errors/error-message.ts';

/**
 * Why a download cycle failed. The agent returns it in a `failed` outcome, logs it and decides from it
 * whether another try can help; the CLI turns any of them into exit code 1.
 */
export type FailureReason =
  /** Connection refused, reset or closed early, DNS failure. */
  | 'connection'
  /** No answer (connect or response headers) within the timeout. */
  | 'timeout'
  /** The body came in slower than `minSpeed` bytes/s for `stallTimeout` seconds. */
  | 'stalled'
  /** The server answered 5xx. */
  | 'server-error'
  /** The server asks us to slow down (429). */
  | 'rate-limited'
  /** The server does not know us (401): no token, or one it does not know. */
  | 'unauthorized'
  /** The server will not serve this client (403 outside a download: IP allowlist, another vehicle's token). */
  | 'forbidden'
  /** The server refused the nonce (403): missing, used or expired. */
  | 'nonce-rejected'
  /** The announced file (or the route) is not on the server (404, 405). */
  | 'not-found'
  /** An answer that breaks the protocol: bad JSON, unexpected status, bad Content-Range, unsafe file name. */
  | 'bad-response'
  /** The body was shorter or longer than announced (a longer one is cut off: endless-data attack). */
  | 'length-mismatch'
  /** The bytes do not hash to the announced SHA-256. */
  | 'hash-mismatch'
  /** The pluggable verification step (e.g. a manifest signature) rejected the file. */
  | 'verification-failed'
  /** The local disk failed us: cannot write the state dir or the download dir. */
  | 'storage'
  /** Another client process holds the state dir. */
  | 'locked'
  /** Stopped through the AbortSignal. */
  | 'aborted';

/** Reasons where another try (fresh nonce, resume from disk) may succeed. */
const retryableReasons: ReadonlySet<FailureReason> = new Set<FailureReason>([
  'connection', 'timeout', 'stalled', 'server-error', 'rate-limited', 'nonce-rejected', 'not-found', 'bad-response',
  'length-mismatch', 'hash-mismatch',
]);

/**
 * What each failure of the OTA server's HTTP taxonomy (src/ota-http/errors.ts) means for a download
 * cycle. The classification is the taxonomy's; only the consequence is the client's.
 */
const reasonByCode: Readonly<Record<OtaHttpErrorCode, FailureReason>> = {
  // Thrown by the constructor only, never during a cycle; listed so the table stays complete.
  OTA_HTTP_INVALID_URL: 'connection',
  OTA_HTTP_CONNECTION: 'connection',
  OTA_HTTP_TIMEOUT: 'timeout',
  OTA_HTTP_BODY_TIMEOUT: 'stalled',
  OTA_HTTP_ABORTED: 'aborted',
  OTA_HTTP_UNAUTHORIZED: 'unauthorized',
  OTA_HTTP_FORBIDDEN: 'forbidden',
  OTA_HTTP_NOT_FOUND: 'not-found',
  // The client only sends GETs the server should understand: a 400 is a protocol disagreement, worth another try.
  OTA_HTTP_REJECTED: 'bad-response',
  OTA_HTTP_RATE_LIMITED: 'rate-limited',
  OTA_HTTP_SERVER_ERROR: 'server-error',
  OTA_HTTP_UNEXPECTED_STATUS: 'bad-response',
  OTA_HTTP_BODY_TOO_LARGE: 'bad-response',
  OTA_HTTP_BAD_JSON: 'bad-response',
  OTA_HTTP_MALFORMED: 'bad-response',
  OTA_HTTP_UNEXPECTED_ANSWER: 'bad-response',
};

/** The client layer's one error type: every failure carries a reason the agent can act on. */
export class ClientError extends Error {
  override name = 'ClientError';
  readonly reason: FailureReason;
  /** HTTP status when the failure came from a server answer. */
  readonly status: number | undefined;
  /** The server's `Retry-After` (ms) on a 429 or 5xx: the next try waits at least this long. */
  readonly retryAfterMs: number | undefined;

  constructor(reason: FailureReason, message: string,
    options: { cause?: unknown; status?: number | undefined; retryAfterMs?: number | undefined } = {}) {
    super(message, { cause: options.cause });
    this.reason = reason;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retryable(): boolean {
    return retryableReasons.has(this.reason);
  }

  /** The client's reading of a failure of the HTTP taxonomy; `reason` overrides where the protocol adds meaning. */
  static fromHttp(error: OtaHttpError, reason: FailureReason = reasonByCode[error.code], message = error.message): ClientError {
    const answer = error instanceof ResponseStatusError ? error : undefined;
    return new ClientError(reason, message, { cause: error, status: answer?.status, retryAfterMs: answer?.retryAfterMs });
  }
}

/**
 * Any failure of a cycle as a ClientError: a ClientError passes through, the HTTP taxonomy's errors get
 * their reason from the table above, a file system error is `storage`, anything else is classified by
 * the HTTP taxonomy (a download body fails with undici's or the socket's errors).
 */
export function toClientError(error: unknown, what: string): ClientError {
  if (error instanceof ClientError) return error;
  // The download's own aborts (stop, stall) carry their ClientError as the signal's reason.
  if (error instanceof RequestAbortedError && error.cause instanceof ClientError) return error.cause;
  if (error instanceof OtaHttpError) return ClientError.fromHttp(error);
  // File system errors name a path; socket errors do not.
  if (error !== null && typeof error === 'object' && typeof (error as { path?: unknown }).path === 'string') {
    return new ClientError('storage', `${what}: ${errorMessage(error)}`, { cause: error });
  }
  return ClientError.fromHttp(toOtaHttpError(error, what));
}
