import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { admin, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { csrfTokenIn, type WebClient } from '../support/web-client.ts';
import { rawUpload } from '../support/raw-upload.ts';
import { image } from '../support/images.ts';

async function storedBlobs(server: TestServer): Promise<string[]> {
  const root = join(server.dataDir, 'blobs');
  const names: string[] = [];
  for (const dir of await readdir(root)) names.push(...(await readdir(join(root, dir))).map((n) => `${dir}/${n}`));
  return names;
}

async function sessionOf(client: WebClient): Promise<{ cookie: string; csrfToken: string }> {
  const csrfToken = csrfTokenIn((await client.fetch('/')).text);
  return { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; '), csrfToken };
}

test('uploads: size limit, filenames, atomic storage, escaping', async (t) => {
  const server = await startTestServer(t, { args: ['--max-upload-size', '64KiB'] });
  const boss = await loggedIn(server, admin);

  await t.test('a file over --max-upload-size is refused with 413 and nothing is stored', async () => {
    const response = await boss.upload('big.bin', Buffer.alloc(64 * 1024 + 1, 1));
    assert.equal(response.status, 413);
    assert.match(String(response.json().error), /65536 bytes/);
    assert.deepEqual(await storedBlobs(server), []);
    const exact = await boss.upload('exact.bin', Buffer.alloc(64 * 1024, 2));
    assert.equal(exact.status, 200, 'exactly the limit is fine');
    assert.ok((await server.auditLines()).some((a) => a.event === 'upload' && a.outcome === 'failed' && (a.details as { reason: string }).reason === 'too large'));
  });

  await t.test('bad filenames are refused with 400', async () => {
    for (const name of ['../evil.bin', 'dir/evil.bin', 'dir\\evil.bin', '..', 'a..b', 'tab\there.bin', 'nul\u0000.bin', '.hidden', ' lead.bin', 'x'.repeat(256)]) {
      const response = await boss.upload(name, 'x');
      assert.equal(response.status, 400, JSON.stringify(name));
      assert.match(String(response.json().error), /filename|name/, JSON.stringify(name));
    }
    const releases = (await boss.fetch('/api/v1/releases')).json<{ releases: Array<{ filename: string }> }>().releases;
    assert.deepEqual(releases.map((r) => r.filename), ['exact.bin']);
  });

  await t.test('metadata is stored with the release; bad metadata is 400', async () => {
    const response = await boss.upload('meta.bin', image('meta'), { ecu: 'EDT', firmware_version: '3.1.4', notes: 'better torque' });
    const release = (response.json() as { release: Record<string, unknown> }).release;
    assert.equal(release.filename, 'meta.bin');
    assert.equal(release.ecu, 'EDT');
    assert.equal(release.firmware_version, '3.1.4');
    assert.equal(release.notes, 'better torque');
    assert.equal(release.uploaded_by, admin.username);
    assert.equal(release.size, image('meta').length);
    assert.equal(release.sha256, createHash('sha256').update(image('meta')).digest('hex'));
    assert.equal((await boss.upload('meta2.bin', image('x'), { ecu: 'E'.repeat(65), firmware_version: '1.0.0' })).status, 400);
  });

  await t.test('a cut upload leaves no file and no release behind', async () => {
    const before = await storedBlobs(server);
    const result = await rawUpload(server.url, { ...await sessionOf(boss), filename: 'cut.bin', size: 60_000, cutAfter: 30_000, chunk: Buffer.alloc(10_000, 7) });
    assert.deepEqual(result, { cut: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await storedBlobs(server), before, 'no blob, and nothing left in incoming/');
    const releases = (await boss.fetch('/api/v1/releases')).json<{ releases: Array<{ filename: string }> }>().releases;
    assert.ok(!releases.some((r) => r.filename === 'cut.bin'));
    assert.ok((await server.auditLines()).some((a) => a.event === 'upload' && a.outcome === 'failed'));
  });

  await t.test('identical content is stored once, addressed by its SHA-256', async () => {
    await boss.upload('same-1.bin', image('identical'));
    await boss.upload('same-2.bin', image('identical'));
    const hash = createHash('sha256').update(image('identical')).digest('hex');
    assert.deepEqual((await storedBlobs(server)).filter((b) => b.endsWith(hash)), [`${hash.slice(0, 2)}/${hash}`]);
  });

  await t.test('an uploaded filename never becomes markup', async () => {
    // Such a name is refused since filenames are plain ASCII (test/attacks/lookalike-filenames.test.ts);
    // the refusal page, the labels and the audit page must still not turn it into markup.
    const name = "<img src=x onerror=alert(1)>'&.bin";
    const refused = await boss.upload(name, 'xss', {}, { accept: 'text/html' });
    assert.equal(refused.status, 400);
    assert.ok(!refused.text.includes('<img src=x'), 'raw tag not in the error page');
    // Markup in an ECU name is no ECU name; the refusal quotes it as text.
    const badEcu = await boss.upload('xss.bin', image('xss'), { ecu: '<b>EDT</b>', firmware_version: '1.0.0' }, { accept: 'text/html' });
    assert.equal(badEcu.status, 400);
    assert.ok(!badEcu.text.includes('<b>EDT</b>') && badEcu.text.includes('&lt;b&gt;EDT&lt;/b&gt;'), badEcu.text);
    // Notes are plain text: markup is kept as typed and shown as text.
    assert.equal((await boss.upload('xss.bin', image('xss'), { ecu: 'EDT', firmware_version: '1.0.1', notes: '<b>bold</b><script>alert(2)</script>' })).status, 200);
    const page = (await boss.fetch('/')).text;
    assert.ok(!page.includes('<b>bold</b>'));
    assert.ok(!page.includes('<script>alert(2)'));
    assert.ok(page.includes('&lt;b&gt;bold&lt;/b&gt;'), 'shown as text');
    const audit = (await boss.fetch('/audit')).text;
    assert.ok(!audit.includes('<img src=x'));
  });

  await t.test('a browser form post without JavaScript is redirected back to the list with a message', async () => {
    const response = await boss.upload('form.bin', image('via form'), {}, { accept: 'text/html,application/xhtml+xml' });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/');
    assert.match((await boss.fetch('/')).text, /uploaded form\.bin/);
  });
});

test('uploads stream to disk: a file far larger than the memory it costs', async (t) => {
  const server = await startTestServer(t, { args: ['--max-upload-size', '1GiB'] });
  const boss = await loggedIn(server, admin);
  const rss = async () => Number(/^canota_process_resident_memory_bytes (\d+)/m.exec((await boss.fetch('/metrics')).text)?.[1]);
  const before = await rss();
  const size = 200 * 1024 * 1024;
  const result = await rawUpload(server.url, { ...await sessionOf(boss), filename: 'large.bin', size });
  assert.ok('status' in result && result.status === 200, JSON.stringify(result));
  const after = await rss();
  assert.ok(after - before < 100 * 1024 * 1024, `resident memory grew by ${((after - before) / 2 ** 20).toFixed(0)} MiB for a 200 MiB upload`);
  const latest = (await boss.fetch('/latest_version')).json();
  assert.equal(latest.size, size);
});
