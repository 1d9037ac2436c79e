import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota, startCanota, listeningPattern } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('canota server --help lists every option', async () => {
  const { code, stdout } = await runCanota(['server', '--help']);
  assert.equal(code, 0);
  for (const option of ['--host', '--port', '--data-dir', '--database-url', '--allow-ip', '--trust-proxy', '--tls-cert', '--tls-key',
    '--max-upload-size', '--nonce-ttl', '--nonce-rate-limit', '--session-secret', '--session-idle', '--login-max-failures', '--login-lock', '--shutdown-grace']) {
    assert.ok(stdout.includes(option), option);
  }
});

test('bad server options are usage errors (exit 2)', async (t) => {
  const dataDir = await tempDir(t);
  for (const [args, message] of [
    [['--port', '70000'], /integer from 0 to 65535/],
    [['--max-upload-size', 'lots'], /not a size/],
    [['--allow-ip', 'not-an-ip'], /not an IP network/],
    [['--tls-cert', '/nonexistent.pem'], /--tls-cert and --tls-key go together/],
    [['--nonce-ttl', '0'], /integer from 1/],
  ] as const) {
    const result = await runCanota(['server', '--data-dir', dataDir, ...args]);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const url = await runCanota(['server', '--port', '0', '--data-dir', dataDir, '--database-url', 'mysql://x']);
  assert.equal(url.code, 1);
  assert.match(url.stderr, /unsupported database URL/);
});

test('options also come from CANOTA_* environment variables; --port 0 picks a free port', async (t) => {
  const dataDir = await tempDir(t);
  const server = await startCanota(['server'], {
    ready: listeningPattern,
    env: { CANOTA_PORT: '0', CANOTA_DATA_DIR: dataDir, CANOTA_NONCE_TTL: '7', CANOTA_ALLOW_IP: '127.0.0.1/32,::1/128' },
  });
  t.after(() => server.stop());
  assert.match(server.url!, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(new URL(server.url!).port, '5000');
  const nonce = await (await fetch(`${server.url!}/get_nonce`)).json() as { expires_in: number };
  assert.equal(nonce.expires_in, 7);
  assert.equal(await server.stop(), 0);
});

test('SIGTERM the moment the server says it is listening: a clean stop (exit 0) every time', async (t) => {
  // The signal handler must exist before the readiness line; until then the kernel's default action ends
  // the process at once (exit by signal, no "server stopped").
  const dataDir = await tempDir(t);
  for (let round = 0; round < 5; round++) {
    const server = await startCanota(['server', '--port', '0', '--data-dir', dataDir], { ready: listeningPattern });
    t.after(() => server.stop());
    assert.equal(await server.stop(), 0, `round ${round}`);
    assert.ok(server.output.some((line) => line.includes('server stopped')), `round ${round}`);
  }
});
