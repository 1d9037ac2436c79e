import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { startCanota } from '../../support/canota-process.ts';
import { parseProgress, parseDownloadedSha } from '../../../src/client/state-files.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { clientArgs, clientDirs, firmwareImage, listDir, readText, runClientOnce, type ClientDirs } from '../support/client-run.ts';

const image = firmwareImage(3 * 1024 * 1024, 31);
const imageSha = createHash('sha256').update(image).digest('hex');
const filename = 'edt-3.0.0.bin';

test('kill -9 during a download, restart: the client resumes and the state files are never torn', async (t) => {
  const server = await startOtaServer(t);
  await server.upload(filename, image, { ecu: 'EDT', firmware_version: '3.0.0' });
  // A slow link, so the download is surely under way when the client is killed.
  const slow = await startFaultProxy({ host: server.host, port: server.port }, () => ({ bytesPerSecond: 1024 * 1024 }));
  t.after(() => slow.close());
  const dirs = await clientDirs(t);

  let partSize = 0;
  for (const waitMs of [150, 600, 350]) {
    const client = await startCanota(clientArgs(slow.url, dirs, ['--once']));
    t.after(() => client.stop());
    await client.waitFor(/"msg":"downloading"/);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    client.child.kill('SIGKILL');
    assert.equal(await client.exited, 'SIGKILL');

    await assertStateWhole(dirs);
    // The killed client's lock stays behind; the next start sees its process is gone and takes over.
    assert.equal((await readText(join(dirs.stateDir, 'client.lock')))?.trim(), String(client.child.pid));
    assert.deepEqual(await listDir(dirs.downloadDir), [], 'nothing reaches the download dir before it is verified');
    const size = (await stat(join(dirs.stateDir, 'download.part'))).size;
    assert.ok(size >= partSize, `the partial file only grows across restarts (${partSize} → ${size})`);
    assert.ok(size < image.length);
    partSize = size;
  }
  assert.ok(partSize > 0);

  // Restart at full speed: it resumes from the bytes on disk and completes.
  const run = await runClientOnce(server.url, dirs);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.status.status, 'downloaded');
  assert.ok((run.status.resumedFrom as number) >= partSize, `resumed from ${run.status.resumedFrom}, had ${partSize}`);
  assert.ok((await readFile(join(dirs.downloadDir, filename))).equals(image));
  assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), imageSha);
  assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), '100');
  assert.deepEqual(await listDir(dirs.stateDir), ['downloaded_release.json', 'downloaded_sha.txt', 'progress.txt']);
});

/** Every state file present is complete and parseable; the lock names a dead process (stale, taken over later). */
async function assertStateWhole(dirs: ClientDirs): Promise<void> {
  const progress = await readText(join(dirs.stateDir, 'progress.txt'));
  if (progress !== null) assert.notEqual(parseProgress(progress), null, `progress.txt is whole: ${JSON.stringify(progress)}`);
  const sha = await readText(join(dirs.stateDir, 'downloaded_sha.txt'));
  if (sha !== null) assert.notEqual(parseDownloadedSha(sha), null);
  const record = await readText(join(dirs.stateDir, 'download.json'));
  assert.ok(record !== null, 'the partial download record exists');
  const parsed = JSON.parse(record) as { sha256: string; filename: string };
  assert.equal(parsed.sha256, imageSha);
  assert.equal(parsed.filename, filename);
}
