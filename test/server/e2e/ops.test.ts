import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { admin, loggedIn, startTestServer, seedUsers } from '../support/server.ts';
import { rawUpload } from '../support/raw-upload.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { startCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { image } from '../support/images.ts';

test('ops: healthz, metrics, OpenAPI docs, security headers, error formats', async (t) => {
  const server = await startTestServer(t);
  const client = server.client();

  await t.test('/healthz reports the database', async () => {
    const response = await client.fetch('/healthz');
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { status: 'ok', database: 'sqlite' });
  });

  await t.test('/metrics counts requests, downloads, bytes, nonce outcomes and logins', async () => {
    const boss = await loggedIn(server, admin);
    await boss.upload('m.bin', image('metrics!'));
    await server.client().login(admin.username, 'wrong-password-1');
    const { nonce } = (await client.fetch('/get_nonce')).json<{ nonce: string }>();
    await client.fetch(`/ota_download/m.bin?nonce=${nonce}`);
    await client.fetch(`/ota_download/m.bin?nonce=${nonce}`);
    // /metrics needs an admin (or the metrics token) since test/attacks/ops-routes-exposure.test.ts.
    const metrics = (await boss.fetch('/metrics')).text;
    const value = (pattern: string) => Number(new RegExp(`^${pattern} (\\d+)`, 'm').exec(metrics)?.[1]);
    assert.equal(value('canota_downloads_total\\{outcome="ok"\\}'), 1);
    assert.equal(value('canota_download_bytes_total'), image('metrics!').length);
    assert.equal(value('canota_nonces_total\\{outcome="issued"\\}'), 1);
    assert.equal(value('canota_nonces_total\\{outcome="ok"\\}'), 1);
    assert.equal(value('canota_nonces_total\\{outcome="used"\\}'), 1);
    assert.equal(value('canota_logins_total\\{outcome="ok"\\}'), 1);
    assert.equal(value('canota_logins_total\\{outcome="failed"\\}'), 1);
    assert.equal(value('canota_uploads_total\\{outcome="ok"\\}'), 1);
    assert.ok(value('canota_http_requests_total\\{method="GET",route="/get_nonce",status="200"\\}') >= 1);
    assert.match(metrics, /canota_process_resident_memory_bytes/);
  });

  await t.test('/docs serves the OpenAPI document generated from the route schemas', async () => {
    // A logged-in user's, since test/attacks/ops-routes-exposure.test.ts.
    const reader = await loggedIn(server, admin);
    const spec = (await reader.fetch('/docs/json')).json<{ openapi: string; paths: Record<string, Record<string, unknown>> }>();
    assert.match(spec.openapi, /^3\./);
    for (const path of ['/latest_version', '/get_nonce', '/ota_download/{filename}', '/login', '/upload', '/upload/{filename}', '/audit', '/healthz', '/metrics', '/api/v1/releases']) {
      assert.ok(spec.paths[path], `${path} documented`);
    }
    const latest = spec.paths['/latest_version']!.get as { responses: Record<string, { content: Record<string, { schema: { required: string[] } }> }> };
    assert.deepEqual(latest.responses['200']!.content['application/json']!.schema.required, ['version', 'mtime', 'sha256']);
    const ui = await reader.fetch('/docs/');
    assert.equal(ui.status, 200);
    assert.match(ui.text, /swagger/i);
  });

  await t.test('pages carry helmet\'s headers and a strict Content-Security-Policy', async () => {
    const page = await client.fetch('/login');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    assert.doesNotMatch(page.text, /<script>|style="/, 'no inline script or style');
    const css = await client.fetch('/assets/style.css');
    assert.equal(css.status, 200);
    assert.match(String(css.headers['content-type']), /text\/css/);
  });

  await t.test('errors: JSON {error} for API routes, a readable page for browsers', async () => {
    const api = await client.fetch('/nothing-here');
    assert.equal(api.status, 404);
    assert.deepEqual(api.json(), { error: 'not found' });
    const page = await client.fetch('/nothing-here', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 404);
    assert.match(page.text, /<h1>Not found<\/h1>/);
    const bad = await client.fetch('/api/v1/releases?limit=0');
    assert.equal(bad.status, 400, 'schema validation runs before the handler');
    assert.match(String(bad.json().error), /limit/);
  });
});

test('SIGTERM lets a running download finish, refuses new work, and exits 0', async (t) => {
  const server = await startTestServer(t, { args: ['--max-upload-size', '256MiB'] });
  const boss = await loggedIn(server, admin);
  const size = 48 * 1024 * 1024;
  const csrfToken = csrfTokenIn((await boss.fetch('/')).text);
  const cookie = [...boss.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const uploaded = await rawUpload(server.url, { cookie, csrfToken, filename: 'big.bin', size, chunk: randomBytes(1 << 20) });
  assert.ok('status' in uploaded && uploaded.status === 200);
  const { nonce } = (await boss.fetch('/get_nonce')).json<{ nonce: string }>();
  await boss.close();

  const url = new URL(server.url);
  let received = 0;
  const done = new Promise<{ status: number; received: number; complete: boolean }>((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: `/ota_download/big.bin?nonce=${nonce}` }, (res) => {
      res.once('data', (chunk: Buffer) => {
        received += chunk.length;
        // Stall the download, then ask the server to stop while it is running.
        res.pause();
        server.process.child.kill('SIGTERM');
        setTimeout(() => res.resume(), 500);
        res.on('data', (c: Buffer) => { received += c.length; });
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, received, complete: res.complete }));
      res.on('error', reject);
    });
    req.on('error', reject).end();
  });
  await server.process.waitFor(/SIGTERM: shutting down/);
  const refused = await request(`${server.url}/latest_version`, { dispatcher: new Agent({ connect: { timeout: 2000 } }) })
    .then((r) => r.statusCode, (e: Error) => e.message);
  assert.ok(refused === 503 || /ECONNREFUSED|ECONNRESET|closed|other side/i.test(String(refused)), `new requests are refused: ${refused}`);
  const result = await done;
  assert.deepEqual(result, { status: 200, received: size, complete: true });
  assert.equal(await server.process.exited, 0);
  assert.ok(server.process.output.some((l) => l.includes('"event":"download","outcome":"ok"')));
});

test('under TLS (--tls-cert/--tls-key) the session cookie is Secure', async (t) => {
  const dir = await tempDir(t);
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
  await seedUsers(join(dir, 'data'), []);
  const server = await startCanota(['server', '--port', '0', '--data-dir', join(dir, 'data'), '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
    { ready: /listening at (https:\/\/[^\s"]+)/ });
  t.after(() => server.stop());
  const agent = new Agent({ connect: { rejectUnauthorized: false } });
  t.after(() => agent.close());
  const response = await request(`${server.url!}/login`, { dispatcher: agent });
  await response.body.dump();
  assert.equal(response.statusCode, 200);
  const cookie = String(response.headers['set-cookie']);
  assert.match(cookie, /; Secure/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.match(String(response.headers['strict-transport-security']), /max-age=/);
});
