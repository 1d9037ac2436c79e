import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { startTestServer } from '../support/server.ts';

// 127.0.0.2 is loopback too (the whole 127/8), so it plays a client from a network that is not allowed.
const outsider = { localAddress: '127.0.0.2' };

test('IP allowlist: loopback only by default; any route from elsewhere is 403 and audited', async (t) => {
  const server = await startTestServer(t, { users: [] });
  const stranger = server.client(outsider);
  for (const path of ['/latest_version', '/get_nonce', '/ota_download/x.bin?nonce=00', '/login', '/healthz', '/metrics', '/docs', '/no-such-route']) {
    const response = await stranger.fetch(path);
    assert.equal(response.status, 403, path);
    // JSON for API routes, a readable page for HTML ones.
    if (path === '/login') assert.match(response.text, /<p class="error">your address is not allowed to use this server<\/p>/);
    else assert.deepEqual(response.json(), { error: 'your address is not allowed to use this server' });
  }
  const post = await stranger.fetch('/login', { form: { username: 'a', password: 'b' } });
  assert.equal(post.status, 403);
  assert.equal((await server.client().fetch('/latest_version')).status, 200, '127.0.0.1 is allowed');
  const blocks = (await server.auditLines()).filter((a) => a.event === 'ip.block');
  assert.equal(blocks.length, 9);
  assert.ok(blocks.every((a) => a.ip === '127.0.0.2' && a.outcome === 'denied'));
  assert.ok(blocks.some((a) => a.subject === 'GET /get_nonce'));
});

test('--allow-ip takes CIDRs; the defaults are replaced', async (t) => {
  const server = await startTestServer(t, { users: [], args: ['--allow-ip', '127.0.0.2/31', '--allow-ip', '::1/128'] });
  assert.equal((await server.client(outsider).fetch('/latest_version')).status, 200, '127.0.0.2 is in 127.0.0.2/31');
  assert.equal((await server.client({ localAddress: '127.0.0.3' }).fetch('/latest_version')).status, 200);
  assert.equal((await server.client().fetch('/latest_version')).status, 403, '127.0.0.1 is not in the list any more');
});

test('X-Forwarded-For counts only from a --trust-proxy address', async (t) => {
  const server = await startTestServer(t, { users: [], args: ['--allow-ip', '10.1.2.0/24', '--trust-proxy', '127.0.0.1/32'] });
  const proxy = server.client();
  assert.equal((await proxy.fetch('/latest_version', { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 200,
    'the trusted proxy forwards an allowed client');
  assert.equal((await proxy.fetch('/latest_version', { headers: { 'x-forwarded-for': '192.0.2.1' } })).status, 403,
    'the trusted proxy forwards a blocked client');
  assert.equal((await proxy.fetch('/latest_version')).status, 403, 'the proxy itself is not an allowed client');
  const untrusted = server.client(outsider);
  assert.equal((await untrusted.fetch('/latest_version', { headers: { 'x-forwarded-for': '10.1.2.3' } })).status, 403,
    'an untrusted peer cannot claim an allowed address');
  assert.ok((await server.auditLines()).some((a) => a.event === 'ip.block' && a.ip === '192.0.2.1'));
});

test('a bad --allow-ip is a usage error', async (t) => {
  const dir = await tempDir(t);
  const result = await runCanota(['server', '--port', '0', '--data-dir', dir, '--allow-ip', '10.0.0.0/33']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /bad prefix length/);
});

test('IPv6: ::1 is allowed by default, and refused when the list leaves it out', async (t) => {
  const allowed = await startTestServer(t, { users: [], args: ['--host', '::1'] });
  assert.match(allowed.url, /^http:\/\/\[::1\]:\d+$/);
  assert.equal((await allowed.client().fetch('/latest_version')).status, 200);

  const refused = await startTestServer(t, { users: [], args: ['--host', '::1', '--allow-ip', '127.0.0.1/32,fd00::/8'] });
  assert.equal((await refused.client().fetch('/latest_version')).status, 403);
  assert.ok((await refused.auditLines()).some((a) => a.event === 'ip.block' && a.ip === '::1'));
});
