import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createTcpServer } from 'node:net';
import { errorCode } from '../../src/errors/error-message.ts';
import { jsonLimitBytes } from '../../src/ota-http/body.ts';
import {
  BadJsonError, BodyTimeoutError, BodyTooLargeError, ConnectionError, ForbiddenError, InvalidServerUrlError,
  MalformedResponseError, NotFoundError, OtaHttpError, RateLimitedError, RequestAbortedError, RequestRejectedError,
  ResponseTimeoutError, ServerError, UnauthorizedError, UnexpectedStatusError,
  type OtaHttpErrorCode, type ResponseStatusError,
} from '../../src/ota-http/errors.ts';
import { OtaHttpClient } from '../../src/ota-http/ota-http-client.ts';
import { freePort } from '../support/free-port.ts';
import { jsonAnswer, startStubServer, type StubHandler } from './support/stub-server.ts';

function client(t: Pick<TestContext, 'after'>, url: string, options: { timeoutMs?: number; token?: string } = {}): OtaHttpClient {
  const http = new OtaHttpClient({ url, userAgent: 'canota-test', timeoutMs: options.timeoutMs ?? 5000, token: options.token });
  t.after(() => http.close());
  return http;
}

/** Asserts `promise` rejects with an instance of `type` carrying `code`, and returns the error. */
async function rejectsWith<T extends OtaHttpError>(promise: Promise<unknown>, type: abstract new (...args: never[]) => T,
  code: OtaHttpErrorCode): Promise<T> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof type, `expected ${type.name}, got ${String(caught)}`);
  assert.ok(caught instanceof OtaHttpError);
  assert.equal(caught.code, code);
  return caught;
}

test('every unexpected status maps to one class and one code, with the status, the server\'s message and Retry-After', async (t) => {
  const statuses = [400, 401, 403, 404, 405, 409, 413, 418, 422, 429, 500, 502, 503, 504, 302];
  const routes: Record<string, StubHandler> = {};
  for (const status of statuses) {
    const headers: Record<string, string> = status === 429 ? { 'retry-after': '7' } : status === 302 ? { location: '/elsewhere' } : {};
    routes[`/status/${status}`] = jsonAnswer(status, { error: `refused with ${status}` }, headers);
  }
  const http = client(t, await startStubServer(t, routes));
  const expected: Record<number, [abstract new (...args: never[]) => ResponseStatusError, OtaHttpErrorCode]> = {
    400: [RequestRejectedError, 'OTA_HTTP_REJECTED'],
    401: [UnauthorizedError, 'OTA_HTTP_UNAUTHORIZED'],
    403: [ForbiddenError, 'OTA_HTTP_FORBIDDEN'],
    404: [NotFoundError, 'OTA_HTTP_NOT_FOUND'],
    405: [NotFoundError, 'OTA_HTTP_NOT_FOUND'],
    409: [UnexpectedStatusError, 'OTA_HTTP_UNEXPECTED_STATUS'],
    413: [RequestRejectedError, 'OTA_HTTP_REJECTED'],
    418: [UnexpectedStatusError, 'OTA_HTTP_UNEXPECTED_STATUS'],
    422: [RequestRejectedError, 'OTA_HTTP_REJECTED'],
    429: [RateLimitedError, 'OTA_HTTP_RATE_LIMITED'],
    500: [ServerError, 'OTA_HTTP_SERVER_ERROR'],
    502: [ServerError, 'OTA_HTTP_SERVER_ERROR'],
    503: [ServerError, 'OTA_HTTP_SERVER_ERROR'],
    504: [ServerError, 'OTA_HTTP_SERVER_ERROR'],
    302: [UnexpectedStatusError, 'OTA_HTTP_UNEXPECTED_STATUS'],
  };
  for (const status of statuses) {
    const [type, code] = expected[status]!;
    const response = await http.request(`status/${status}`);
    assert.equal(response.status, status, 'any status resolves: its meaning is the caller\'s');
    const error = await rejectsWith(response.json(), type, code);
    assert.equal(error.status, status);
    assert.equal(error.serverMessage, `refused with ${status}`);
    assert.match(error.message, new RegExp(`^GET /status/${status} answered ${status}: refused with ${status}$`));
    assert.equal(error.retryAfterMs, status === 429 ? 7000 : undefined);
  }
});

test('a status the caller expects is read as JSON; a POST sends its JSON body with the token', async (t) => {
  let seen: { method?: string; authorization?: string; contentType?: string; userAgent?: string; body?: string } = {};
  const http = client(t, await startStubServer(t, {
    '/ota/reports': (request, response, body) => {
      seen = { method: request.method, authorization: request.headers.authorization, contentType: request.headers['content-type'],
        userAgent: request.headers['user-agent'], body };
      response.writeHead(201, { 'content-type': 'application/json' }).end('{"id":42}');
    },
  }).then((url) => `${url}ota`), { token: 'secret-token' });
  assert.equal(http.hasToken, true);
  assert.equal(http.base.pathname, '/ota/', 'a path prefix is kept');
  const response = await http.request('reports', { method: 'POST', json: { outcome: 'success' } });
  assert.deepEqual(await response.json([201]), { id: 42 });
  assert.deepEqual(seen, {
    method: 'POST', authorization: 'Bearer secret-token', contentType: 'application/json', userAgent: 'canota-test',
    body: '{"outcome":"success"}',
  });
  const again = await http.request('reports', { method: 'POST', json: {} });
  await rejectsWith(again.json(), UnexpectedStatusError, 'OTA_HTTP_UNEXPECTED_STATUS');
});

test('an error answer that is not JSON, or empty, still names what came', async (t) => {
  const http = client(t, await startStubServer(t, {
    '/html': (_request, response) => response.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>\n'),
    '/empty': (_request, response) => response.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end(),
  }));
  const html = await rejectsWith((await http.request('html')).json(), ServerError, 'OTA_HTTP_SERVER_ERROR');
  assert.equal(html.serverMessage, '<h1>Bad Gateway</h1>');
  const empty = await rejectsWith((await http.request('empty')).json(), ServerError, 'OTA_HTTP_SERVER_ERROR');
  assert.equal(empty.serverMessage, '(empty body)');
  assert.ok(empty.retryAfterMs !== undefined && empty.retryAfterMs > 55_000 && empty.retryAfterMs <= 60_000, `${empty.retryAfterMs}`);
});

test(`JSON answers are read up to the one limit (${jsonLimitBytes} bytes), and refused past it`, async (t) => {
  // A JSON string of exactly the limit: two quotes around limit - 2 letters.
  const atLimit = JSON.stringify('a'.repeat(jsonLimitBytes - 2));
  const http = client(t, await startStubServer(t, {
    '/at-limit': (_request, response) => response.writeHead(200).end(atLimit),
    '/too-large': (_request, response) => response.writeHead(200).end(`${atLimit} `),
    '/endless': (_request, response) => {
      // No Content-Length, no end: the reader must stop by itself.
      response.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const write = () => {
        while (!response.destroyed && response.write(chunk));
        if (!response.destroyed) response.once('drain', write);
      };
      write();
    },
  }));
  assert.equal(((await (await http.request('at-limit')).json()) as string).length, jsonLimitBytes - 2);
  const tooLarge = await rejectsWith((await http.request('too-large')).json(), BodyTooLargeError, 'OTA_HTTP_BODY_TOO_LARGE');
  assert.equal(tooLarge.limit, jsonLimitBytes);
  assert.match(tooLarge.message, /^GET \/too-large: answer larger than/);
  await rejectsWith((await http.request('endless')).json(), BodyTooLargeError, 'OTA_HTTP_BODY_TOO_LARGE');
});

test('an answer that is not JSON is OTA_HTTP_BAD_JSON, with its start in the message', async (t) => {
  const http = client(t, await startStubServer(t, {
    '/html': (_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<html>login page</html>'),
    '/truncated': (_request, response) => response.writeHead(200).end('{"nonce": "abc'),
  }));
  const html = await rejectsWith((await http.request('html')).json(), BadJsonError, 'OTA_HTTP_BAD_JSON');
  assert.equal(html.message, 'GET /html did not answer JSON: <html>login page</html>');
  await rejectsWith((await http.request('truncated')).json(), BadJsonError, 'OTA_HTTP_BAD_JSON');
});

test('no headers within the timeout is OTA_HTTP_TIMEOUT; a body that goes silent is OTA_HTTP_BODY_TIMEOUT', async (t) => {
  const http = client(t, await startStubServer(t, {
    '/silent': () => undefined,
    '/stalls': (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"half":');
    },
  }), { timeoutMs: 300 });
  const started = Date.now();
  const silent = await rejectsWith(http.request('silent'), ResponseTimeoutError, 'OTA_HTTP_TIMEOUT');
  assert.ok(Date.now() - started < 3000, 'gave up near the timeout');
  assert.match(silent.message, /^GET \/silent: /);
  const response = await http.request('stalls');
  assert.equal(response.status, 200);
  await rejectsWith(response.json(), BodyTimeoutError, 'OTA_HTTP_BODY_TIMEOUT');
  // The stall limit can be set per request (a firmware download has its own).
  const patient = await http.request('stalls', { bodyTimeoutMs: 100 });
  await rejectsWith(patient.json(), BodyTimeoutError, 'OTA_HTTP_BODY_TIMEOUT');
});

test('refused, or cut mid-answer, is OTA_HTTP_CONNECTION', async (t) => {
  const refused = client(t, `http://127.0.0.1:${await freePort()}/`);
  const error = await rejectsWith(refused.request('latest_version'), ConnectionError, 'OTA_HTTP_CONNECTION');
  assert.match(error.message, /^GET \/latest_version: /);
  assert.equal(errorCode(error.cause), 'ECONNREFUSED', 'the socket error stays as cause');

  const http = client(t, await startStubServer(t, {
    '/cut': (_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      response.write('{"a":', () => response.socket?.destroy());
    },
    '/before-headers': (request) => request.socket.destroy(),
  }));
  await rejectsWith((await http.request('cut')).json(), ConnectionError, 'OTA_HTTP_CONNECTION');
  await rejectsWith(http.request('before-headers'), ConnectionError, 'OTA_HTTP_CONNECTION');
});

test('bytes that are not HTTP are OTA_HTTP_MALFORMED', async (t) => {
  const server = createTcpServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const http = client(t, `http://127.0.0.1:${(server.address() as { port: number }).port}/`);
  await rejectsWith(http.request('latest_version'), MalformedResponseError, 'OTA_HTTP_MALFORMED');
});

test('the caller\'s abort is OTA_HTTP_ABORTED, whatever reason it aborted with', async (t) => {
  const http = client(t, await startStubServer(t, {
    '/silent': () => undefined,
    '/stalls': (_request, response) => response.writeHead(200, { 'content-length': '10' }).write('{'),
  }));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stopped by the test')), 50);
  const aborted = await rejectsWith(http.request('silent', { signal: controller.signal }), RequestAbortedError, 'OTA_HTTP_ABORTED');
  assert.equal(aborted.message, 'GET /silent: stopped by the test');
  await rejectsWith(http.request('silent', { signal: AbortSignal.abort() }), RequestAbortedError, 'OTA_HTTP_ABORTED');
  const reading = new AbortController();
  const response = await http.request('stalls', { signal: reading.signal });
  setTimeout(() => reading.abort(), 50);
  await rejectsWith(response.json(), RequestAbortedError, 'OTA_HTTP_ABORTED');
});

test('a server URL that is not http(s) is refused before any request', () => {
  assert.throws(() => new OtaHttpClient({ url: 'ftp://127.0.0.1/', userAgent: 'canota-test' }),
    (error: unknown) => error instanceof InvalidServerUrlError && error.code === 'OTA_HTTP_INVALID_URL');
  const http = new OtaHttpClient({ url: 'http://127.0.0.1:1', userAgent: 'canota-test', token: '' });
  assert.equal(http.hasToken, false, 'an empty token is no token');
  assert.equal(http.base.href, 'http://127.0.0.1:1/');
  void http.close();
});
