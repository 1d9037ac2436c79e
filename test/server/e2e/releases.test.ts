import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { FormData } from 'undici';
import { OtaServer } from '../../../src/client/ota-server.ts';
import { ClientError } from '../../../src/client/errors.ts';
import { ServerApi } from '../../../src/vehicle/tmu/server-api.ts';
import { openStorage } from '../../../src/server/storage/index.ts';
import { defaultDatabaseUrl } from '../../../src/server/storage/database.ts';
import { admin, employee, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { csrfTokenIn, type WebClient, type WebResponse } from '../support/web-client.ts';
import { registerVehicle } from '../support/vehicles.ts';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Every file in the blob store, `incoming/` included: a refused upload must leave none behind. */
async function blobFiles(server: TestServer): Promise<string[]> {
  const root = join(server.dataDir, 'blobs');
  const names: string[] = [];
  for (const dir of await readdir(root)) names.push(...(await readdir(join(root, dir))).map((n) => `${dir}/${n}`));
  return names.sort();
}

interface ListedRelease {
  id: number;
  filename: string;
  ecu: string | null;
  firmware_version: string | null;
  latest: boolean;
  withdrawn_at: string | null;
  withdrawn_by: string | null;
  withdrawal_reason: string | null;
}

async function listed(client: WebClient, query = ''): Promise<{ releases: ListedRelease[]; total: number; page: number; limit: number; offset: number; next_page: number | null }> {
  const response = await client.fetch(`/api/v1/releases${query}`);
  assert.equal(response.status, 200, response.text);
  return response.json();
}

/** An upload whose fields come after the file (a script may send them so): checked once the file is in. */
async function uploadFieldsLast(client: WebClient, filename: string, content: Buffer, fields: Record<string, string>): Promise<WebResponse> {
  const form = new FormData();
  form.append('csrf_token', csrfTokenIn((await client.fetch('/')).text));
  form.append('file', new Blob([content]), filename);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return client.fetch('/upload', { method: 'POST', body: form, headers: { accept: 'application/json' } });
}

test('uploads are validated: every refusal says why, and nothing of it is stored', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const held = randomBytes(2000);
  const first = await boss.upload('edt-2.0.0.bin', held, { ecu: 'EDT', firmware_version: '2.0.0' });
  assert.equal(first.status, 200, first.text);
  const holder = first.json<{ release: { id: number; uploaded_at: string } }>().release;
  const before = await blobFiles(server);
  const binary = randomBytes(1000);

  const refusals: Array<[string, () => Promise<WebResponse>, number, string | RegExp]> = [
    ['an ECU without a version', () => boss.upload('a.bin', binary, { ecu: 'EDT' }), 400,
      'a release for ECU EDT needs a firmware_version (SemVer, like 2.0.0)'],
    ['a version without an ECU', () => boss.upload('a.bin', binary, { firmware_version: '2.0.1' }), 400,
      'firmware_version 2.0.1 needs an ecu: which ECU is this release for?'],
    ['a hardware id without an ECU', () => boss.upload('a.bin', binary, { hardware_id: 'EDT-HW-A1' }), 400,
      'hardware_id needs an ecu and a firmware_version'],
    ['ECU "E D T"', () => boss.upload('a.bin', binary, { ecu: 'E D T', firmware_version: '2.0.1' }), 400,
      'ecu "E D T" is not an ECU name: 2 to 16 characters, letters, digits and _, starting with a letter (like EDT)'],
    ['an ECU name too long for the vehicle', () => boss.upload('a.bin', binary, { ecu: 'E'.repeat(17), firmware_version: '2.0.1' }), 400,
      /^ecu "E{17}" is not an ECU name/],
    ['version "banana"', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: 'banana' }), 400,
      'firmware_version "banana" is not a SemVer 2.0.0 version: MAJOR.MINOR.PATCH with an optional -pre-release and +build, like 2.0.0 or 2.1.0-rc.1'],
    ['version "v2.0.1" (a prefix SemVer does not have)', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: 'v2.0.1' }), 400,
      /^firmware_version "v2\.0\.1" is not a SemVer 2\.0\.0 version/],
    ['version "2.1" (two parts)', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '2.1' }), 400, /^firmware_version "2\.1" is not a SemVer/],
    ['version "02.0.0" (a leading zero)', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '02.0.0' }), 400, /^firmware_version "02\.0\.0" is not a SemVer/],
    ['an empty file', () => boss.upload('empty.bin', Buffer.alloc(0), { ecu: 'EDT', firmware_version: '2.0.1' }), 400,
      'empty.bin: the file is empty: a firmware image has at least one byte'],
    ['notes.txt as EDT 9.9.9', () => boss.upload('notes.txt', Buffer.from('EDT 9.9.9\n- faster\n- quieter\n'), { ecu: 'EDT', firmware_version: '9.9.9' }), 400,
      'notes.txt: this looks like a text file, not a firmware image (its first bytes are all readable text); upload the binary image (.bin), not notes, a hex dump or an Intel HEX / S-record file'],
    ['a UTF-8 text with non-ASCII letters', () => boss.upload('readme.bin', Buffer.from('Grüße aus Köln ✓\r\n\tEnde\f'), {}), 400, /^readme\.bin: this looks like a text file/],
    ['an Intel HEX file', () => boss.upload('edt.hex', Buffer.from(':10010000214601360121470136007EFE09D2190140\n:00000001FF\n'), { ecu: 'EDT', firmware_version: '2.0.1' }), 400,
      /^edt\.hex: this looks like a text file/],
    ['a UTF-16 text with a byte-order mark', () => boss.upload('u16.bin', Buffer.from('\ufeffrelease notes, UTF-16\r\n', 'utf16le'), {}), 400, /^u16\.bin: this looks like a text file/],
    ['a text longer than 64 KiB (only its start is read)', () => boss.upload('long.bin', Buffer.from('ö'.repeat(50_000)), {}), 400, /^long\.bin: this looks like a text file/],
    ['the same ECU and version with other bytes', () => boss.upload('edt-2.0.0-new.bin', binary, { ecu: 'EDT', firmware_version: '2.0.0' }), 409,
      `EDT 2.0.0 is already release ${holder.id} (edt-2.0.0.bin, version 2.0.0, uploaded by alice at ${holder.uploaded_at.replace(/\.\d{3}Z$/, 'Z')}): a version is released once, give this image a new version`],
    ['the same version in lower case and with build metadata', () => boss.upload('x.bin', binary, { ecu: 'edt', firmware_version: '2.0.0+build.9' }), 409,
      /^EDT 2\.0\.0\+build\.9 is already release \d+ \(edt-2\.0\.0\.bin, version 2\.0\.0,/],
    ['the same version with the fields after the file', () => uploadFieldsLast(boss, 'late.bin', binary, { ecu: 'EDT', firmware_version: '2.0.0' }), 409,
      /^EDT 2\.0\.0 is already release/],
    ['a bad version with the fields after the file', () => uploadFieldsLast(boss, 'late.bin', binary, { ecu: 'EDT', firmware_version: 'latest' }), 400,
      /^firmware_version "latest" is not a SemVer/],
    ['notes over 1000 characters', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '2.0.1', notes: 'n'.repeat(1001) }), 400,
      'notes is 1001 characters long, at most 1000 are allowed'],
    ['notes with a terminal escape', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '2.0.1', notes: 'ok\u001b[2J' }), 400,
      'notes must be plain text: U+001B is a control character'],
    ['notes with a bidi override', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '2.0.1', notes: 'safe \u202etxt.exe' }), 400,
      'notes must be plain text: U+202E is a bidi control (it changes the direction text is shown in)'],
    ['a field the multipart parser had to cut', () => boss.upload('a.bin', binary, { ecu: 'EDT', firmware_version: '2.0.1', notes: 'é'.repeat(3000) }), 400,
      'the field "notes" is too long'],
  ];
  for (const [what, upload, status, message] of refusals) {
    await t.test(`${what}: ${status}`, async () => {
      const response = await upload();
      assert.equal(response.status, status, response.text);
      const error = String(response.json().error);
      if (typeof message === 'string') assert.equal(error, message);
      else assert.match(error, message);
      assert.deepEqual(await blobFiles(server), before, 'no blob, and nothing left in incoming/');
    });
  }

  await t.test('the release list holds only the first upload, and every refusal is audited with its reason', async () => {
    assert.deepEqual((await listed(boss)).releases.map((r) => r.filename), ['edt-2.0.0.bin']);
    const failed = (await server.auditLines()).filter((a) => a.event === 'upload' && a.outcome === 'failed');
    assert.equal(failed.length, refusals.length);
    assert.ok(failed.some((a) => /this looks like a text file/.test(String((a.details as { reason: string }).reason))));
  });

  await t.test('what passes: an ECU name in lower case is stored as ECUs name themselves; pre-releases, build metadata, multi-line notes; a seed-style bare .bin', async () => {
    const lower = await boss.upload('edt-2.1.0-rc.1.bin', binary, { ecu: 'edt', firmware_version: '2.1.0-rc.1+sha.5114f85', notes: 'line one\r\nline two' });
    assert.equal(lower.status, 200, lower.text);
    const release = lower.json<{ release: { ecu: string; firmware_version: string; notes: string; latest: boolean } }>().release;
    assert.deepEqual([release.ecu, release.firmware_version, release.notes, release.latest], ['EDT', '2.1.0-rc.1+sha.5114f85', 'line one\nline two', true]);
    const seed = await boss.upload('firmware.bin', randomBytes(100));
    assert.equal(seed.status, 200, seed.text);
    assert.equal(seed.json<{ release: { latest: boolean } }>().release.latest, false, 'a file for no ECU is no ECU\'s latest');
    assert.equal((await server.client().fetch('/latest_version')).json().version, 'firmware.bin', 'the seed\'s latest is the newest upload');
  });
});

test('one latest per ECU, by version; withdrawn releases are never offered again', async (t) => {
  const server = await startTestServer(t);
  const vin = 'WCANTAWDRAW000001';
  const token = await registerVehicle(server.dataDir, vin);
  const boss = await loggedIn(server, admin);
  const worker = await loggedIn(server, employee);
  const images = { v2: randomBytes(3000), v15: randomBytes(2000), cgw: randomBytes(1000) };
  const upload = async (name: string, content: Buffer, fields: Record<string, string>) => {
    const response = await boss.upload(name, content, fields);
    assert.equal(response.status, 200, response.text);
    return response.json<{ release: { id: number } }>().release.id;
  };
  const v2 = await upload('edt-2.0.0.bin', images.v2, { ecu: 'EDT', firmware_version: '2.0.0' });
  const cgw = await upload('cgw-1.1.0.bin', images.cgw, { ecu: 'CGW', firmware_version: '1.1.0' });
  const v15 = await upload('edt-1.5.0.bin', images.v15, { ecu: 'EDT', firmware_version: '1.5.0' });
  // Without a token, as a client that is in no deployment's reach: the latest of each ECU (deployments are tested in deployments.test.ts).
  const api = new ServerApi({ server: server.url, timeoutMs: 5000 });
  t.after(() => api.close());
  const offered = async () => (await api.latestReleases()).releases.map((r) => `${r.ecu} ${r.firmwareVersion} ${r.release.releaseId}`);

  await t.test('a lower version uploaded later is not the latest: not for vehicles, not in the list, not on the page', async () => {
    assert.deepEqual(await offered(), [`CGW 1.1.0 ${cgw}`, `EDT 2.0.0 ${v2}`]);
    const list = await listed(boss);
    assert.deepEqual(list.releases.map((r) => [r.id, r.latest]), [[v15, false], [cgw, true], [v2, true]]);
    const page = (await boss.fetch('/')).text;
    assert.match(page, new RegExp(`<tr class="latest" data-release-id="${v2}">`));
    assert.match(page, new RegExp(`<tr data-release-id="${v15}">`));
  });

  await t.test('withdrawing needs an admin, a CSRF token, a known release and a plain reason', async () => {
    const csrf = csrfTokenIn((await boss.fetch('/')).text);
    const post = (client: WebClient, path: string, body: Record<string, unknown>, token?: string) => client.fetch(path, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(token ? { 'x-csrf-token': token } : {}) },
    });
    const anonymous = await post(server.client(), `/api/v1/releases/${v2}/withdraw`, {});
    assert.deepEqual([anonymous.status, anonymous.json()], [401, { error: 'login required' }]);
    const denied = await post(worker, `/api/v1/releases/${v2}/withdraw`, {}, csrfTokenIn((await worker.fetch('/')).text));
    assert.deepEqual([denied.status, denied.json()], [403, { error: 'only the admin role may do this' }]);
    const forged = await post(boss, `/api/v1/releases/${v2}/withdraw`, {});
    assert.deepEqual([forged.status, forged.json()], [403, { error: 'missing or invalid CSRF token: reload the page and try again' }]);
    const unknown = await post(boss, '/api/v1/releases/99999/withdraw', {}, csrf);
    assert.deepEqual([unknown.status, unknown.json()], [404, { error: 'no release 99999' }]);
    assert.equal((await post(boss, '/api/v1/releases/abc/withdraw', {}, csrf)).status, 400);
    const long = await post(boss, `/api/v1/releases/${v2}/withdraw`, { reason: 'r'.repeat(501) }, csrf);
    assert.deepEqual([long.status, long.json()], [400, { error: 'reason is 501 characters long, at most 500 are allowed' }]);
    assert.deepEqual(await offered(), [`CGW 1.1.0 ${cgw}`, `EDT 2.0.0 ${v2}`], 'none of that withdrew anything');
    const audits = (await server.auditLines()).filter((a) => a.event === 'release.withdraw');
    assert.deepEqual(audits.map((a) => [a.outcome, a.actor]), [['denied', employee.username]]);
  });

  await t.test('withdrawn: the next version down is offered, downloads and the manifest are 410, audited once, idempotent', async () => {
    const csrf = csrfTokenIn((await boss.fetch('/')).text);
    const withdraw = () => boss.fetch(`/api/v1/releases/${v2}/withdraw`, {
      method: 'POST', body: JSON.stringify({ reason: 'Stalls the inverter at -20 °C' }),
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrf },
    });
    const response = await withdraw();
    assert.equal(response.status, 200, response.text);
    const body = response.json<{ message: string; release: ListedRelease }>();
    assert.equal(body.message, `withdrew release ${v2} (edt-2.0.0.bin): it is no longer offered`);
    assert.equal(body.release.withdrawn_by, admin.username);
    assert.equal(body.release.withdrawal_reason, 'Stalls the inverter at -20 °C');
    assert.match(String(body.release.withdrawn_at), /^\d{4}-\d\d-\d\dT/);

    assert.deepEqual(await offered(), [`CGW 1.1.0 ${cgw}`, `EDT 1.5.0 ${v15}`], 'the TMU is offered EDT 1.5.0 now');
    const manifest = await server.client().fetch(`/api/v1/releases/${v2}/manifest`);
    assert.deepEqual([manifest.status, manifest.json()], [410, { error: `release ${v2} (edt-2.0.0.bin) was withdrawn: it is no longer offered` }]);

    // The download client (the TMU's) is refused the file, with the reason.
    const ota = new OtaServer({ url: server.url, token, timeoutMs: 5000 });
    try {
      const session = ota.session();
      const nonce = await session.nonce();
      await assert.rejects(session.download('edt-2.0.0.bin', nonce, {}, { signal: AbortSignal.timeout(5000), bodyTimeoutMs: 5000 }),
        (error: unknown) => error instanceof ClientError && error.status === 410 && /was withdrawn: it is no longer offered/.test(error.message));
      const other = await session.download('edt-1.5.0.bin', await session.nonce(), {}, { signal: AbortSignal.timeout(5000), bodyTimeoutMs: 5000 });
      assert.equal(sha256(Buffer.from(await other.body.arrayBuffer())), sha256(images.v15));
    } finally {
      await ota.close();
    }

    const again = await withdraw();
    assert.equal(again.status, 200);
    assert.match(again.json<{ message: string }>().message, new RegExp(`^release ${v2} \\(edt-2\\.0\\.0\\.bin\\) was withdrawn already, by alice at \\d{4}-`));
    const lines = await server.auditLines();
    const audits = lines.filter((a) => a.event === 'release.withdraw' && a.outcome === 'ok');
    assert.equal(audits.length, 1, 'one entry per withdrawal, none for the repeat');
    assert.equal(audits[0]!.actor, admin.username);
    assert.equal(audits[0]!.subject, 'edt-2.0.0.bin');
    assert.deepEqual(audits[0]!.details, { release_id: v2, ecu: 'EDT', firmware_version: '2.0.0', sha256: sha256(images.v2), reason: 'Stalls the inverter at -20 °C' });
    assert.ok(lines.some((a) => a.event === 'download' && a.outcome === 'failed' && a.actor === vin && (a.details as { reason: string }).reason === 'withdrawn'));

    const list = await listed(boss);
    assert.deepEqual(list.releases.map((r) => [r.id, r.latest, r.withdrawn_by]), [[v15, true, null], [cgw, true, null], [v2, false, admin.username]]);
    const page = (await boss.fetch('/')).text;
    assert.match(page, new RegExp(`<tr class="withdrawn" data-release-id="${v2}">`));
    assert.match(page, /withdrawn<\/span><br><small>by alice at [^<]+: Stalls the inverter at -20 °C<\/small>/);
    assert.equal((await boss.fetch('/upload/edt-2.0.0.bin')).status, 200, 'an admin can still check the file out');
    const reuse = await boss.upload('edt-2.0.0b.bin', randomBytes(10), { ecu: 'EDT', firmware_version: '2.0.0' });
    assert.equal(reuse.status, 409);
    assert.match(String(reuse.json().error), new RegExp(`^EDT 2\\.0\\.0 is already release ${v2} \\(edt-2\\.0\\.0\\.bin, version 2\\.0\\.0, uploaded by alice at [^,]+, withdrawn\\)`));
  });

  await t.test('the page\'s withdraw button: a form post, then back to the list with a message', async () => {
    const page = (await boss.fetch('/')).text;
    assert.match(page, new RegExp(`<form method="post" action="/api/v1/releases/${cgw}/withdraw">`));
    assert.doesNotMatch(page, new RegExp(`action="/api/v1/releases/${v2}/withdraw"`), 'no button for a withdrawn release');
    assert.doesNotMatch((await worker.fetch('/')).text, /withdraw"/, 'no buttons for employees');
    const response = await boss.fetch(`/api/v1/releases/${cgw}/withdraw`, {
      form: { csrf_token: csrfTokenIn(page), reason: '' }, headers: { accept: 'text/html' },
    });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/');
    assert.match((await boss.fetch('/')).text, new RegExp(`withdrew release ${cgw} \\(cgw-1\\.1\\.0\\.bin\\): it is no longer offered`));
    assert.deepEqual(await offered(), [`EDT 1.5.0 ${v15}`]);
    const refused = await boss.fetch(`/api/v1/releases/${cgw}/withdraw`, { form: { csrf_token: 'wrong' }, headers: { accept: 'text/html' } });
    assert.equal(refused.status, 403);
    assert.match(refused.text, /<html/, 'a browser gets the error page');
  });

  await t.test('/latest_version: the newest upload not withdrawn (the seed client then goes back to it); nothing once all are withdrawn', async () => {
    const seed = server.client();
    assert.equal((await seed.fetch('/latest_version')).json().version, 'edt-1.5.0.bin');
    const csrf = csrfTokenIn((await boss.fetch('/')).text);
    const response = await boss.fetch(`/api/v1/releases/${v15}/withdraw`, { method: 'POST', headers: { 'x-csrf-token': csrf, accept: 'application/json' } });
    assert.equal(response.status, 200, 'no body at all: no reason');
    assert.equal(response.json<{ release: ListedRelease }>().release.withdrawal_reason, null);
    const latest = await seed.fetch('/latest_version');
    assert.deepEqual([latest.json().version, latest.json().sha256, latest.headers.etag], [null, null, 'W/"none"']);
    assert.deepEqual(await offered(), []);
  });
});

test('the release list is paged and says so: 200 rows a page on the page, ?page= and ?limit= in the API', async (t) => {
  const server = await startTestServer(t);
  // 205 releases straight into the server's database (the route is what is tested here, not 205 uploads).
  const storage = await openStorage(defaultDatabaseUrl(server.dataDir));
  try {
    for (let i = 1; i <= 205; i++) {
      await storage.releases.add({
        filename: `r-${i}.bin`, sha256: sha256(Buffer.from([i])), size: 1, ecu: 'EDT', firmware_version: `1.0.${i}`,
        notes: null, uploaded_by: 'alice', uploaded_at: 1_700_000_000_000 + i,
      });
    }
  } finally {
    await storage.close();
  }
  const boss = await loggedIn(server, admin);

  await t.test('the page: "showing 1–200 of 205", a next link; page 2 the rest and a previous link', async () => {
    const first = (await boss.fetch('/')).text;
    assert.match(first, /showing 1–200 of 205/);
    assert.equal((first.match(/<tr[ >][^]*?<\/tr>/g) ?? []).filter((row) => row.includes('data-release-id')).length, 200);
    assert.match(first, /<a rel="next" href="\/\?page=2">next →<\/a>/);
    assert.doesNotMatch(first, /rel="prev"/);
    assert.match(first, /r-205\.bin/);
    assert.doesNotMatch(first, /r-5\.bin/);
    const second = (await boss.fetch('/?page=2')).text;
    assert.match(second, /showing 201–205 of 205/);
    assert.match(second, /<a rel="prev" href="\/\?page=1">← previous<\/a>/);
    assert.doesNotMatch(second, /rel="next"/);
    assert.match(second, /r-1\.bin/);
    assert.match((await boss.fetch('/?page=9')).text, /No releases on this page/);
    const bad = await boss.fetch('/?page=0');
    assert.equal(bad.status, 400);
    assert.match(bad.text, /page must be &gt;= 1/);
    assert.equal((await boss.fetch('/?page=two')).status, 400);
  });

  await t.test('the API: page and limit, total and next_page; offset still works; both at once is refused', async () => {
    const page2 = await listed(boss, '?page=2&limit=100');
    assert.deepEqual([page2.total, page2.page, page2.limit, page2.offset, page2.next_page, page2.releases.length], [205, 2, 100, 100, 3, 100]);
    assert.equal(page2.releases[0]!.filename, 'r-105.bin');
    const last = await listed(boss, '?page=3&limit=100');
    assert.deepEqual([last.releases.length, last.next_page], [5, null]);
    const byOffset = await listed(boss, '?offset=200&limit=10');
    assert.deepEqual([byOffset.page, byOffset.releases.map((r) => r.filename)], [21, ['r-5.bin', 'r-4.bin', 'r-3.bin', 'r-2.bin', 'r-1.bin']]);
    assert.equal((await listed(boss)).releases.length, 100, 'default limit 100');
    assert.equal((await listed(boss)).releases[0]!.latest, true, 'EDT 1.0.205 is the latest');
    const both = await boss.fetch('/api/v1/releases?page=2&offset=5');
    assert.deepEqual([both.status, both.json()], [400, { error: 'give page or offset, not both' }]);
    assert.equal((await boss.fetch('/api/v1/releases?limit=1001')).status, 400);
  });
});
