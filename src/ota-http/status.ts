import {
  ForbiddenError, NotFoundError, RateLimitedError, RequestRejectedError, ServerError, UnauthorizedError,
  UnexpectedStatusError, type ResponseStatusError,
} from './errors.ts';

/**
 * The one map from an unexpected HTTP status to an error, for every call to the OTA server. Whether a
 * status is expected (a 304 to a revalidation, a 206 to a Range request, a 404 that means "older server")
 * is the caller's business; everything it does not expect goes through here.
 */
export function statusError(status: number, what: string, serverMessage: string, retryAfter?: string | string[]): ResponseStatusError {
  const details = { status, serverMessage, retryAfterMs: retryAfterMs(retryAfter) };
  const message = `${what} answered ${status}: ${serverMessage}`;
  if (status >= 500 && status <= 599) return new ServerError(message, details);
  switch (status) {
    case 401: return new UnauthorizedError(message, details);
    case 403: return new ForbiddenError(message, details);
    case 404:
    case 405: return new NotFoundError(message, details);
    case 400:
    case 413:
    case 422: return new RequestRejectedError(message, details);
    case 429: return new RateLimitedError(message, details);
    default: return new UnexpectedStatusError(message, details);
  }
}

/**
 * `Retry-After` (RFC 9110, 10.2.3) as milliseconds from now: delay-seconds or an HTTP-date. Undefined when
 * absent or unreadable; a date in the past is 0.
 */
export function retryAfterMs(header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  // Every HTTP-date form starts with the day's name; Date.parse alone would read "-5" as a year.
  if (!/^[A-Za-z]{3}/.test(value)) return undefined;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
