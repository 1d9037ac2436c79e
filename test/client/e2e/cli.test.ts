import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { runCanota, startCanota } from '../../support/canota-process.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { clientArgs, clientDirs, firmwareImage, jsonLines, listDir, readText } from '../support/client-run.ts';

test('canota client: --quiet, SIGINT, and a loop that outlives failed cycles', async (t) => {
  const server = await startOtaServer(t);
  const image = firmwareImage(2 * 1024 * 1024, 61);
  await server.upload('cgw-1.0.0.bin', image, { ecu: 'CGW', firmware_version: '1.0.0' });

  await t.test('--quiet: nothing on stdout when all goes well, the warnings still come', async (t) => {
    const dirs = await clientDirs(t);
    const quiet = await runCanota(clientArgs(server.url, dirs, ['--once', '--quiet']));
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, '');
    assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), '100');

    const refused = await runCanota(clientArgs(server.url, dirs, ['--once', '--quiet', '--installed-version', '9.0.0']));
    // Up to date wins over the version check: the same release is never "refused".
    assert.equal(refused.stdout, '');
    const fresh = await clientDirs(t);
    const downgrade = await runCanota(clientArgs(server.url, fresh, ['--once', '--quiet', '--installed-version', '9.0.0']));
    assert.equal(downgrade.code, 0);
    assert.deepEqual(jsonLines(downgrade.stdout).map((line) => line.level), [40]);
  });

  await t.test('SIGINT during a --once download: stops cleanly, exit 1, the partial file kept for the next run', async (t) => {
    const slow = await startFaultProxy({ host: server.host, port: server.port }, () => ({ bytesPerSecond: 512 * 1024 }));
    t.after(() => slow.close());
    const dirs = await clientDirs(t);
    const client = await startCanota(clientArgs(slow.url, dirs, ['--once']));
    t.after(() => client.stop());
    await client.waitFor(/"msg":"downloading"/);
    client.child.kill('SIGINT');
    assert.equal(await client.exited, 1);
    assert.ok(client.output.some((line) => line.includes('"msg":"stopping"') && line.includes('SIGINT')));
    assert.ok(client.output.some((line) => line.includes('canota: stopped before the cycle completed')));
    assert.ok((await stat(join(dirs.stateDir, 'download.part'))).size > 0);
    assert.notEqual(await readText(join(dirs.stateDir, 'progress.txt')), 'ERROR');
    assert.deepEqual(await listDir(dirs.downloadDir), []);
    assert.ok(!(await listDir(dirs.stateDir)).includes('client.lock'), 'the lock is released');
  });

  await t.test('the loop keeps polling after a failed cycle and downloads once the server answers', async (t) => {
    let healthy = false;
    const proxy = await startFaultProxy({ host: server.host, port: server.port }, () => healthy ? undefined : { respondStatus: 503 });
    t.after(() => proxy.close());
    const dirs = await clientDirs(t);
    const client = await startCanota(clientArgs(proxy.url, dirs, ['--interval', '0.2', '--max-retry', '1']));
    t.after(() => client.stop());
    await client.waitFor(/"reason":"server-error".*"msg":"download failed/);
    healthy = true;
    await client.waitFor(/"msg":"downloaded and verified"/);
    assert.equal(await client.stop(), 0);
  });
});

test('canota client usage errors exit 2', async () => {
  const missing = await runCanota(['client', '--once']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--server/);
  const badInterval = await runCanota(['client', '--server', 'http://127.0.0.1:9', '--interval', 'soon']);
  assert.equal(badInterval.code, 2);
  assert.match(badInterval.stderr, /--interval/);
  const badRetry = await runCanota(['client', '--server', 'http://127.0.0.1:9', '--max-retry', '0']);
  assert.equal(badRetry.code, 2);
  const badUrl = await runCanota(['client', '--server', 'ftp://example.invalid/']);
  assert.equal(badUrl.code, 2);
  assert.match(badUrl.stderr, /http or https/);
  assert.deepEqual(jsonLines(badUrl.stdout), []);
  const badEnv = await runCanota(['client', '--once'], { env: { CANOTA_SERVER: 'not a url' } });
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /not a URL/);
});
