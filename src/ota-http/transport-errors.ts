import { errors } from 'undici';
import { errorMessage } from '../errors/error-message.ts';
import {
  BodyTimeoutError, ConnectionError, MalformedResponseError, OtaHttpError, RequestAbortedError, ResponseTimeoutError,
} from './errors.ts';

/**
 * Classifies what undici or the socket threw while sending a request or reading its answer. An
 * OtaHttpError passes through unchanged; anything else keeps the original as `cause`.
 *
 * `aborted` says the caller's AbortSignal fired: undici then rejects with the signal's reason, which can
 * be any value (the download client aborts with its own errors), so the signal decides, not the value.
 */
export function toOtaHttpError(error: unknown, what: string, aborted = false): OtaHttpError {
  if (error instanceof OtaHttpError) return error;
  const message = `${what}: ${errorMessage(error)}`;
  const options = { cause: error };
  if (aborted || error instanceof errors.RequestAbortedError || (error instanceof Error && error.name === 'AbortError')) {
    return new RequestAbortedError(message, options);
  }
  if (error instanceof errors.ConnectTimeoutError || error instanceof errors.HeadersTimeoutError) {
    return new ResponseTimeoutError(message, options);
  }
  if (error instanceof errors.BodyTimeoutError) return new BodyTimeoutError(message, options);
  if (error instanceof errors.HTTPParserError || error instanceof errors.HeadersOverflowError) {
    return new MalformedResponseError(message, options);
  }
  // Refused, reset, "other side closed", DNS and TLS failures: all "no usable connection", worth another try.
  return new ConnectionError(message, options);
}
