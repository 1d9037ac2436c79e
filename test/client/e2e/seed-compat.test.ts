import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent, FormData, request } from 'undici';
import { CookieJar } from '../../../src/client/cookie-jar.ts';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { startSeedServer } from '../support/seed-server.ts';
import { clientDirs, firmwareImage, listDir, readText, runClientOnce } from '../support/client-run.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The seed's own Flask server (test/fixtures/seed/app.py): the nonce lives in its cookie session, it
 * announces no size, and it closes the connection after every answer (Werkzeug, HTTP/1.0 style).
 */
test('canota client works against the seed\'s Flask server', async (t) => {
  const seed = await startSeedServer(t);
  const dirs = await clientDirs(t);

  await t.test('nothing uploaded: up to date', async () => {
    const run = await runClientOnce(seed.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.status, { status: 'up-to-date', release: null });
  });

  const first = firmwareImage(6 * 1024 * 1024, 41);
  await t.test('uploaded through the seed\'s admin form, downloaded with the nonce cookie, verified', async () => {
    await uploadToSeed(seed.url, 'ota-1.bin', first);
    const run = await runClientOnce(seed.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.status.status, 'downloaded');
    assert.deepEqual(run.status.release, { filename: 'ota-1.bin', sha256: sha256(first) });
    assert.ok((await readFile(join(dirs.downloadDir, 'ota-1.bin'))).equals(first));
    assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), sha256(first));
    assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), '100');
    // The seed's audit log saw the nonce issued and the download made with it.
    const audit = await readFile(seed.auditLog, 'utf8');
    assert.match(audit, /nonce_issued/);
    assert.match(audit, /download ip=127\.0\.0\.1 file=ota-1\.bin/);
    assert.doesNotMatch(audit, /download_denied/);
  });

  await t.test('the same file again: up to date', async () => {
    const run = await runClientOnce(seed.url, dirs);
    assert.equal(run.status.status, 'up-to-date');
  });

  await t.test('a newer .bin (by mtime) is detected; a cut download resumes with Range + If-Range', async (t) => {
    const second = firmwareImage(3 * 1024 * 1024, 42);
    await writeFile(join(seed.uploadDir, 'ota-2.bin'), second);
    const later = new Date(Date.now() + 5_000);
    await utimes(join(seed.uploadDir, 'ota-2.bin'), later, later);
    // Werkzeug closes every connection: 1 = /latest_version, 2 = /get_nonce, 3 = the download.
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(seed.url).port) },
      (n) => n === 3 ? { cutAfterBytes: 1_000_000 } : undefined);
    t.after(() => proxy.close());
    const run = await runClientOnce(proxy.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.status.status, 'downloaded');
    assert.equal(run.status.attempts, 2);
    assert.ok((run.status.resumedFrom as number) > 900_000);
    const downloads = proxy.requestHeads.filter((head) => head.includes('/ota_download/'));
    assert.match(downloads[1]!, /\r\nrange: bytes=\d+-/i);
    assert.match(downloads[1]!, /\r\nif-range: "/i);
    assert.match(downloads[1]!, /\r\ncookie: session=/i);
    assert.ok((await readFile(join(dirs.downloadDir, 'ota-2.bin'))).equals(second));
    assert.deepEqual(await listDir(dirs.downloadDir), ['ota-1.bin', 'ota-2.bin']);
  });

  await t.test('no announced size and no Content-Length: an endless body is cut at --max-size', async (t) => {
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(seed.url).port) }, () => ({
      intercept: (line) => line.includes('/ota_download/')
        ? { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: 'endless' as const } : undefined,
    }));
    t.after(() => proxy.close());
    const endless = await clientDirs(t);
    const run = await runClientOnce(proxy.url, endless, ['--max-size', '2000000', '--max-retry', '1']);
    assert.equal(run.code, 1);
    assert.equal(run.status.reason, 'length-mismatch');
    assert.match(String(run.status.message), /larger than the 2000000-byte limit/);
    assert.deepEqual(await listDir(endless.downloadDir), []);
    assert.deepEqual(await listDir(endless.stateDir), ['progress.txt']);
  });
});

/** Logs in to the seed as its admin and uploads through its form (CSRF token, multipart). */
async function uploadToSeed(base: string, filename: string, content: Buffer): Promise<void> {
  const agent = new Agent();
  const cookies = new CookieJar();
  const send = async (path: string, options: { method?: 'GET' | 'POST'; body?: string | FormData; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = cookies.header();
    if (cookie) headers.cookie = cookie;
    const response = await request(new URL(path, base), { method: options.method ?? 'GET', body: options.body, headers, dispatcher: agent });
    cookies.store(response.headers['set-cookie']);
    return { status: response.statusCode, text: await response.body.text() };
  };
  const token = (html: string) => /name="csrf_token" value="([^"]+)"/.exec(html)![1]!;
  try {
    const login = await send('/login');
    const loggedIn = await send('/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'admin', password: 'admin123', csrf_token: token(login.text) }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(loggedIn.status, 302, loggedIn.text);
    const page = await send('/');
    const form = new FormData();
    form.append('csrf_token', token(page.text));
    form.append('file', new Blob([content]), filename);
    const uploaded = await send('/upload', { method: 'POST', body: form });
    assert.equal(uploaded.status, 200, uploaded.text);
  } finally {
    await agent.close();
  }
}
