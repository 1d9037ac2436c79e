import type { Dispatcher } from 'undici';
import { errorMessageOf, jsonLimitBytes, parseJson, readBodyText } from './body.ts';
import type { ResponseStatusError } from './errors.ts';
import { statusError } from './status.ts';
import { toOtaHttpError } from './transport-errors.ts';

/**
 * One answer of the OTA server, body unread. The caller looks at `status` and either reads the body
 * (`json()`), streams it itself (`body`, for a firmware image), or turns the status into the taxonomy's
 * error (`statusError()`). Every answer's body must be consumed or discarded, or its connection stays busy.
 */
export class OtaResponse {
  readonly status: number;
  readonly headers: Dispatcher.ResponseData['headers'];
  readonly body: Dispatcher.ResponseData['body'];
  /** `GET /latest_version`: names the request in every error message (never the query, which may hold a nonce). */
  readonly what: string;
  readonly #signal: AbortSignal | undefined;

  constructor(data: Dispatcher.ResponseData, what: string, signal: AbortSignal | undefined) {
    this.status = data.statusCode;
    this.headers = data.headers;
    this.body = data.body;
    this.what = what;
    this.#signal = signal;
  }

  /** A header's (first) value. */
  header(name: string): string | undefined {
    const value = this.headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  }

  /**
   * The parsed JSON body, read up to the one JSON size limit. A status outside `expected` throws the
   * status's error instead (with the server's `{error}` message).
   */
  async json(expected: readonly number[] = [200]): Promise<unknown> {
    if (!expected.includes(this.status)) throw await this.statusError();
    let text: string;
    try {
      text = await readBodyText(this.body, jsonLimitBytes, this.what);
    } catch (error) {
      throw toOtaHttpError(error, this.what, this.#signal?.aborted);
    }
    return parseJson(text, this.what);
  }

  /** This answer as an error of the taxonomy (reads what the body says, a few KiB at most). */
  async statusError(): Promise<ResponseStatusError> {
    return statusError(this.status, this.what, await errorMessageOf(this.body), this.headers['retry-after']);
  }

  /** Reads and drops the body, so the connection can carry the next request. */
  async discard(): Promise<void> {
    try {
      await this.body.dump();
    } catch {
      // A body that fails while being thrown away changes nothing for the caller.
    }
  }
}
