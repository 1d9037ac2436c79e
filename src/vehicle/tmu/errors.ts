import { ResponseStatusError, type OtaHttpError, type OtaHttpErrorCode } from '../../ota-http/errors.ts';

/**
 * The TMU layer's errors. Flashing one ECU fails with the FlashSessionErrors of `flash-errors.ts`; these
 * are the TMU's own: the server's answers, releases it refuses, a broken state dir. The TMU logs them with
 * their name and decides from the type what happens next (retry at the next poll, give the campaign up).
 */
export class TmuError extends Error {
  override name = 'TmuError';
}

/**
 * Why a request to the OTA server failed, as the TMU acts on it. `retryable`: the same request may work
 * later (network, 429, 5xx, a route that is not there yet, a token not yet registered); otherwise the request
 * itself is wrong (400) and repeating it cannot help.
 */
export type ServerFailure =
  | 'unreachable' | 'server-error' | 'rate-limited' | 'no-route' | 'unauthorized' | 'forbidden' | 'rejected' | 'bad-response';

/**
 * What each failure of the OTA server's HTTP taxonomy (src/ota-http/errors.ts) means to the TMU: the
 * classification is the taxonomy's, this table only names it in the TMU's words.
 */
const failureByCode: Readonly<Record<OtaHttpErrorCode, ServerFailure>> = {
  // Thrown by the constructor only, never by a request; listed so the table stays complete.
  OTA_HTTP_INVALID_URL: 'unreachable',
  OTA_HTTP_CONNECTION: 'unreachable',
  OTA_HTTP_TIMEOUT: 'unreachable',
  OTA_HTTP_BODY_TIMEOUT: 'unreachable',
  OTA_HTTP_ABORTED: 'unreachable',
  OTA_HTTP_UNAUTHORIZED: 'unauthorized',
  OTA_HTTP_FORBIDDEN: 'forbidden',
  OTA_HTTP_NOT_FOUND: 'no-route',
  OTA_HTTP_REJECTED: 'rejected',
  OTA_HTTP_RATE_LIMITED: 'rate-limited',
  OTA_HTTP_SERVER_ERROR: 'server-error',
  OTA_HTTP_UNEXPECTED_STATUS: 'bad-response',
  OTA_HTTP_BODY_TOO_LARGE: 'bad-response',
  OTA_HTTP_BAD_JSON: 'bad-response',
  OTA_HTTP_MALFORMED: 'bad-response',
  OTA_HTTP_UNEXPECTED_ANSWER: 'bad-response',
};

export class ServerApiError extends TmuError {
  override name = 'ServerApiError';
  readonly failure: ServerFailure;
  readonly status: number | undefined;
  constructor(failure: ServerFailure, message: string, options: ErrorOptions & { status?: number | undefined } = {}) {
    super(message, options);
    this.failure = failure;
    this.status = options.status;
  }

  get retryable(): boolean {
    return this.failure !== 'rejected';
  }

  /** A failure of the HTTP taxonomy in the TMU's words; the original stays as `cause` (with its `code`). */
  static fromHttp(error: OtaHttpError): ServerApiError {
    const status = error instanceof ResponseStatusError ? error.status : undefined;
    return new ServerApiError(failureByCode[error.code], error.message, { cause: error, status });
  }
}

/**
 * A release the TMU will not install: no manifest or a bad signature while the vehicle trusts keys, a
 * manifest that does not describe the announced file, an ECU the vehicle does not have.
 */
export class ReleaseRejectedError extends TmuError {
  override name = 'ReleaseRejectedError';
  readonly ecu: string;
  constructor(ecu: string, message: string, options?: ErrorOptions) {
    super(`${ecu}: ${message}`, options);
    this.ecu = ecu;
  }
}

/** `<state-dir>/tmu/state.json` cannot be read or written. */
export class TmuStateError extends TmuError {
  override name = 'TmuStateError';
}

/** A release could not be downloaded (after the download agent's own tries); `reason` is the agent's. */
export class DownloadFailedError extends TmuError {
  override name = 'DownloadFailedError';
  readonly ecu: string;
  readonly reason: string;
  constructor(ecu: string, reason: string, message: string) {
    super(`${ecu}: download failed (${reason}): ${message}`);
    this.ecu = ecu;
    this.reason = reason;
  }
}
