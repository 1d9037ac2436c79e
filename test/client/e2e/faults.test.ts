import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy, type ConnectionFault } from '../../support/fault-proxy.ts';
import { startOtaServer, type OtaTestServer } from '../../support/ota-server.ts';
import { clientDirs, firmwareImage, listDir, readText, runClientOnce, type ClientDirs, type ClientRun } from '../support/client-run.ts';

const image = firmwareImage(2 * 1024 * 1024, 21);
const imageSha = createHash('sha256').update(image).digest('hex');
const filename = 'edt-2.0.0.bin';

/** Every fault scenario: a real canota server, the fault proxy between it and a real `canota client`. */
test('canota client survives faults between it and canota server', async (t) => {
  const server = await startOtaServer(t);
  await server.upload(filename, image, { ecu: 'EDT', firmware_version: '2.0.0' });

  const through = async (t: { after: (fn: () => Promise<void>) => void }, plan: (connection: number) => ConnectionFault | undefined) => {
    const proxy = await startFaultProxy({ host: server.host, port: server.port }, plan);
    t.after(() => proxy.close());
    return proxy;
  };

  await t.test('a connection cut mid-file is resumed with Range, the hash rebuilt from disk', async (t) => {
    const proxy = await through(t, (n) => n === 1 ? { cutAfterBytes: 600_000 } : undefined);
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertInstalled(run, dirs, 2);
    const resumedFrom = run.status.resumedFrom as number;
    assert.ok(resumedFrom > 500_000 && resumedFrom < 600_000, `resumed from ${resumedFrom}`);
    const downloads = proxy.requestHeads.filter((head) => head.includes('/ota_download/'));
    assert.equal(downloads.length, 2);
    assert.doesNotMatch(downloads[0]!, /\r\nrange:/i);
    assert.match(downloads[1]!, new RegExp(`\\r\\nrange: bytes=${resumedFrom}-`, 'i'));
    // If-Range carries the ETag (the SHA-256) of the bytes we have, so a changed file comes back whole.
    assert.match(downloads[1]!, new RegExp(`\\r\\nif-range: "${imageSha}"`, 'i'));
    assert.ok(run.logs.some((line) => line.msg === `resuming at byte ${resumedFrom}`));
    assert.ok(run.logs.some((line) => line.reason === 'connection' && line.level === 40));
    await assertInstalledFile(dirs);
  });

  await t.test('a reset connection (TCP RST) mid-file is resumed too', async (t) => {
    const proxy = await through(t, (n) => n === 1 ? { cutAfterBytes: 900_000, reset: true } : undefined);
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertInstalled(run, dirs, 2);
    assert.ok((run.status.resumedFrom as number) > 0);
    await assertInstalledFile(dirs);
  });

  await t.test('a flipped byte fails the SHA-256 on every try: 3 tries, exit 1, nothing installed, ERROR', async (t) => {
    const marker = image.subarray(1_000_000, 1_000_032);
    const proxy = await through(t, () => ({ corruptPattern: marker }));
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertFailed(run, 'hash-mismatch', 3);
    // Each try started from zero again: a corrupt prefix is never trusted.
    const downloads = proxy.requestHeads.filter((head) => head.includes('/ota_download/'));
    assert.equal(downloads.length, 3);
    for (const head of downloads) assert.doesNotMatch(head, /\r\nrange:/i);
    await assertNothingInstalled(dirs, { partialDiscarded: true });
  });

  await t.test('a flipped byte at offset K of one connection: the next try downloads it whole and succeeds', async (t) => {
    const proxy = await through(t, (n) => n === 1 ? { flipByteAt: 300_000 } : undefined);
    const dirs = await clientDirs(t);
    // The second try reuses the keep-alive connection, past offset K: its bytes arrive intact.
    const run = await runClientOnce(proxy.url, dirs);
    assertInstalled(run, dirs, 2);
    assert.equal(run.status.resumedFrom, 0);
    assert.ok(run.logs.some((line) => line.reason === 'hash-mismatch'));
    await assertInstalledFile(dirs);
  });

  await t.test('a stalled transfer (below --min-speed for --stall-timeout) is cut and resumed', async (t) => {
    const proxy = await through(t, (n) => n === 1 ? { stallAfterBytes: 500_000 } : undefined);
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs, ['--stall-timeout', '1', '--min-speed', '100000']);
    assertInstalled(run, dirs, 2);
    assert.ok(run.logs.some((line) => line.reason === 'stalled'), 'the stall is reported');
    assert.ok((run.status.resumedFrom as number) > 400_000);
    await assertInstalledFile(dirs);
  });

  await t.test('a server that never answers times out (--timeout) and the next try succeeds', async (t) => {
    const proxy = await through(t, (n) => n === 1 ? { stallAfterBytes: 0 } : undefined);
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs, ['--timeout', '2']);
    assertInstalled(run, dirs, 2);
    assert.ok(run.logs.some((line) => line.reason === 'timeout'));
  });

  await t.test('5xx answers are retried with backoff; the third try succeeds', async (t) => {
    const proxy = await through(t, (n) => n <= 2 ? { respondStatus: 503 } : undefined);
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertInstalled(run, dirs, 3);
    assert.equal(run.logs.filter((line) => line.reason === 'server-error').length, 2);
    await assertInstalledFile(dirs);
  });

  await t.test('5xx on every download: exit 1 after 3 tries, ERROR, nothing installed', async (t) => {
    const proxy = await through(t, () => ({
      intercept: (line) => line.includes('/ota_download/') ? { status: 502, body: Buffer.from('{"error":"bad gateway"}') } : undefined,
    }));
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertFailed(run, 'server-error', 3);
    await assertNothingInstalled(dirs, { partialDiscarded: false });
  });

  await t.test('a replayed nonce is refused by the server; the client takes a fresh one each try', async (t) => {
    let replayed = false;
    const proxy = await through(t, (n) => {
      if (n === 1) return { cutAfterBytes: 600_000 };
      return {
        // On the second connection, swap the client's fresh nonce for the one already used.
        rewriteRequest: (data) => {
          const text = data.toString('latin1');
          const used = proxy.requests.find((line) => line.includes('/ota_download/'))?.match(/nonce=(\w+)/)?.[1];
          if (replayed || !used || !text.includes('/ota_download/')) return data;
          replayed = true;
          return Buffer.from(text.replace(/nonce=\w+/, `nonce=${used}`), 'latin1');
        },
      };
    });
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs);
    assertInstalled(run, dirs, 3);
    assert.ok(replayed);
    const nonces = proxy.requests.filter((line) => line.includes('/ota_download/')).map((line) => line.match(/nonce=(\w+)/)![1]);
    assert.equal(nonces.length, 3);
    assert.equal(new Set(nonces).size, 3, 'the client never sends a nonce twice');
    const refusal = run.logs.find((line) => line.reason === 'nonce-rejected');
    assert.match(String(refusal?.msg), /403/);
    await assertInstalledFile(dirs);
  });

  await t.test('a body longer than announced (endless data) is cut off at the announced size and rejected', async (t) => {
    const proxy = await through(t, () => ({
      intercept: (line) => line.includes('/ota_download/')
        ? { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: 'endless' as const } : undefined,
    }));
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs, ['--max-retry', '2']);
    assertFailed(run, 'length-mismatch', 2);
    assert.match(String(run.status.message), new RegExp(`more than the announced ${image.length} bytes`));
    await assertNothingInstalled(dirs, { partialDiscarded: true });
  });

  await t.test('an unknown file (404) fails with reason not-found', async (t) => {
    const proxy = await through(t, () => ({
      intercept: (line) => line.includes('/ota_download/') ? { status: 404, body: Buffer.from('{"error":"no release"}') } : undefined,
    }));
    const dirs = await clientDirs(t);
    const run = await runClientOnce(proxy.url, dirs, ['--max-retry', '1']);
    assertFailed(run, 'not-found', 1);
    assert.match(String(run.status.message), /no release/);
  });
});

function assertInstalled(run: ClientRun, dirs: ClientDirs, attempts: number): void {
  assert.equal(run.code, 0, `exit ${run.code}\n${run.stderr}`);
  assert.equal(run.status.status, 'downloaded', JSON.stringify(run.status));
  assert.equal(run.status.attempts, attempts, run.stderr);
  assert.equal(run.status.path, join(dirs.downloadDir, filename));
}

async function assertInstalledFile(dirs: ClientDirs): Promise<void> {
  assert.ok((await readFile(join(dirs.downloadDir, filename))).equals(image));
  assert.deepEqual(await listDir(dirs.downloadDir), [filename]);
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), imageSha);
  assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), '100');
  assert.deepEqual(await listDir(dirs.stateDir), ['downloaded_release.json', 'downloaded_sha.txt', 'progress.txt']);
}

function assertFailed(run: ClientRun, reason: string, attempts: number): void {
  assert.equal(run.code, 1, `exit ${run.code}\n${run.stderr}`);
  assert.equal(run.status.status, 'failed');
  assert.equal(run.status.reason, reason, JSON.stringify(run.status));
  assert.equal(run.status.attempts, attempts);
  assert.match(run.stderr, new RegExp(`canota: download failed \\(${reason}\\)`));
}

async function assertNothingInstalled(dirs: ClientDirs, options: { partialDiscarded: boolean }): Promise<void> {
  assert.deepEqual(await listDir(dirs.downloadDir), []);
  assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), 'ERROR');
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), null);
  const state = await listDir(dirs.stateDir);
  // Bytes that failed a check are never kept for a resume; bytes that are merely incomplete may be.
  if (options.partialDiscarded) assert.deepEqual(state, ['progress.txt']);
  assert.ok(!state.some((name) => name.endsWith('.tmp')), `no temp files: ${state.join(', ')}`);
}

export type { OtaTestServer };
