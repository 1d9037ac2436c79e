import { Agent, errors, request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import { AnswerTooLargeError, errorMessageOf, readBodyText } from './http-body.ts';
import { ClientError, type FailureReason } from './errors.ts';
import { CookieJar } from './cookie-jar.ts';
import { parseLatestVersion, type Release } from './release.ts';

export interface OtaServerOptions {
  /** Base URL of the server; a path prefix (a reverse proxy's `/ota/`) is kept. */
  url: string | URL;
  /** Vehicle credential, sent as `Authorization: Bearer …` on every request. */
  token?: string | undefined;
  /** Connect and response-header timeout, and the idle limit for small JSON answers. */
  timeoutMs: number;
  /** Extra trusted CA certificates (PEM) for an https server with a private CA. */
  ca?: string | Buffer | undefined;
  userAgent?: string;
}

/** What `/latest_version` said, remembered with its `ETag` so an unchanged answer costs a 304. */
export interface LatestVersionCache {
  entityTag: string;
  release: Release | null;
}

export interface DownloadResponse {
  status: number;
  headers: Dispatcher.ResponseData['headers'];
  body: Dispatcher.ResponseData['body'];
}

/** Small JSON answers are read whole; a server sending more is broken or hostile. */
const jsonLimitBytes = 64 * 1024;

/**
 * The HTTP side of the seed's protocol (DESIGN.md, "OTA server"): one connection pool (undici Agent,
 * keep-alive) for the life of the client; `session()` starts a cycle with its own cookies.
 */
export class OtaServer {
  readonly base: URL;
  readonly #dispatcher: Agent;
  readonly #options: OtaServerOptions;

  constructor(options: OtaServerOptions) {
    this.base = new URL(options.url);
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new TypeError(`server URL must be http or https: ${this.base.href}`);
    }
    if (!this.base.pathname.endsWith('/')) this.base.pathname += '/';
    this.#options = options;
    // One connection: the client's requests are strictly sequential, and the server (and the fault
    // proxy in the tests) sees one keep-alive connection per vehicle instead of a burst of them.
    this.#dispatcher = new Agent({
      connections: 1,
      connect: { timeout: options.timeoutMs, ...(options.ca ? { ca: options.ca } : {}) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  session(): ServerSession {
    return new ServerSession(this.base, this.#dispatcher, this.#options);
  }

  async close(): Promise<void> {
    await this.#dispatcher.close();
  }
}

/** One cycle's conversation with the server: its requests share a cookie jar (the seed's nonce cookie). */
export class ServerSession {
  readonly #cookies = new CookieJar();

  constructor(
    private readonly base: URL,
    private readonly dispatcher: Dispatcher,
    private readonly options: OtaServerOptions,
  ) {}

  /**
   * `GET /latest_version`. With a cache from an earlier cycle it sends `If-None-Match`, and a 304
   * returns the cached release without a body to parse.
   */
  async latestVersion(cache: LatestVersionCache | undefined, signal?: AbortSignal):
    Promise<{ release: Release | null; cache: LatestVersionCache | undefined; notModified: boolean }> {
    const headers: Record<string, string> = cache ? { 'if-none-match': cache.entityTag } : {};
    const response = await this.#send('latest_version', { headers, signal });
    if (response.statusCode === 304 && cache) {
      await response.body.dump();
      return { release: cache.release, cache, notModified: true };
    }
    const body = await this.#json(response, '/latest_version');
    const release = parseLatestVersion(body);
    const entityTag = headerValue(response.headers.etag);
    return { release, cache: entityTag ? { entityTag, release } : undefined, notModified: false };
  }

  /** `GET /get_nonce`: a fresh single-use nonce for the next download request. */
  async nonce(signal?: AbortSignal): Promise<string> {
    const response = await this.#send('get_nonce', { signal });
    const body = await this.#json(response, '/get_nonce');
    const nonce = (body as { nonce?: unknown } | null)?.nonce;
    if (typeof nonce !== 'string' || !/^[\w-]{8,512}$/.test(nonce)) {
      throw new ClientError('bad-response', `/get_nonce answered without a usable nonce: ${JSON.stringify(body)}`);
    }
    return nonce;
  }

  /**
   * `GET /ota_download/<filename>?nonce=…` with the caller's `Range`/`If-Range`. Returns 200/206/416
   * answers with their body unread; every other status becomes a typed error here.
   */
  async download(filename: string, nonce: string, headers: Record<string, string>,
    options: { signal: AbortSignal; bodyTimeoutMs: number }): Promise<DownloadResponse> {
    const path = `ota_download/${encodeURIComponent(filename)}?nonce=${encodeURIComponent(nonce)}`;
    const response = await this.#send(path, {
      headers, signal: options.signal, bodyTimeout: options.bodyTimeoutMs, highWaterMark: 1 << 20,
    });
    const { statusCode: status } = response;
    if (status === 200 || status === 206 || status === 416) return { status, headers: response.headers, body: response.body };
    const message = await errorMessageOf(response);
    if (status === 403) throw new ClientError('nonce-rejected', `download refused (403): ${message}`, { status });
    if (status === 404) throw new ClientError('not-found', `${filename} is not on the server (404): ${message}`, { status });
    throw statusError(status, `/ota_download/${filename}`, message);
  }

  async #send(path: string, options: {
    headers?: Record<string, string>; signal?: AbortSignal | undefined; bodyTimeout?: number; highWaterMark?: number;
  }):
    Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = {
      'user-agent': this.options.userAgent ?? 'canota-client',
      ...options.headers,
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    const cookie = this.#cookies.header();
    if (cookie) headers.cookie = cookie;
    let response: Dispatcher.ResponseData;
    try {
      response = await request(new URL(path, this.base), {
        dispatcher: this.dispatcher,
        method: 'GET',
        headers,
        signal: options.signal,
        ...(options.bodyTimeout !== undefined ? { bodyTimeout: options.bodyTimeout } : {}),
        ...(options.highWaterMark !== undefined ? { highWaterMark: options.highWaterMark } : {}),
      });
    } catch (error) {
      throw toClientError(error, `GET /${path.split('?')[0]}`);
    }
    this.#cookies.store(response.headers['set-cookie']);
    return response;
  }

  async #json(response: Dispatcher.ResponseData, what: string): Promise<unknown> {
    if (response.statusCode !== 200) throw statusError(response.statusCode, what, await errorMessageOf(response));
    const text = await readLimited(response.body, jsonLimitBytes, what);
    try {
      return JSON.parse(text);
    } catch {
      throw new ClientError('bad-response', `${what} did not answer JSON: ${text.slice(0, 200)}`);
    }
  }
}

function statusError(status: number, what: string, message: string): ClientError {
  const reason: FailureReason = status >= 500 ? 'server-error'
    : status === 429 ? 'rate-limited'
    : status === 401 || status === 403 ? 'forbidden'
    : 'bad-response';
  return new ClientError(reason, `${what} answered ${status}: ${message}`, { status });
}

async function readLimited(body: Readable, limit: number, what: string): Promise<string> {
  try {
    return await readBodyText(body, limit);
  } catch (error) {
    if (error instanceof AnswerTooLargeError) throw new ClientError('bad-response', `${what}: ${error.message}`);
    throw toClientError(error, what);
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Maps undici's and the socket's errors to the client's reasons; a ClientError passes through. */
export function toClientError(error: unknown, what: string): ClientError {
  if (error instanceof ClientError) return error;
  const message = `${what}: ${error instanceof Error ? error.message : String(error)}`;
  if (error instanceof errors.RequestAbortedError || (error instanceof Error && error.name === 'AbortError')) {
    return new ClientError('aborted', message, { cause: error });
  }
  if (error instanceof errors.ConnectTimeoutError || error instanceof errors.HeadersTimeoutError) {
    return new ClientError('timeout', message, { cause: error });
  }
  if (error instanceof errors.BodyTimeoutError) return new ClientError('stalled', message, { cause: error });
  if (error instanceof errors.HTTPParserError) return new ClientError('bad-response', message, { cause: error });
  // File system errors name a path; socket errors do not.
  if (typeof (error as { path?: unknown }).path === 'string') return new ClientError('storage', message, { cause: error });
  return new ClientError('connection', message, { cause: error });
}
