import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { image } from '../support/images.ts';

const seedClient = fileURLToPath(new URL('../../fixtures/seed/download_file.py', import.meta.url));
// Debian's interpreter, which has python3-requests (the python3 first on PATH may not).
const python = '/usr/bin/python3';

function runSeedClient(serverUrl: string, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(python, [seedClient, serverUrl], {
      cwd, timeout: 60_000, env: { ...process.env, OTA_ONE_CYCLE: '1', OTA_RETRY_DELAY: '0.1' },
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: stdout + stderr });
    });
  });
}

test('the seed\'s own download_file.py polls, takes a nonce and downloads from canota', async (t) => {
  const server = await startTestServer(t);
  const state = await tempDir(t, 'canota-seed-client-');

  const empty = await runSeedClient(server.url, state);
  assert.equal(empty.code, 0, empty.output);
  assert.match(empty.output, /no update on the server/);

  const boss = await loggedIn(server, admin);
  const firmware = randomBytes(2 * 1024 * 1024 + 17);
  const sha = createHash('sha256').update(firmware).digest('hex');
  assert.equal((await boss.upload('edt-1.2.3.bin', firmware, { ecu: 'EDT', firmware_version: '1.2.3' })).status, 200);

  const first = await runSeedClient(server.url, state);
  assert.equal(first.code, 0, first.output);
  assert.match(first.output, /downloaded edt-1\.2\.3\.bin, SHA256 verified/);
  assert.deepEqual(await readFile(join(state, 'downloads', 'edt-1.2.3.bin')), firmware);
  assert.equal(await readFile(join(state, 'downloaded_sha.txt'), 'utf8'), sha);
  assert.equal(await readFile(join(state, 'progress.txt'), 'utf8'), '100');

  const second = await runSeedClient(server.url, state);
  assert.equal(second.code, 0, second.output);
  assert.match(second.output, /already up to date/);
  const downloads = async () => (await server.auditLines()).filter((a) => a.event === 'download' && a.outcome === 'ok').length;
  // A download's audit entry is written just after its last byte left: allow it a moment.
  const downloadsSettled = async (expected: number) => {
    for (let i = 0; i < 20 && await downloads() < expected; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    return downloads();
  };
  assert.equal(await downloadsSettled(1), 1, 'no second download when up to date');

  const newer = randomBytes(1000);
  assert.equal((await boss.upload('edt-1.2.4.bin', newer)).status, 200);
  const third = await runSeedClient(server.url, state);
  assert.equal(third.code, 0, third.output);
  assert.deepEqual(await readFile(join(state, 'downloads', 'edt-1.2.4.bin')), newer);
  assert.equal(await readFile(join(state, 'downloaded_sha.txt'), 'utf8'), createHash('sha256').update(newer).digest('hex'));
  assert.equal(await downloadsSettled(2), 2);
  const nonceUses = (await server.auditLines()).filter((a) => a.event === 'nonce.use' && a.outcome === 'ok');
  assert.equal(nonceUses.length, 2, 'each download spent its own nonce');
});

test('the seed client fails after its 3 retries when downloads are refused, and says ERROR', async (t) => {
  // The refusal comes from a release whose blob vanished from the store (a server-side fault): 404 each try.
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const content = image('will vanish');
  assert.equal((await boss.upload('gone.bin', content)).status, 200);
  const sha = createHash('sha256').update(content).digest('hex');
  await rm(join(server.dataDir, 'blobs', sha.slice(0, 2), sha));

  const state = await tempDir(t, 'canota-seed-client-');
  const result = await runSeedClient(server.url, state);
  assert.equal(result.code, 1, result.output);
  assert.equal((result.output.match(/download refused: HTTP 404/g) ?? []).length, 3);
  assert.equal(await readFile(join(state, 'progress.txt'), 'utf8'), 'ERROR');
});
