import { Agent, request } from 'undici';
import { InvalidServerUrlError } from './errors.ts';
import { OtaResponse } from './response.ts';
import { toOtaHttpError } from './transport-errors.ts';

export interface OtaHttpClientOptions {
  /** Base URL of the server; a path prefix (a reverse proxy's `/ota/`) is kept. */
  url: string | URL;
  /** Vehicle credential, sent as `Authorization: Bearer …` on every request. */
  token?: string | undefined;
  /** Connect, response-header and body-idle timeout. Default 30 s. */
  timeoutMs?: number | undefined;
  /** Extra trusted CA certificates (PEM) for an https server with a private CA. */
  ca?: string | Buffer | undefined;
  /** Who is asking, for the server's logs: `canota-client`, `canota-tmu`. */
  userAgent: string;
  /** Connections to keep open at most; leave undefined for undici's default (as many as requests in flight). */
  connections?: number | undefined;
}

export interface OtaRequestOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A request body, sent as `application/json`. */
  json?: unknown;
  signal?: AbortSignal | undefined;
  /** Overrides the body-idle timeout for this request (a firmware download has its own stall limit). */
  bodyTimeoutMs?: number;
  /** Bytes buffered ahead of the consumer; large for a firmware image, undici's default for JSON. */
  highWaterMark?: number;
}

const defaultTimeoutMs = 30_000;

/**
 * Talking HTTP to the canota OTA server: one connection pool (undici Agent, keep-alive) for the life of
 * its owner, the token on every request, and every failure to get an answer classified into the one
 * error taxonomy (`errors.ts`). Any status resolves: what a status means is the caller's protocol
 * (`OtaResponse.json()` and `statusError()` apply the one status map).
 */
export class OtaHttpClient {
  readonly base: URL;
  readonly #token: string | undefined;
  readonly #userAgent: string;
  readonly #dispatcher: Agent;

  constructor(options: OtaHttpClientOptions) {
    this.base = new URL(options.url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new InvalidServerUrlError(`server URL must be http or https: ${this.base.href}`);
    }
    // Relative paths resolve under the base's path, so a server behind `/ota/` keeps its prefix.
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.#token = options.token || undefined;
    this.#userAgent = options.userAgent;
    const timeout = options.timeoutMs ?? defaultTimeoutMs;
    this.#dispatcher = new Agent({
      ...(options.connections !== undefined ? { connections: options.connections } : {}),
      connect: { timeout, ...(options.ca ? { ca: options.ca } : {}) },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
  }

  get hasToken(): boolean {
    return this.#token !== undefined;
  }

  /** Sends one request to `path` (relative to the base, query allowed) and resolves with the answer, whatever its status. */
  async request(path: string, options: OtaRequestOptions = {}): Promise<OtaResponse> {
    const method = options.method ?? 'GET';
    const what = `${method} /${path.split('?')[0]}`;
    const headers: Record<string, string> = { 'user-agent': this.#userAgent, ...options.headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    try {
      const data = await request(new URL(path, this.base), {
        dispatcher: this.#dispatcher,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.bodyTimeoutMs !== undefined ? { bodyTimeout: options.bodyTimeoutMs } : {}),
        ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      });
      return new OtaResponse(data, what, options.signal);
    } catch (error) {
      throw toOtaHttpError(error, what, options.signal?.aborted);
    }
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}
