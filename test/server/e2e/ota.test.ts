import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { image } from '../support/images.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('OTA routes: latest_version, nonce, download, Range, reuse, traversal', async (t) => {
  const server = await startTestServer(t);
  const vehicle = server.client();

  await t.test('latest_version answers the seed\'s three fields as null before any upload', async () => {
    const response = await vehicle.fetch('/latest_version');
    assert.equal(response.status, 200);
    assert.match(String(response.headers['content-type']), /application\/json/);
    const body = response.json();
    assert.equal(body.version, null);
    assert.equal(body.mtime, null);
    assert.equal(body.sha256, null);
  });

  const firmware = randomBytes(300_000);
  const uploader = await loggedIn(server, admin);
  const uploaded = await uploader.upload('edt-2.0.0.bin', firmware, { ecu: 'EDT', firmware_version: '2.0.0', notes: 'first' });
  assert.equal(uploaded.status, 200, uploaded.text);
  assert.match(String(uploaded.json().message), /edt-2\.0\.0\.bin/);

  await t.test('latest_version describes the upload, with the seed\'s meaning for each field', async () => {
    const before = Date.now() / 1000;
    const body = (await vehicle.fetch('/latest_version')).json();
    assert.equal(body.version, 'edt-2.0.0.bin');
    assert.equal(body.sha256, sha256(firmware));
    assert.equal(typeof body.mtime, 'number');
    assert.ok(Math.abs((body.mtime as number) - before) < 60, 'mtime is the upload time in Unix seconds');
    assert.equal(body.size, firmware.length);
    assert.equal(body.ecu, 'EDT');
    assert.equal(body.firmware_version, '2.0.0');
    assert.equal(typeof body.release_id, 'number');
    assert.match(String(body.uploaded_at), /^\d{4}-\d\d-\d\dT/);
  });

  await t.test('a nonce downloads the file once, with Content-Length, ETag and Accept-Ranges', async () => {
    const nonce = (await vehicle.fetch('/get_nonce')).json<{ nonce: string; expires_in: number }>();
    assert.match(nonce.nonce, /^[0-9a-f]{64}$/, '256-bit hex nonce');
    assert.equal(nonce.expires_in, 60);
    const download = await vehicle.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce.nonce}`);
    assert.equal(download.status, 200);
    assert.equal(sha256(download.body), sha256(firmware));
    assert.equal(download.headers['content-length'], String(firmware.length));
    assert.equal(download.headers.etag, `"${sha256(firmware)}"`);
    assert.equal(download.headers['accept-ranges'], 'bytes');

    const again = await vehicle.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce.nonce}`);
    assert.equal(again.status, 403);
    assert.deepEqual(again.json(), { error: 'nonce already used' });
  });

  await t.test('missing, malformed and unknown nonces are refused with 403 JSON', async () => {
    for (const query of ['', '?nonce=', '?nonce=zz', `?nonce=${'ab'.repeat(32)}`]) {
      const response = await vehicle.fetch(`/ota_download/edt-2.0.0.bin${query}`);
      assert.equal(response.status, 403, query);
      assert.equal(typeof response.json().error, 'string');
    }
  });

  await t.test('Range: 206 with Content-Range, suffix ranges, 416 past the end', async () => {
    const get = async (range: string) => {
      const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
      return vehicle.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce}`, { headers: { range } });
    };
    const middle = await get('bytes=1000-1999');
    assert.equal(middle.status, 206);
    assert.equal(middle.headers['content-range'], `bytes 1000-1999/${firmware.length}`);
    assert.equal(middle.headers['content-length'], '1000');
    assert.deepEqual(middle.body, firmware.subarray(1000, 2000));

    const tail = await get('bytes=299000-');
    assert.equal(tail.status, 206);
    assert.deepEqual(tail.body, firmware.subarray(299_000));

    const suffix = await get('bytes=-10');
    assert.deepEqual(suffix.body, firmware.subarray(firmware.length - 10));

    const past = await get(`bytes=${firmware.length}-`);
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${firmware.length}`);
  });

  await t.test('an unknown file is 404 JSON', async () => {
    const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
    const response = await vehicle.fetch(`/ota_download/nothing.bin?nonce=${nonce}`);
    assert.equal(response.status, 404);
    assert.match(String(response.json().error), /nothing\.bin/);
  });

  await t.test('no path traversal (.., encoded slashes) reaches a file outside the store', async () => {
    const attempts = [
      '/ota_download/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      '/ota_download/%2e%2e%2fcanota.db',
      '/ota_download/..%5Ccanota.db',
      '/ota_download/../canota.db',
      '/ota_download/..%252Fsession-secret',
      '/upload/..%2Fcanota.db',
    ];
    for (const path of attempts) {
      const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
      // Raw HTTP: undici would normalise `..` itself before sending.
      const { status, body } = await rawGet(server.url, `${path}?nonce=${nonce}`, uploader.cookies);
      assert.ok([400, 403, 404].includes(status), `${path} -> ${status}`);
      assert.doesNotMatch(body, /root:|SQLite format|^[A-Za-z0-9_-]{40,}$/, `${path} leaked a file`);
    }
  });

  await t.test('two concurrent downloads with one nonce: exactly one succeeds', async () => {
    for (let round = 0; round < 5; round++) {
      const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
      const clients = [server.client(), server.client()];
      const results = await Promise.all(clients.map((c) => c.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce}`)));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 403]);
    }
  });

  await t.test('a re-upload of the same filename is a new release and becomes the latest', async () => {
    const newer = randomBytes(1000);
    const response = await uploader.upload('edt-2.0.0.bin', newer, { ecu: 'EDT', firmware_version: '2.0.1' });
    assert.equal(response.status, 200);
    const latest = (await vehicle.fetch('/latest_version')).json();
    assert.equal(latest.sha256, sha256(newer));
    assert.equal(latest.firmware_version, '2.0.1');
    const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
    const download = await vehicle.fetch(`/ota_download/edt-2.0.0.bin?nonce=${nonce}`);
    assert.deepEqual(download.body, newer);
    const list = (await uploader.fetch('/api/v1/releases')).json<{ releases: Array<{ sha256: string }> }>();
    assert.deepEqual(list.releases.map((r) => r.sha256), [sha256(newer), sha256(firmware)]);
  });

  await t.test('nonce use and downloads are audited with their outcome', async () => {
    const lines = (await server.auditLines());
    assert.ok(lines.some((a) => a.event === 'nonce.use' && a.outcome === 'ok'));
    assert.ok(lines.some((a) => a.event === 'nonce.use' && a.outcome === 'failed' && (a.details as { reason: string }).reason === 'used'));
    assert.ok(lines.some((a) => a.event === 'nonce.use' && a.outcome === 'failed' && (a.details as { reason: string }).reason === 'missing'));
    assert.ok(lines.some((a) => a.event === 'download' && a.outcome === 'ok' && (a.details as { bytes: number }).bytes === firmware.length));
    assert.ok(lines.some((a) => a.event === 'download' && a.outcome === 'failed' && (a.details as { reason: string }).reason === 'unknown file'));
  });
});

test('nonces expire (--nonce-ttl) and their issuing is rate-limited (--nonce-rate-limit)', async (t) => {
  const server = await startTestServer(t, { args: ['--nonce-ttl', '1', '--nonce-rate-limit', '5'] });
  const uploader = await loggedIn(server, admin);
  assert.equal((await uploader.upload('a.bin', image('abc'))).status, 200);
  const vehicle = server.client();
  const { nonce, expires_in } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string; expires_in: number }>();
  assert.equal(expires_in, 1);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const late = await vehicle.fetch(`/ota_download/a.bin?nonce=${nonce}`);
  assert.equal(late.status, 403);
  assert.deepEqual(late.json(), { error: 'nonce expired' });

  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await vehicle.fetch('/get_nonce')).status);
  assert.deepEqual(statuses, [200, 200, 200, 200, 429, 429], 'five per minute, the first one was spent above');
  assert.equal(typeof (await vehicle.fetch('/get_nonce')).json().error, 'string');
});

test('the latest release survives a restart', async (t) => {
  const first = await startTestServer(t);
  const uploader = await loggedIn(first, admin);
  assert.equal((await uploader.upload('keep.bin', image('persist me'), { ecu: 'EDT', firmware_version: '1.0.0' })).status, 200);
  await uploader.close();
  assert.equal(await first.process.stop(), 0);

  const second = await startTestServer(t, { dataDir: first.dataDir, users: [] });
  const latest = (await second.client().fetch('/latest_version')).json();
  assert.equal(latest.version, 'keep.bin');
  assert.equal(latest.sha256, createHash('sha256').update(image('persist me')).digest('hex'));
});

function rawGet(baseUrl: string, path: string, cookies: Map<string, string>): Promise<{ status: number; body: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: url.hostname, port: url.port, path, method: 'GET',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; '), accept: 'application/json' },
    }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

test('nonces never reach the log', async (t) => {
  const server = await startTestServer(t, { users: [] });
  const vehicle = server.client();
  const { nonce } = (await vehicle.fetch('/get_nonce')).json<{ nonce: string }>();
  await vehicle.fetch(`/ota_download/none.bin?nonce=${nonce}`);
  await server.auditLines();
  assert.ok(server.process.output.some((line) => line.includes('/ota_download/none.bin?nonce=[redacted]')), 'the request is logged');
  assert.ok(!server.process.output.some((line) => line.includes(nonce)), 'without its nonce');
});
