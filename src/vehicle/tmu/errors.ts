/**
 * The TMU layer's errors. Flashing one ECU fails with the FlashSessionErrors of `flash-errors.ts`; these
 * are the TMU's own: the server's answers, releases it refuses, a broken state dir. The TMU logs them with
 * their name and decides from the type what happens next (retry at the next poll, give the campaign up).
 */
export class TmuError extends Error {
  override name = 'TmuError';
}

/**
 * Why a request to the OTA server failed. `retryable`: the same request may work later (network, 5xx, a
 * route that is not there yet); otherwise the request itself is wrong (400) and repeating it cannot help.
 */
export type ServerFailure = 'unreachable' | 'server-error' | 'no-route' | 'unauthorized' | 'forbidden' | 'rejected' | 'bad-response';

export class ServerApiError extends TmuError {
  override name = 'ServerApiError';
  readonly failure: ServerFailure;
  readonly status: number | undefined;
  constructor(failure: ServerFailure, message: string, options: ErrorOptions & { status?: number } = {}) {
    super(message, options);
    this.failure = failure;
    this.status = options.status;
  }

  get retryable(): boolean {
    return this.failure !== 'rejected';
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
