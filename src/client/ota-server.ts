import { ForbiddenError, NotFoundError } from '../ota-http/errors.ts';
import { OtaHttpClient } from '../ota-http/ota-http-client.ts';
import type { OtaResponse } from '../ota-http/response.ts';
import { ClientError, toClientError } from './errors.ts';
import { CookieJar } from './cookie-jar.ts';
import { parseLatestVersion, type Release } from '../ota-http/release.ts';

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

/**
 * A download answer (200, 206 or 416) with its body unread: streamed, or thrown away with `discard()`
 * (a body merely destroyed fails with an AbortError nobody listens for: a bodiless 416 crashed the client).
 */
export type DownloadResponse = Pick<OtaResponse, 'status' | 'body' | 'header' | 'discard'>;

/**
 * The seed's protocol (docs/architecture.md, "HTTP routes") on top of the shared HTTP client (src/ota-http/): one
 * connection pool for the life of the client; `session()` starts a cycle with its own cookies. Failures
 * reach the agent as ClientErrors whose reason comes from the shared taxonomy.
 */
export class OtaServer {
  readonly #http: OtaHttpClient;

  constructor(options: OtaServerOptions) {
    // One connection: the client's requests are strictly sequential, and the server (and the fault
    // proxy in the tests) sees one keep-alive connection per vehicle instead of a burst of them.
    this.#http = new OtaHttpClient({
      url: options.url, token: options.token, timeoutMs: options.timeoutMs, ca: options.ca,
      userAgent: options.userAgent ?? 'canota-client', connections: 1,
    });
  }

  get base(): URL {
    return this.#http.base;
  }

  session(): ServerSession {
    return new ServerSession(this.#http);
  }

  async close(): Promise<void> {
    await this.#http.close();
  }
}

/** One cycle's conversation with the server: its requests share a cookie jar (the seed's nonce cookie). */
export class ServerSession {
  readonly #cookies = new CookieJar();

  constructor(private readonly http: OtaHttpClient) {}

  /**
   * `GET /latest_version`. With a cache from an earlier cycle it sends `If-None-Match`, and a 304
   * returns the cached release without a body to parse.
   */
  async latestVersion(cache: LatestVersionCache | undefined, signal?: AbortSignal):
    Promise<{ release: Release | null; cache: LatestVersionCache | undefined; notModified: boolean }> {
    const headers: Record<string, string> = cache ? { 'if-none-match': cache.entityTag } : {};
    const response = await this.#send('latest_version', { headers, signal });
    if (response.status === 304 && cache) {
      await response.discard();
      return { release: cache.release, cache, notModified: true };
    }
    const body = await json(response);
    const release = parseLatestVersion(body);
    const entityTag = response.header('etag');
    return { release, cache: entityTag ? { entityTag, release } : undefined, notModified: false };
  }

  /** `GET /get_nonce`: a fresh single-use nonce for the next download request. */
  async nonce(signal?: AbortSignal): Promise<string> {
    const response = await this.#send('get_nonce', { signal });
    const body = await json(response);
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
      headers, signal: options.signal, bodyTimeoutMs: options.bodyTimeoutMs, highWaterMark: 1 << 20,
    });
    const { status } = response;
    if (status === 200 || status === 206 || status === 416) return response;
    const error = await response.statusError();
    // The seed's protocol gives these two statuses a meaning of their own on the download route.
    if (error instanceof ForbiddenError) {
      throw ClientError.fromHttp(error, 'nonce-rejected', `download refused (403): ${error.serverMessage}`);
    }
    if (error instanceof NotFoundError) {
      throw ClientError.fromHttp(error, 'not-found', `${filename} is not on the server (${status}): ${error.serverMessage}`);
    }
    throw ClientError.fromHttp(error);
  }

  async #send(path: string, options: {
    headers?: Record<string, string>; signal?: AbortSignal | undefined; bodyTimeoutMs?: number; highWaterMark?: number;
  }): Promise<OtaResponse> {
    const headers = { ...options.headers };
    const cookie = this.#cookies.header();
    if (cookie) headers.cookie = cookie;
    let response: OtaResponse;
    try {
      response = await this.http.request(path, { ...options, headers });
    } catch (error) {
      throw toClientError(error, `GET /${path.split('?')[0]}`);
    }
    this.#cookies.store(response.headers['set-cookie']);
    return response;
  }
}

/** A 200's JSON body; any failure (status, size, syntax, transport) as a ClientError. */
async function json(response: OtaResponse): Promise<unknown> {
  try {
    return await response.json();
  } catch (error) {
    throw toClientError(error, response.what);
  }
}
