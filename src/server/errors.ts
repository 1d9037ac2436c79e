/**
 * The server's error hierarchy: every failure a client can cause is one of these, and the one error
 * handler (`error-handler.ts`) turns it into JSON `{error}` for API routes or a readable page for HTML.
 * The message is shown to the client, so it never contains secrets or internals.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export class BadRequestError extends HttpError {
  override name = 'BadRequestError';
  constructor(message: string) { super(400, message); }
}

export class UnauthorizedError extends HttpError {
  override name = 'UnauthorizedError';
  constructor(message = 'login required') { super(401, message); }
}

export class ForbiddenError extends HttpError {
  override name = 'ForbiddenError';
  constructor(message: string) { super(403, message); }
}

export class NotFoundError extends HttpError {
  override name = 'NotFoundError';
  constructor(message = 'not found') { super(404, message); }
}

/** The request contradicts what is stored (e.g. a second release of one ECU's version). */
export class ConflictError extends HttpError {
  override name = 'ConflictError';
  constructor(message: string) { super(409, message); }
}

/** The thing existed and was taken away on purpose (a withdrawn release). */
export class GoneError extends HttpError {
  override name = 'GoneError';
  constructor(message: string) { super(410, message); }
}

export class PayloadTooLargeError extends HttpError {
  override name = 'PayloadTooLargeError';
  constructor(limitBytes: number) { super(413, `upload larger than the limit of ${limitBytes} bytes`); }
}

export class RangeNotSatisfiableError extends HttpError {
  override name = 'RangeNotSatisfiableError';
  constructor(size: number) { super(416, 'requested range not satisfiable', { 'content-range': `bytes */${size}` }); }
}

export class TooManyRequestsError extends HttpError {
  override name = 'TooManyRequestsError';
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
  }
}

/**
 * 401 for vehicles (RFC 6750): no token where one is required, or a token the server does not know.
 * Anonymous clients are fine unless the server requires tokens, but a wrong token is always an error.
 */
export class VehicleTokenError extends HttpError {
  override name = 'VehicleTokenError';
  constructor(message: string, invalid: boolean) {
    super(401, message, { 'www-authenticate': invalid ? 'Bearer realm="canota", error="invalid_token"' : 'Bearer realm="canota"' });
  }
}

/** 401 (RFC 6750) for a management API request whose Authorization header is malformed or names an unknown, revoked or expired token. */
export class ApiTokenError extends HttpError {
  override name = 'ApiTokenError';
  constructor(message: string) {
    super(401, message, { 'www-authenticate': 'Bearer realm="canota-api", error="invalid_token"' });
  }
}
