import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { access, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { DownloadAgent, type CycleOutcome, type DownloadProgress, type Release } from '../../src/client/index.ts';
import { startFaultProxy } from '../support/fault-proxy.ts';
import { startOtaServer } from '../support/ota-server.ts';
import { clientDirs, firmwareImage, listDir, readText } from './support/client-run.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** The library the vehicle's TMU embeds, used in-process against a real canota server. */
test('DownloadAgent: events, verification hook, installed version, stop and resume', async (t) => {
  const server = await startOtaServer(t);
  const image = firmwareImage(2 * 1024 * 1024, 51);
  await server.upload('tmu-1.4.0.bin', image, { ecu: 'TMU', firmware_version: '1.4.0' });

  await t.test('emits release, progress and outcome; the verifier sees the file before it is installed', async (t) => {
    const dirs = await clientDirs(t);
    const seenByVerifier: string[] = [];
    const agent = new DownloadAgent({
      server: server.url, ...dirs,
      verify: async ({ path, release, sha256: digest, size }) => {
        seenByVerifier.push(path, digest, String(size), release.ecu ?? '');
        assert.ok((await readFile(path)).equals(image), 'the verifier reads the complete, hashed bytes');
        await assert.rejects(access(join(dirs.downloadDir, release.filename)), 'not installed before it is verified');
      },
    });
    t.after(() => agent.close());
    const releases: Release[] = [];
    const progress: DownloadProgress[] = [];
    const outcomes: CycleOutcome[] = [];
    agent.on('release', (release) => releases.push(release));
    agent.on('progress', (update) => progress.push(update));
    agent.on('outcome', (outcome) => outcomes.push(outcome));

    const outcome = await agent.checkOnce();
    assert.equal(outcome.status, 'downloaded');
    assert.deepEqual(outcomes, [outcome]);
    assert.equal(releases.length, 1);
    assert.equal(releases[0]!.firmwareVersion, '1.4.0');
    assert.deepEqual(seenByVerifier, [join(dirs.stateDir, 'download.part'), sha256(image), String(image.length), 'TMU']);
    assert.ok(progress.length >= 2);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.receivedBytes >= progress[i - 1]!.receivedBytes);
    assert.equal(progress.at(-1)!.percent, 100);
    assert.equal(progress.at(-1)!.totalBytes, image.length);
    if (outcome.status === 'downloaded') {
      assert.equal(outcome.path, join(dirs.downloadDir, 'tmu-1.4.0.bin'));
      assert.equal(outcome.sha256, sha256(image));
    }
    assert.equal((await agent.checkOnce()).status, 'up-to-date');
  });

  await t.test('a verifier that rejects: failed (verification-failed), once, nothing installed or kept', async (t) => {
    const dirs = await clientDirs(t);
    let calls = 0;
    const agent = new DownloadAgent({
      server: server.url, ...dirs,
      verify: () => {
        calls += 1;
        return Promise.reject(new Error('manifest signature does not verify'));
      },
    });
    t.after(() => agent.close());
    const outcome = await agent.checkOnce();
    assert.equal(outcome.status, 'failed');
    if (outcome.status === 'failed') {
      assert.equal(outcome.reason, 'verification-failed');
      assert.match(outcome.message, /manifest signature does not verify/);
      assert.equal(outcome.attempts, 1, 'a bad signature stays bad: no retry');
    }
    assert.equal(calls, 1);
    assert.deepEqual(await listDir(dirs.downloadDir), []);
    assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), 'ERROR');
    assert.deepEqual(await listDir(dirs.stateDir), ['client.lock', 'progress.txt']);
  });

  await t.test('installedVersion comes from the embedder, per release (its target ECU)', async (t) => {
    const dirs = await clientDirs(t);
    const asked: string[] = [];
    const agent = new DownloadAgent({
      server: server.url, ...dirs,
      installedVersion: (release) => {
        asked.push(release.ecu ?? '?');
        return '1.5.0';
      },
    });
    t.after(() => agent.close());
    const outcome = await agent.checkOnce();
    assert.deepEqual(outcome.status === 'refused-downgrade' && outcome.installedVersion, '1.5.0');
    assert.deepEqual(asked, ['TMU']);
    assert.deepEqual(await listDir(dirs.downloadDir), []);
  });

  await t.test('aborting stops mid-download, keeps the partial file, and the next cycle resumes it', async (t) => {
    const slow = await startFaultProxy({ host: server.host, port: server.port }, () => ({ bytesPerSecond: 2 * 1024 * 1024 }));
    t.after(() => slow.close());
    const dirs = await clientDirs(t);
    const agent = new DownloadAgent({ server: slow.url, ...dirs });
    t.after(() => agent.close());
    const stop = new AbortController();
    agent.on('progress', (update) => { if (update.percent! >= 30) stop.abort(); });
    const stopped = await agent.checkOnce(stop.signal);
    assert.equal(stopped.status, 'stopped');
    const kept = (await stat(join(dirs.stateDir, 'download.part'))).size;
    assert.ok(kept >= 0.3 * image.length && kept < image.length, `kept ${kept}`);
    assert.notEqual(await readText(join(dirs.stateDir, 'progress.txt')), 'ERROR', 'a stop is not a failure');

    agent.removeAllListeners('progress');
    const resumed = await agent.checkOnce();
    assert.equal(resumed.status, 'downloaded');
    assert.equal(resumed.status === 'downloaded' && resumed.resumedFrom, kept);
    assert.ok((await readFile(join(dirs.downloadDir, 'tmu-1.4.0.bin'))).equals(image));
  });

  await t.test('download(release): a release chosen by the embedder, without polling /latest_version', async (t) => {
    const other = firmwareImage(300_000, 53);
    await server.upload('edt-5.0.0.bin', other, { ecu: 'EDT', firmware_version: '5.0.0' });
    const proxy = await startFaultProxy({ host: server.host, port: server.port }, () => undefined);
    t.after(() => proxy.close());
    const dirs = await clientDirs(t);
    const agent = new DownloadAgent({ server: proxy.url, ...dirs, maxRetry: 1 });
    t.after(() => agent.close());
    const release: Release = {
      filename: 'tmu-1.4.0.bin', mtime: 0, sha256: sha256(image).toUpperCase(), size: image.length, ecu: 'TMU',
      firmwareVersion: '1.4.0', releaseId: undefined, uploadedAt: undefined,
    };
    const outcome = await agent.download(release);
    assert.equal(outcome.status, 'downloaded');
    assert.ok((await readFile(join(dirs.downloadDir, 'tmu-1.4.0.bin'))).equals(image));
    assert.ok(!proxy.requests.some((line) => line.includes('/latest_version')));

    const unsafe = await agent.download({ ...release, filename: '../escape.bin' });
    assert.deepEqual(unsafe.status === 'failed' && unsafe.reason, 'bad-response');
    const longer = await agent.download({ ...release, filename: 'edt-5.0.0.bin' });
    assert.deepEqual(longer.status === 'failed' && longer.reason, 'length-mismatch');
    const wrong = await agent.download({ ...release, filename: 'edt-5.0.0.bin', size: other.length });
    assert.deepEqual(wrong.status === 'failed' && wrong.reason, 'hash-mismatch');
  });

  await t.test('run() polls until aborted, then resolves', async (t) => {
    const dirs = await clientDirs(t);
    const agent = new DownloadAgent({ server: server.url, ...dirs, intervalSeconds: 0.05 });
    t.after(() => agent.close());
    const stop = new AbortController();
    const outcomes: string[] = [];
    agent.on('outcome', (outcome) => {
      outcomes.push(outcome.status);
      if (outcomes.length === 3) stop.abort();
    });
    await agent.run(stop.signal);
    assert.deepEqual(outcomes, ['downloaded', 'up-to-date', 'up-to-date']);
  });
});

test('DownloadAgent honours ETag / If-None-Match on /latest_version: an unchanged answer is a bodiless 304', async (t) => {
  // canota server and the seed send no ETag on /latest_version, so a small HTTP server that does plays the part.
  const file = firmwareImage(100_000, 52);
  const body = JSON.stringify({ version: 'fw.bin', mtime: 1, sha256: sha256(file), size: file.length });
  const seen: Array<{ url: string; ifNoneMatch: string | undefined; status: number }> = [];
  const http = createServer((request, response) => {
    const ifNoneMatch = request.headers['if-none-match'];
    let status = 200;
    if (request.url === '/latest_version') {
      if (ifNoneMatch === '"v1"') {
        status = 304;
        response.writeHead(304, { etag: '"v1"' }).end();
      } else {
        response.writeHead(200, { etag: '"v1"', 'content-type': 'application/json' }).end(body);
      }
    } else if (request.url === '/get_nonce') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"nonce":"0123456789abcdef","expires_in":60}');
    } else if (request.url === '/ota_download/fw.bin?nonce=0123456789abcdef') {
      response.writeHead(200, { 'content-length': file.length }).end(file);
    } else {
      status = 404;
      response.writeHead(404).end();
    }
    seen.push({ url: request.url!, ifNoneMatch, status });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => http.close());
  const dirs = await clientDirs(t);
  const agent = new DownloadAgent({ server: `http://127.0.0.1:${(http.address() as { port: number }).port}`, ...dirs });
  t.after(() => agent.close());

  assert.equal((await agent.checkOnce()).status, 'downloaded');
  const again = await agent.checkOnce();
  assert.equal(again.status, 'up-to-date');
  assert.equal(again.release?.sha256, sha256(file));
  assert.deepEqual(seen.filter((request) => request.url === '/latest_version'), [
    { url: '/latest_version', ifNoneMatch: undefined, status: 200 },
    { url: '/latest_version', ifNoneMatch: '"v1"', status: 304 },
  ]);
});

test('DownloadAgent calls reclaimMemory after every 4 MiB of body, and only while bytes arrive', async (t) => {
  const server = await startOtaServer(t);
  const image = firmwareImage(9.5 * 1024 * 1024, 53);
  await server.upload('edt-3.0.0.bin', image, { ecu: 'EDT', firmware_version: '3.0.0' });
  const dirs = await clientDirs(t);
  let received = 0;
  const reclaimedAt: number[] = [];
  const agent = new DownloadAgent({ server: server.url, ...dirs, reclaimMemory: () => reclaimedAt.push(received) });
  t.after(() => agent.close());
  agent.on('progress', (progress) => { received = progress.receivedBytes; });

  assert.equal((await agent.checkOnce()).status, 'downloaded');
  // 9.5 MiB: once past 4 MiB, once 4 MiB later (past 8 MiB); never for the last 1.5 MiB.
  assert.equal(reclaimedAt.length, 2, `called at ${reclaimedAt.join(', ')}`);
  assert.ok(reclaimedAt[0]! >= 3 * 1024 * 1024 && reclaimedAt[1]! - reclaimedAt[0]! >= 3 * 1024 * 1024, `called at ${reclaimedAt.join(', ')}`);
  assert.equal((await agent.checkOnce()).status, 'up-to-date');
  assert.equal(reclaimedAt.length, 2, 'nothing downloaded, nothing to reclaim');
});
