import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, type FailureReason } from '../../src/client/errors.ts';
import { DownloadAgent, type AttemptFailure } from '../../src/client/index.ts';
import { OtaServer } from '../../src/client/ota-server.ts';
import { freePort } from '../support/free-port.ts';
import { jsonAnswer, startStubServer } from '../ota-http/support/stub-server.ts';
import { clientDirs } from './support/client-run.ts';

const latest = { version: 'edt-2.0.0.bin', mtime: 1, sha256: 'a'.repeat(64) };

async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ClientError, String(error));
    return error;
  }
  assert.fail('expected a ClientError');
}

/**
 * The seed's routes on top of the shared HTTP client: the failure classification is the taxonomy's
 * (src/ota-http/), the reason and whether another try can help are the client's.
 */
test('ServerSession: each failure of the shared taxonomy becomes the client\'s reason', async (t) => {
  const url = await startStubServer(t, {
    '/latest_version': jsonAnswer(200, latest),
    '/get_nonce': jsonAnswer(429, { error: 'slow down' }, { 'retry-after': '2' }),
    '/unauthorized/latest_version': jsonAnswer(401, { error: 'unknown token' }),
    '/forbidden/latest_version': jsonAnswer(403, { error: 'not on the allowlist' }),
    '/missing/latest_version': jsonAnswer(404, { error: 'not found' }),
    '/broken/latest_version': (_request, response) => response.writeHead(200).end('<html>'),
    '/broken/get_nonce': jsonAnswer(200, { nonce: 'x' }),
    '/broken/ota_download/edt-2.0.0.bin': jsonAnswer(502, { error: 'bad gateway' }),
    '/ota_download/edt-2.0.0.bin': jsonAnswer(403, { error: 'nonce already used' }),
    '/missing/ota_download/edt-2.0.0.bin': jsonAnswer(404, { error: 'no such file' }),
  });
  const server = (path = '') => {
    const ota = new OtaServer({ url: `${url}${path}`, timeoutMs: 5000 });
    t.after(() => ota.close());
    return ota.session();
  };
  const expectReason = async (promise: Promise<unknown>, reason: FailureReason, retryable: boolean, status?: number) => {
    const error = await failure(promise);
    assert.equal(error.reason, reason, error.message);
    assert.equal(error.retryable, retryable, reason);
    assert.equal(error.status, status);
    return error;
  };
  const download = (session: ReturnType<typeof server>) =>
    session.download('edt-2.0.0.bin', 'n'.repeat(16), {}, { signal: AbortSignal.timeout(5000), bodyTimeoutMs: 5000 });

  assert.equal((await server().latestVersion(undefined)).release?.filename, 'edt-2.0.0.bin');
  const limited = await expectReason(server().nonce(), 'rate-limited', true, 429);
  assert.equal(limited.retryAfterMs, 2000);
  await expectReason(server('unauthorized/').latestVersion(undefined), 'unauthorized', false, 401);
  await expectReason(server('forbidden/').latestVersion(undefined), 'forbidden', false, 403);
  await expectReason(server('missing/').latestVersion(undefined), 'not-found', true, 404);
  await expectReason(server('broken/').latestVersion(undefined), 'bad-response', true);
  await expectReason(server('broken/').nonce(), 'bad-response', true);
  await expectReason(download(server('broken/')), 'server-error', true, 502);
  // On the download route the seed's protocol gives 403 and 404 their own meaning.
  const refused = await expectReason(download(server()), 'nonce-rejected', true, 403);
  assert.equal(refused.message, 'download refused (403): nonce already used');
  await expectReason(download(server('missing/')), 'not-found', true, 404);

  const down = new OtaServer({ url: `http://127.0.0.1:${await freePort()}/`, timeoutMs: 5000 });
  t.after(() => down.close());
  await expectReason(down.session().latestVersion(undefined), 'connection', true);
});

test('DownloadAgent waits at least the server\'s Retry-After before the next try, up to maxBackoffSeconds', async (t) => {
  const url = await startStubServer(t, {
    '/latest_version': jsonAnswer(429, { error: 'slow down' }, { 'retry-after': '30' }),
    '/capped/latest_version': jsonAnswer(503, { error: 'maintenance' }, { 'retry-after': '3600' }),
  });
  /** The pause the agent chose after the first failed try (stopped right there: the test does not sleep). */
  const firstPause = async (server: string, maxBackoffSeconds: number) => {
    const agent = new DownloadAgent({ server, ...await clientDirs(t), retryBackoffSeconds: 0.01, maxBackoffSeconds });
    t.after(() => agent.close());
    const stop = new AbortController();
    let failed: AttemptFailure | undefined;
    agent.once('attempt-failed', (attempt) => {
      failed = attempt;
      stop.abort();
    });
    assert.equal((await agent.checkOnce(stop.signal)).status, 'stopped');
    assert.ok(failed);
    return failed;
  };
  const limited = await firstPause(url, 60);
  assert.equal(limited.reason, 'rate-limited');
  assert.ok(limited.retryInMs >= 30_000 && limited.retryInMs <= 60_000, `waits ${limited.retryInMs} ms`);
  // A server asking for an hour does not stall the agent past its own ceiling.
  const capped = await firstPause(`${url}capped/`, 120);
  assert.equal(capped.reason, 'server-error');
  assert.equal(capped.retryInMs, 120_000);
});
