/**
 * The download client's verdict on what it fetches (mutation module `client-verification`): the announced
 * SHA-256 and file name, the no-downgrade rule, and the embedder's verifier. Against a small in-process
 * HTTP server that serves whatever bytes a test wants under whatever announcement, so a lie is one line.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { access, readFile, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import {
  DownloadAgent, type AttemptFailure, type CycleOutcome, type DownloadAgentOptions, type Release, type VerificationInput,
} from '../../src/client/index.ts';
import { clientDirs, firmwareImage, listDir, readText, type ClientDirs } from './support/client-run.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

interface Announcement {
  version: string | null;
  mtime: number | null;
  sha256: string | null;
  size?: number;
  firmware_version?: string;
  ecu?: string;
}

/** A server whose `/latest_version` says `announce` and whose `/ota_download/<name>` serves `files[name]`. */
async function fakeServer(t: TestContext) {
  const state = {
    announce: { version: null, mtime: null, sha256: null } as Announcement,
    files: new Map<string, Buffer>(),
    /** Each download request: the file name and the Range header. */
    downloads: [] as Array<{ name: string; range: string | undefined }>,
  };
  const http = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname === '/latest_version') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.announce));
    } else if (url.pathname === '/get_nonce') {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"nonce":"0123456789abcdef","expires_in":60}');
    } else if (url.pathname.startsWith('/ota_download/')) {
      const name = decodeURIComponent(url.pathname.slice('/ota_download/'.length));
      state.downloads.push({ name, range: request.headers.range });
      const file = state.files.get(name);
      if (!file) {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      const from = /^bytes=(\d+)-$/.exec(request.headers.range ?? '')?.[1];
      if (from === undefined) {
        response.writeHead(200, { 'content-length': file.length }).end(file);
      } else if (Number(from) >= file.length) {
        response.writeHead(416, { 'content-range': `bytes */${file.length}` }).end();
      } else {
        response.writeHead(206, { 'content-length': file.length - Number(from), 'content-range': `bytes ${from}-${file.length - 1}/${file.length}` })
          .end(file.subarray(Number(from)));
      }
    } else {
      response.writeHead(404).end();
    }
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  t.after(() => new Promise((resolve) => http.close(resolve)));
  return { state, url: `http://127.0.0.1:${(http.address() as { port: number }).port}` };
}

type FakeServer = Awaited<ReturnType<typeof fakeServer>>;

/** Puts `image` on the server as `name` and announces it (its real SHA-256 and size unless overridden). */
function publish(server: FakeServer, name: string, image: Buffer, extra: Partial<Announcement> = {}): Release {
  server.state.files.set(name, image);
  server.state.announce = { version: name, mtime: 1, sha256: sha256(image), size: image.length, ...extra };
  return {
    filename: name, mtime: 1, sha256: (extra.sha256 ?? sha256(image)).toLowerCase(), size: extra.size ?? image.length,
    ecu: extra.ecu, firmwareVersion: extra.firmware_version, releaseId: undefined, uploadedAt: undefined,
  };
}

function newAgent(t: TestContext, server: FakeServer, dirs: ClientDirs, options: Partial<DownloadAgentOptions> = {}) {
  const agent = new DownloadAgent({ server: server.url, ...dirs, retryBackoffSeconds: 0.01, maxBackoffSeconds: 0.02, ...options });
  t.after(() => agent.close());
  const failures: AttemptFailure[] = [];
  agent.on('attempt-failed', (failure) => failures.push(failure));
  return { agent, failures };
}

function failed(outcome: CycleOutcome): { reason: string; attempts: number; message: string } {
  assert.equal(outcome.status, 'failed', JSON.stringify(outcome));
  return outcome as { reason: string; attempts: number; message: string };
}

const exists = (path: string) => access(path).then(() => true, () => false);

test('bytes that do not hash to the announced SHA-256: hash-mismatch on every try, each from byte 0, nothing installed', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const image = firmwareImage(50_000, 3);
  const tampered = Buffer.from(image);
  tampered[25_000] = tampered[25_000]! ^ 0x01;
  publish(server, 'fw.bin', tampered, { sha256: sha256(image) });
  let verified = 0;
  const { agent, failures } = newAgent(t, server, dirs, { maxRetry: 2, verify: () => { verified += 1; return Promise.resolve(); } });

  const outcome = failed(await agent.checkOnce());
  assert.equal(outcome.reason, 'hash-mismatch');
  assert.equal(outcome.attempts, 2);
  assert.match(outcome.message, new RegExp(`expected ${sha256(image)}, got ${sha256(tampered)}`));
  assert.deepEqual(failures.map((failure) => failure.reason), ['hash-mismatch']);
  // A wrong byte anywhere: no prefix on disk is trusted, so the second try asks for the whole file again.
  assert.deepEqual(server.state.downloads.map((download) => download.range), [undefined, undefined]);
  assert.equal(verified, 0, 'the verifier never sees bytes that failed the SHA-256');
  assert.deepEqual(await listDir(dirs.downloadDir), []);
  assert.equal(await exists(join(dirs.stateDir, 'download.part')), false);
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), null);
});

test('a complete partial file on disk is verified before it is used; a wrong one is thrown away and fetched again', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const image = firmwareImage(20_000, 4);
  const release = publish(server, 'fw.bin', image);
  // What a kill -9 between the last byte and the rename leaves, but with a flipped bit (a bad disk).
  await mkdir(dirs.stateDir, { recursive: true });
  await writeFile(join(dirs.stateDir, 'download.json'), JSON.stringify({ sha256: release.sha256, filename: 'fw.bin', size: image.length }));
  const damaged = Buffer.from(image);
  damaged[0] = damaged[0]! ^ 0x80;
  await writeFile(join(dirs.stateDir, 'download.part'), damaged);
  const { agent, failures } = newAgent(t, server, dirs);

  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded', JSON.stringify(outcome));
  assert.deepEqual(failures.map((failure) => failure.reason), ['hash-mismatch']);
  assert.deepEqual(server.state.downloads, [{ name: 'fw.bin', range: undefined }], 'one request, for the whole file');
  assert.ok((await readFile(join(dirs.downloadDir, 'fw.bin'))).equals(image));
  assert.equal(outcome.status === 'downloaded' && outcome.resumedFrom, 0);

  // The same, with the right bytes: installed without a single download request.
  const other = await clientDirs(t);
  await mkdir(other.stateDir, { recursive: true });
  await writeFile(join(other.stateDir, 'download.json'), JSON.stringify({ sha256: release.sha256, filename: 'fw.bin', size: image.length }));
  await writeFile(join(other.stateDir, 'download.part'), image);
  const second = newAgent(t, server, other);
  const resumed = await second.agent.checkOnce();
  assert.equal(resumed.status === 'downloaded' && resumed.resumedFrom, image.length);
  assert.equal(server.state.downloads.length, 1);
});

test('the announced SHA-256 is checked in any case; the announced size is checked too', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const image = firmwareImage(10_000, 5);
  publish(server, 'fw.bin', image, { sha256: sha256(image).toUpperCase() });
  const { agent } = newAgent(t, server, dirs);
  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded');
  assert.equal(outcome.status === 'downloaded' && outcome.sha256, sha256(image));
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), sha256(image));
  assert.equal((await agent.checkOnce()).status, 'up-to-date', 'the same SHA-256 again: nothing to do');

  // A longer file than announced is cut off at the announced size and refused.
  const longer = await clientDirs(t);
  publish(server, 'long.bin', Buffer.concat([image, Buffer.from('tail')]), { sha256: sha256(image), size: image.length });
  const cut = newAgent(t, server, longer, { maxRetry: 1 });
  assert.equal(failed(await cut.agent.checkOnce()).reason, 'length-mismatch');
  assert.deepEqual(await listDir(longer.downloadDir), []);
});

test('download(release): the embedder\'s SHA-256 must be 64 hex digits and its file name a plain name, before any request', async (t) => {
  const server = await fakeServer(t);
  const image = firmwareImage(8_000, 6);
  const release = publish(server, 'fw.bin', image);
  const attempt = async (changes: Partial<Release>) => {
    const dirs = await clientDirs(t);
    const { agent } = newAgent(t, server, dirs, { maxRetry: 1 });
    return { outcome: await agent.download({ ...release, ...changes }), dirs };
  };
  const digest = sha256(image);
  for (const bad of [digest.slice(1), `${digest}0`, `x${digest}`, `${digest.slice(1)}g`, '']) {
    const { outcome } = await attempt({ sha256: bad });
    const failure = failed(outcome);
    assert.equal(failure.reason, 'bad-response', bad);
    assert.match(failure.message, /not a SHA-256/);
  }
  for (const filename of ['../fw.bin', '.fw.bin', 'sub/fw.bin']) {
    assert.equal(failed((await attempt({ filename })).outcome).reason, 'bad-response', filename);
  }
  assert.deepEqual(server.state.downloads, [], 'none of these asked the server for anything');

  const { outcome, dirs } = await attempt({ sha256: digest.toUpperCase() });
  assert.equal(outcome.status, 'downloaded');
  assert.equal(outcome.status === 'downloaded' && outcome.sha256, digest, 'kept in lower case');
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), digest);
});

/** A pino logger whose lines land in `lines`. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  }));
  return { logger, lines };
}

const WARN = 40;
const DEBUG = 20;

test('no downgrade: an older version than the last download is refused, without a download, and warned about once', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const { logger, lines } = capturingLogger();
  const { agent } = newAgent(t, server, dirs, { logger });
  publish(server, 'fw-2.0.0.bin', firmwareImage(5_000, 7), { firmware_version: '2.0.0' });
  assert.equal((await agent.checkOnce()).status, 'downloaded');

  const old = publish(server, 'fw-1.9.0.bin', firmwareImage(5_000, 8), { firmware_version: '1.9.0' });
  lines.length = 0;
  assert.deepEqual(await agent.checkOnce(), { status: 'refused-downgrade', release: old, installedVersion: '2.0.0' });
  assert.deepEqual(await agent.checkOnce(), { status: 'refused-downgrade', release: old, installedVersion: '2.0.0' });
  assert.deepEqual(server.state.downloads.map((download) => download.name), ['fw-2.0.0.bin']);
  const refusals = lines.filter((line) => /refusing downgrade/.test(line.msg));
  assert.deepEqual(refusals.map((line) => [line.level, line.msg]), [
    [WARN, 'refusing downgrade from 2.0.0 to 1.9.0 (possible rollback attack)'],
    [DEBUG, 'refusing downgrade from 2.0.0 to 1.9.0 (possible rollback attack)'],
  ], 'the warning once, then at debug level while the server keeps announcing it');

  // The same version rebuilt is no downgrade.
  publish(server, 'fw-2.0.0-rebuilt.bin', firmwareImage(5_000, 9), { firmware_version: '2.0.0' });
  assert.equal((await agent.checkOnce()).status, 'downloaded');
  // Nor is a release that names no version.
  publish(server, 'fw-unversioned.bin', firmwareImage(5_000, 10));
  assert.equal((await agent.checkOnce()).status, 'downloaded');
  // …after which nothing is known to be installed, so the older one goes through.
  publish(server, 'fw-1.9.0.bin', firmwareImage(5_000, 8), { firmware_version: '1.9.0' });
  assert.equal((await agent.checkOnce()).status, 'downloaded');
});

test('no downgrade: allowDowngrade lets it through with a warning; the embedder\'s installedVersion decides over the state files', async (t) => {
  const server = await fakeServer(t);
  const { logger, lines } = capturingLogger();
  const dirs = await clientDirs(t);
  const allowing = newAgent(t, server, dirs, { allowDowngrade: true, installedVersion: () => '3.0.0', logger });
  publish(server, 'fw-1.0.0.bin', firmwareImage(4_000, 11), { firmware_version: '1.0.0' });
  assert.equal((await allowing.agent.checkOnce()).status, 'downloaded');
  assert.ok(lines.some((line) => line.level === WARN && line.msg === 'downgrade allowed by configuration'));

  // The state files say 1.0.0 was downloaded; the embedder knows 0.5.0 is installed (say the ECU rolled back).
  const asked: Array<string | undefined> = [];
  const embedded = newAgent(t, server, await clientDirs(t), { installedVersion: (release) => { asked.push(release.firmwareVersion); return '0.5.0'; } });
  publish(server, 'fw-0.9.0.bin', firmwareImage(4_000, 12), { firmware_version: '0.9.0' });
  assert.equal((await embedded.agent.checkOnce()).status, 'downloaded');
  assert.deepEqual(asked, ['0.9.0']);
  const unknown = newAgent(t, server, await clientDirs(t), { installedVersion: () => undefined });
  assert.equal((await unknown.agent.checkOnce()).status, 'downloaded', 'nothing known to be installed: nothing to protect');
  const async = newAgent(t, server, await clientDirs(t), { installedVersion: () => Promise.resolve('0.9.1') });
  const refused = await async.agent.checkOnce();
  assert.equal(refused.status === 'refused-downgrade' && refused.installedVersion, '0.9.1');
});

test('the verifier: sees the hashed bytes before they are installed; a rejection is final and throws the bytes away', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const image = firmwareImage(30_000, 13);
  const release = publish(server, 'fw.bin', image, { ecu: 'EDT', firmware_version: '1.0.0' });
  let accept = false;
  const seen: Array<Omit<VerificationInput, 'signal'> & { bytes: string; installed: boolean }> = [];
  const { agent, failures } = newAgent(t, server, dirs, {
    verify: async ({ path, release: verifying, sha256: digest, size, signal }) => {
      assert.ok(signal instanceof AbortSignal);
      seen.push({ path, release: verifying, sha256: digest, size, bytes: sha256(await readFile(path)),
        installed: await exists(join(dirs.downloadDir, 'fw.bin')) });
      if (!accept) throw new Error('manifest signature does not verify');
    },
  });

  const rejected = failed(await agent.checkOnce());
  assert.equal(rejected.reason, 'verification-failed');
  assert.equal(rejected.attempts, 1, 'no retry: a bad signature stays bad');
  assert.match(rejected.message, /verification rejected fw\.bin: manifest signature does not verify/);
  assert.deepEqual(failures, []);
  assert.deepEqual(await listDir(dirs.downloadDir), []);
  assert.equal(await exists(join(dirs.stateDir, 'download.part')), false, 'the rejected bytes are gone');
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), null);

  accept = true;
  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded');
  assert.equal(outcome.status === 'downloaded' && outcome.resumedFrom, 0, 'downloaded again from byte 0');
  assert.deepEqual(server.state.downloads.map((download) => download.range), [undefined, undefined]);
  const expected = { path: join(dirs.stateDir, 'download.part'), release, sha256: release.sha256, size: image.length, bytes: release.sha256, installed: false };
  assert.deepEqual(seen, [expected, expected]);
});

test('without a verifier the SHA-256 alone decides', async (t) => {
  const server = await fakeServer(t);
  const dirs = await clientDirs(t);
  const image = firmwareImage(6_000, 14);
  publish(server, 'fw.bin', image);
  const { agent } = newAgent(t, server, dirs);
  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded', JSON.stringify(outcome));
  assert.ok((await readFile(join(dirs.downloadDir, 'fw.bin'))).equals(image));
});

test('nothing announced yet: up to date, nothing asked for', async (t) => {
  const server = await fakeServer(t);
  const { agent } = newAgent(t, server, await clientDirs(t));
  assert.deepEqual(await agent.checkOnce(), { status: 'up-to-date', release: null });
  assert.deepEqual(server.state.downloads, []);
});

test('a server that announces no size (the seed): the SHA-256 alone decides', async (t) => {
  const server = await fakeServer(t);
  const image = firmwareImage(7_000, 15);
  publish(server, 'fw.bin', image);
  delete server.state.announce.size;
  const { agent } = newAgent(t, server, await clientDirs(t));
  const outcome = await agent.checkOnce();
  assert.equal(outcome.status, 'downloaded', JSON.stringify(outcome));
  assert.equal(outcome.status === 'downloaded' && outcome.release.size, undefined);
  assert.equal(outcome.status === 'downloaded' && outcome.size, image.length);
});

test('download(release) reports its outcome as an event too; allowDowngrade works without a logger', async (t) => {
  const server = await fakeServer(t);
  const image = firmwareImage(3_000, 16);
  const release = publish(server, 'fw.bin', image, { firmware_version: '1.0.0' });
  const { agent } = newAgent(t, server, await clientDirs(t));
  const events: CycleOutcome[] = [];
  agent.on('outcome', (outcome) => events.push(outcome));
  const outcome = await agent.download(release);
  assert.equal(outcome.status, 'downloaded');
  assert.deepEqual(events, [outcome]);

  const allowing = newAgent(t, server, await clientDirs(t), { allowDowngrade: true, installedVersion: () => '2.0.0' });
  assert.equal((await allowing.agent.checkOnce()).status, 'downloaded');
});

test('what the operator reads: each new situation once at its level, repeats at debug', async (t) => {
  const server = await fakeServer(t);
  const { logger, lines } = capturingLogger();
  const { agent } = newAgent(t, server, await clientDirs(t), { logger, installedVersion: () => '5.0.0' });
  const decisions = () => lines.filter((line) => !/download|verified|new release/.test(line.msg)).map((line) => {
    const { level, msg, release, installedVersion, firmwareVersion } = line as Record<string, unknown>;
    return { level, msg, ...(release ? { release: (release as Release).filename } : {}), ...(installedVersion ? { installedVersion } : {}),
      ...(firmwareVersion ? { firmwareVersion } : {}) };
  });
  await agent.checkOnce();
  await agent.checkOnce();
  assert.deepEqual(decisions(), [{ level: 30, msg: 'the server has no release yet' }, { level: DEBUG, msg: 'the server has no release yet' }]);

  lines.length = 0;
  publish(server, 'old-a.bin', firmwareImage(1_000, 17), { firmware_version: '4.0.0' });
  await agent.checkOnce();
  publish(server, 'old-b.bin', firmwareImage(1_000, 18), { firmware_version: '4.1.0' });
  await agent.checkOnce();
  assert.deepEqual(decisions(), [
    { level: WARN, msg: 'refusing downgrade from 5.0.0 to 4.0.0 (possible rollback attack)', release: 'old-a.bin', installedVersion: '5.0.0' },
    { level: WARN, msg: 'refusing downgrade from 5.0.0 to 4.1.0 (possible rollback attack)', release: 'old-b.bin', installedVersion: '5.0.0' },
  ], 'another refused release is warned about again');

  lines.length = 0;
  publish(server, 'new.bin', firmwareImage(1_000, 19), { firmware_version: '6.0.0' });
  assert.equal((await agent.checkOnce()).status, 'downloaded');
  await agent.checkOnce();
  await agent.checkOnce();
  assert.deepEqual(decisions(), [{ level: 30, msg: 'up to date', release: 'new.bin' }, { level: DEBUG, msg: 'up to date', release: 'new.bin' }]);

  lines.length = 0;
  const allowing = newAgent(t, server, await clientDirs(t), { logger, allowDowngrade: true, installedVersion: () => '7.0.0' });
  assert.equal((await allowing.agent.checkOnce()).status, 'downloaded');
  assert.deepEqual(decisions(), [{ level: WARN, msg: 'downgrade allowed by configuration', installedVersion: '7.0.0', firmwareVersion: '6.0.0' }]);
});
