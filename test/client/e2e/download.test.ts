import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFaultProxy } from '../../support/fault-proxy.ts';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { canotaBin, startCanota } from '../../support/canota-process.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { registerVehicle } from '../../server/support/vehicles.ts';
import { clientArgs, clientDirs, firmwareImage, listDir, readText, runClientOnce } from '../support/client-run.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('canota client against canota server: download, skip, detect, downgrade, token', async (t) => {
  const server = await startOtaServer(t);
  const proxy = await startFaultProxy({ host: server.host, port: server.port });
  t.after(() => proxy.close());

  await t.test('an empty server: up to date, nothing written, exit 0', async (t) => {
    const dirs = await clientDirs(t);
    const run = await runClientOnce(server.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(run.status, { status: 'up-to-date', release: null });
    assert.deepEqual(await listDir(dirs.downloadDir), []);
    assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), null);
  });

  const first = firmwareImage(1_500_000, 11);
  await server.upload('edt-1.0.0.bin', first, { ecu: 'EDT', firmware_version: '1.0.0' });
  const dirs = await clientDirs(t);

  await t.test('first download: streamed, verified, installed, state files written', async () => {
    const run = await runClientOnce(server.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.status.status, 'downloaded');
    assert.equal(run.status.attempts, 1);
    assert.equal(run.status.resumedFrom, 0);
    assert.deepEqual(run.status.release, {
      filename: 'edt-1.0.0.bin', sha256: sha256(first), size: first.length, ecu: 'EDT', firmwareVersion: '1.0.0',
      releaseId: (run.status.release as { releaseId: string }).releaseId,
    });
    const installed = join(dirs.downloadDir, 'edt-1.0.0.bin');
    assert.equal(run.status.path, installed);
    assert.ok((await readFile(installed)).equals(first));
    assert.deepEqual(await listDir(dirs.downloadDir), ['edt-1.0.0.bin']);
    assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), sha256(first));
    assert.equal(await readText(join(dirs.stateDir, 'progress.txt')), '100');
    const record = JSON.parse((await readText(join(dirs.stateDir, 'downloaded_release.json')))!) as Record<string, unknown>;
    assert.equal(record.firmwareVersion, '1.0.0');
    // Nothing but the state files remains: no partial download, no temp file, the lock released.
    assert.deepEqual(await listDir(dirs.stateDir), ['downloaded_release.json', 'downloaded_sha.txt', 'progress.txt']);
    // Not a terminal: progress comes as plain log lines.
    const progress = run.logs.filter((line) => line.msg === 'downloading').map((line) => line.percent as number);
    assert.ok(progress.length >= 2 && progress.at(-1) === 100, `progress lines: ${progress.join(',')}`);
  });

  await t.test('up to date: the same release again downloads nothing', async () => {
    const before = proxy.requests.length;
    const run = await runClientOnce(proxy.url, dirs);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.status.status, 'up-to-date');
    assert.equal((run.status.release as { sha256: string }).sha256, sha256(first));
    assert.deepEqual(proxy.requests.slice(before).map((line) => line.split(' ')[1]), ['/latest_version']);
  });

  await t.test('--token / CANOTA_TOKEN: Authorization: Bearer on every request', async (t) => {
    // Real vehicle tokens: the server refuses a token it does not know (401), even on its anonymous routes.
    const token = await registerVehicle(server.dataDir, 'WVWZZZ1JZXW000011');
    const otherToken = await registerVehicle(server.dataDir, 'WVWZZZ1JZXW000012');
    const tokenDirs = await clientDirs(t);
    const before = proxy.requestHeads.length;
    const run = await runClientOnce(proxy.url, tokenDirs, ['--token', token]);
    assert.equal(run.code, 0, run.stderr);
    const heads = proxy.requestHeads.slice(before);
    assert.deepEqual(heads.map((head) => head.split(' ')[1]!.split('?')[0]), ['/latest_version', '/get_nonce', '/ota_download/edt-1.0.0.bin']);
    for (const head of heads) assert.ok(head.toLowerCase().includes(`\r\nauthorization: bearer ${token.toLowerCase()}`), head);

    const envDirs = await clientDirs(t);
    const fromEnv = proxy.requestHeads.length;
    const envRun = await runClientOnce(proxy.url, envDirs, [], { CANOTA_TOKEN: otherToken });
    assert.equal(envRun.code, 0, envRun.stderr);
    for (const head of proxy.requestHeads.slice(fromEnv)) assert.ok(head.toLowerCase().includes(`\r\nauthorization: bearer ${otherToken.toLowerCase()}`), head);
    // Without a token, none is sent.
    const plain = proxy.requestHeads.length;
    await runClientOnce(proxy.url, dirs);
    for (const head of proxy.requestHeads.slice(plain)) assert.doesNotMatch(head, /authorization:/i);
    // A token the server does not know fails the cycle (exit 1) and installs nothing.
    const badDirs = await clientDirs(t);
    const bad = await runClientOnce(server.url, badDirs, ['--token', 'cvt_not-a-real-token', '--max-retry', '1']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.deepEqual(await listDir(badDirs.downloadDir), []);
  });

  await t.test('on a terminal: a progress bar with percent, speed and ETA instead of progress log lines', async (t) => {
    const ttyDirs = await clientDirs(t);
    const command = [process.execPath, canotaBin, ...clientArgs(server.url, ttyDirs, ['--once'])].map(shellQuote).join(' ');
    // `script` (util-linux) runs the client on a pseudo-terminal, as a person at a console would.
    const child = spawn('script', ['-qefc', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk; });
    const [code] = await once(child, 'exit') as [number];
    assert.equal(code, 0, output);
    const bar = /edt-1\.0\.0\.bin \[#+\] 100% {2}1\.4 MiB\/1\.4 MiB {2}[\d.]+ [KMG]?i?B\/s {2}ETA 0:00/;
    assert.ok(output.includes('\r\u001b[2K'), 'the bar is redrawn in place');
    assert.match(output, bar);
    assert.doesNotMatch(output, /"msg":"downloading"/);
    assert.match(output, /"msg":"downloaded and verified"/);
  });

  await t.test('the polling loop detects a new release and stops cleanly on SIGTERM', async () => {
    const client = await startCanota(clientArgs(server.url, dirs, ['--interval', '0.3']));
    t.after(() => client.stop());
    await client.waitFor(/"msg":"up to date"/);
    const second = firmwareImage(700_000, 12);
    await server.upload('edt-1.1.0.bin', second, { ecu: 'EDT', firmware_version: '1.1.0' });
    await client.waitFor(/"path":"[^"]*edt-1\.1\.0\.bin".*"msg":"downloaded and verified"/);
    assert.equal(await client.stop(), 0);
    assert.ok((await readFile(join(dirs.downloadDir, 'edt-1.1.0.bin'))).equals(second));
    assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), sha256(second));
    assert.ok(!(await listDir(dirs.stateDir)).includes('client.lock'), 'the lock is released on a clean stop');
  });

  await t.test('never downgrades: an older firmware_version is refused unless --allow-downgrade', async () => {
    const old = firmwareImage(300_000, 13);
    await server.upload('edt-0.9.0.bin', old, { ecu: 'EDT', firmware_version: '0.9.0' });
    const refused = await runClientOnce(server.url, dirs);
    assert.equal(refused.code, 0, refused.stderr);
    assert.equal(refused.status.status, 'refused-downgrade');
    assert.equal(refused.status.installedVersion, '1.1.0');
    const warning = refused.logs.find((line) => /refusing downgrade from 1\.1\.0 to 0\.9\.0/.test(String(line.msg)));
    assert.equal(warning?.level, 40);
    assert.ok(!(await listDir(dirs.downloadDir)).includes('edt-0.9.0.bin'));
    assert.equal(await readText(join(dirs.stateDir, 'downloaded_sha.txt')), sha256(firmwareImage(700_000, 12)));

    // The installed version can also come from the command line (the TMU knows it better).
    const byOption = await runClientOnce(server.url, dirs, ['--installed-version', '0.5']);
    assert.equal(byOption.status.status, 'downloaded');
    await server.upload('edt-0.8.0.bin', firmwareImage(1000, 14), { ecu: 'EDT', firmware_version: '0.8.0' });
    const allowed = await runClientOnce(server.url, dirs, ['--allow-downgrade']);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(allowed.status.status, 'downloaded');
    assert.ok((await listDir(dirs.downloadDir)).includes('edt-0.8.0.bin'));
  });

  await t.test('another client on the same state dir is refused (exit 1), not interleaved', async () => {
    const lockDirs = await clientDirs(t);
    const loop = await startCanota(clientArgs(server.url, lockDirs, ['--interval', '60']));
    t.after(() => loop.stop());
    await loop.waitFor(/"msg":"downloaded and verified"/);
    const second = await runClientOnce(server.url, lockDirs);
    assert.equal(second.code, 1);
    assert.equal(second.status.reason, 'locked');
    assert.equal(await loop.stop(), 0);
  });
});

function shellQuote(argument: string): string {
  return `'${argument.replace(/'/g, `'\\''`)}'`;
}
