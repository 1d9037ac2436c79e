import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parsePublicKey } from '../../../src/crypto/ed25519.ts';
import { verifyManifest, type SignedManifest } from '../../../src/crypto/manifest.ts';
import { admin, loggedIn, startTestServer } from '../support/server.ts';
import { listeningPattern, runCanota, startCanota } from '../../support/canota-process.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { image } from '../support/images.ts';

interface VehicleRelease {
  release_id: number;
  filename: string;
  ecu: string | null;
  firmware_version: string | null;
  hardware_id: string | null;
  size: number;
  sha256: string;
  uploaded_at: string;
  notes: string | null;
  manifest: SignedManifest | null;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

test('release signing: the server\'s key, signed manifests, the newest release per ECU', async (t) => {
  const server = await startTestServer(t);
  const vehicle = server.client();
  const keyFile = join(server.dataDir, 'keys', 'release-signing.pem');

  await t.test('the key is generated on first start: 0600 in an owner-only keys dir, its public key logged', async () => {
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(server.dataDir, 'keys'))).mode & 0o777, 0o700);
    // The audit chain's key lives there too (test/attacks/audit-forgery.test.ts).
    assert.deepEqual(await readdir(join(server.dataDir, 'keys')), ['audit-chain.key', 'release-signing.pem']);
    const line = server.process.output.find((l) => l.includes('generated a new release signing key'));
    assert.ok(line, 'the first start says it made a key');
  });

  const shown = await runCanota(['keys', 'show', '--data-dir', server.dataDir]);
  assert.equal(shown.code, 0, shown.stderr);
  const publicKeyText = shown.stdout.trim().split('\n').at(-1)!;
  assert.match(publicKeyText, /^ed25519:[A-Za-z0-9+/]{43}=$/);
  assert.equal(shown.stderr, '', 'nothing generated: the server\'s key is shown');
  const serverLog = JSON.parse(server.process.output.find((l) => l.includes('release signing key'))!) as { public_key: string };
  assert.equal(serverLog.public_key, publicKeyText, 'keys show prints the key the server signs with');
  const trusted = [parsePublicKey(publicKeyText)];

  const uploader = await loggedIn(server, admin);
  const images = { edtOld: randomBytes(1000), cgw: randomBytes(2000), edt: randomBytes(3000), loose: randomBytes(10) };
  const upload = async (name: string, content: Buffer, fields: Record<string, string>) => {
    const response = await uploader.upload(name, content, fields);
    assert.equal(response.status, 200, response.text);
    return response.json<{ release: { id: number; hardware_id: string | null } }>().release;
  };
  await upload('edt-1.5.0.bin', images.edtOld, { ecu: 'EDT', firmware_version: '1.5.0' });
  const cgw = await upload('cgw-1.1.0.bin', images.cgw, { ecu: 'CGW', firmware_version: '1.1.0' });
  const edt = await upload('edt-2.0.0.bin', images.edt, { ecu: 'edt', firmware_version: '2.0.0', hardware_id: 'EDT-HW-A1', notes: 'faster' });
  const loose = await upload('notes.txt', images.loose, {});
  assert.equal(edt.hardware_id, 'EDT-HW-A1', 'the upload keeps the hardware id');

  await t.test('GET /api/v1/releases/latest: the newest release of each ECU, each with a manifest signed by the server key', async () => {
    const response = await vehicle.fetch('/api/v1/releases/latest');
    assert.equal(response.status, 200);
    const { releases } = response.json<{ releases: VehicleRelease[] }>();
    assert.deepEqual(releases.map((r) => [r.ecu, r.filename, r.release_id]), [['CGW', 'cgw-1.1.0.bin', cgw.id], ['EDT', 'edt-2.0.0.bin', edt.id]]);
    const release = releases[1]!;
    assert.deepEqual({ ...release, manifest: undefined, uploaded_at: undefined }, {
      release_id: edt.id, filename: 'edt-2.0.0.bin', ecu: 'EDT', firmware_version: '2.0.0', hardware_id: 'EDT-HW-A1',
      size: 3000, sha256: sha256(images.edt), notes: 'faster', manifest: undefined, uploaded_at: undefined,
    });
    const signed = verifyManifest(release.manifest!, trusted);
    assert.deepEqual(signed, {
      _type: 'canota/release', release_id: String(edt.id), filename: 'edt-2.0.0.bin', ecu: 'EDT', firmware_version: '2.0.0',
      hardware_id: 'EDT-HW-A1', size: 3000, sha256: sha256(images.edt), created_at: release.uploaded_at,
    });
    const cgwManifest = verifyManifest(releases[0]!.manifest!, trusted);
    assert.equal(cgwManifest.hardware_id, undefined, 'no hardware id unless the upload gave one');
  });

  await t.test('GET /api/v1/releases/<id>/manifest: the signed manifest alone; 404 unknown or unmanifested, 400 not an id', async () => {
    const response = await vehicle.fetch(`/api/v1/releases/${edt.id}/manifest`);
    assert.equal(response.status, 200);
    assert.equal(verifyManifest(response.json<SignedManifest>(), trusted).sha256, sha256(images.edt));
    const old = verifyManifest((await vehicle.fetch(`/api/v1/releases/${edt.id - 2}/manifest`)).json<SignedManifest>(), trusted);
    assert.equal(old.firmware_version, '1.5.0', 'older releases have manifests too');

    const unknown = await vehicle.fetch('/api/v1/releases/99999/manifest');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json(), { error: 'no release 99999' });
    const none = await vehicle.fetch(`/api/v1/releases/${loose.id}/manifest`);
    assert.equal(none.status, 404);
    assert.match(String(none.json().error), /names no target ECU or no firmware version/);
    assert.equal((await vehicle.fetch('/api/v1/releases/abc/manifest')).status, 400);
  });

  await t.test('the routes are in the OpenAPI document, with the vehicle token scheme', async () => {
    // /docs needs a login since test/attacks/ops-routes-exposure.test.ts.
    const spec = (await uploader.fetch('/docs/json')).json<{ paths: Record<string, unknown>; components: { securitySchemes: Record<string, { scheme: string }> } }>();
    for (const path of ['/api/v1/releases/latest', '/api/v1/releases/{release_id}/manifest', '/api/v1/vehicles/{vin}/reports', '/api/v1/vehicles', '/api/v1/vehicles/{vin}', '/vehicles']) {
      assert.ok(spec.paths[path], `${path} documented`);
    }
    assert.equal(spec.components.securitySchemes.vehicleToken?.scheme, 'bearer');
  });

  await t.test('a restarted server signs with the same key (Ed25519 is deterministic: the same signature)', async (t) => {
    const before = (await vehicle.fetch(`/api/v1/releases/${edt.id}/manifest`)).json<SignedManifest>();
    await server.process.stop();
    const again = await startCanota(['server', '--port', '0', '--data-dir', server.dataDir], { ready: listeningPattern });
    t.after(() => again.stop());
    const after = await fetchJson<SignedManifest>(`${again.url}/api/v1/releases/${edt.id}/manifest`);
    assert.deepEqual(after, before);
    assert.ok(again.output.some((l) => l.includes('release signing key loaded')), 'loaded, not generated again');
  });
});

test('--signing-key: a key made with canota keys generate signs instead; a missing one stops the server', async (t) => {
  const dir = await tempDir(t);
  const keyFile = join(dir, 'release.pem');
  const generated = await runCanota(['keys', 'generate', '--out', keyFile]);
  assert.equal(generated.code, 0, generated.stderr);
  const publicKey = parsePublicKey(generated.stdout.trim().split('\n').at(-1)!);

  const server = await startTestServer(t, { args: ['--signing-key', keyFile] });
  const uploader = await loggedIn(server, admin);
  assert.equal((await uploader.upload('edt.bin', image('image'), { ecu: 'EDT', firmware_version: '3.0.0' })).status, 200);
  const { releases } = (await server.client().fetch('/api/v1/releases/latest')).json<{ releases: VehicleRelease[] }>();
  assert.equal(verifyManifest(releases[0]!.manifest!, [publicKey]).firmware_version, '3.0.0');
  const defaultKey = await runCanota(['keys', 'show', '--data-dir', server.dataDir, '--signing-key', keyFile, '--json']);
  assert.equal((JSON.parse(defaultKey.stdout) as { path: string }).path, keyFile);
  assert.deepEqual(await readdir(join(server.dataDir, 'keys')).then((names) => names.includes('release-signing.pem')), false, 'no default key made when one is given');

  const missing = join(dir, 'nothing.pem');
  const refused = await startCanota(['server', '--port', '0', '--data-dir', join(dir, 'data2'), '--signing-key', missing]);
  assert.equal(await refused.exited, 1);
  assert.match(refused.output.join('\n'), /no release signing key at .*nothing\.pem \(make one with: canota keys generate --out/);
});

async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return await response.json() as T;
}
