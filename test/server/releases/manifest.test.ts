import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSigningKey, publicKeyToText, signingKeyFromPem } from '../../../src/crypto/ed25519.ts';
import { verifyManifest, ManifestError } from '../../../src/crypto/manifest.ts';
import { releaseManifest } from '../../../src/server/releases/manifest.ts';
import { ManifestSigner } from '../../../src/server/releases/manifest-signer.ts';
import {
  defaultSigningKeyPath, loadReleaseSigningKey, SigningKeyError, SigningKeyExistsError, writeSigningKey,
} from '../../../src/server/releases/signing-key.ts';
import type { ReleaseRecord } from '../../../src/server/storage/releases.ts';
import { tempDir } from '../../support/temp-dir.ts';

const release = (fields: Partial<ReleaseRecord> = {}): ReleaseRecord => ({
  id: 7, filename: 'edt-2.0.0.bin', sha256: 'ab'.repeat(32), size: 1234, ecu: 'edt', firmware_version: '2.0.0', notes: null,
  hardware_id: null, uploaded_by: 'alice', uploaded_at: Date.UTC(2026, 10, 29, 8, 0, 0, 250),
  withdrawn_at: null, withdrawn_by: null, withdrawal_reason: null, version_key: 'EDT 2.0.0', ...fields,
});

test('a release\'s manifest comes from its row: canonical ECU name, hardware id only when set', () => {
  assert.deepEqual(releaseManifest(release()), {
    manifest: {
      _type: 'canota/release', release_id: '7', filename: 'edt-2.0.0.bin', ecu: 'EDT', firmware_version: '2.0.0',
      size: 1234, sha256: 'ab'.repeat(32), created_at: '2026-11-29T08:00:00.250Z',
    },
  });
  const withHardware = releaseManifest(release({ hardware_id: 'EDT-HW-A1' }));
  assert.ok('manifest' in withHardware);
  assert.equal(withHardware.manifest.hardware_id, 'EDT-HW-A1');
  assert.deepEqual(releaseManifest(release({ ecu: null })), { problem: 'release 7 (edt-2.0.0.bin) names no target ECU' });
  assert.deepEqual(releaseManifest(release({ firmware_version: null })), { problem: 'release 7 (edt-2.0.0.bin) names no firmware version' });
});

test('the signer signs with the server key: it verifies, a changed field does not, another key does not', () => {
  const key = generateSigningKey();
  const signer = new ManifestSigner(key);
  assert.equal(signer.publicKey, publicKeyToText(key.publicKey));
  const signed = signer.sign(release({ hardware_id: 'EDT-HW-A1' }));
  assert.ok('signed' in signed);
  assert.equal(signed.signed.signatures[0]?.keyid, key.keyId);
  assert.equal(verifyManifest(signed.signed, [key.publicKey]).hardware_id, 'EDT-HW-A1');
  assert.throws(() => verifyManifest({ ...signed.signed, signed: { ...signed.signed.signed, size: 1235 } }, [key.publicKey]), ManifestError);
  assert.throws(() => verifyManifest(signed.signed, [generateSigningKey().publicKey]), /no valid signature by a trusted key/);
  assert.equal((signer.sign(release()) as { signed: unknown }).signed, signed.signed, 'cached per release id');
  assert.deepEqual(signer.sign(release({ id: 8, ecu: null })), { problem: 'release 8 (edt-2.0.0.bin) names no target ECU' });
});

test('the release signing key: generated once (0600, in a 0700 dir), then loaded; --signing-key must exist', async (t) => {
  const dataDir = await tempDir(t);
  const first = await loadReleaseSigningKey(dataDir);
  assert.equal(first.created, true);
  assert.equal(first.path, defaultSigningKeyPath(dataDir));
  assert.equal(first.path, join(dataDir, 'keys', 'release-signing.pem'));
  assert.equal((await stat(first.path)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dataDir, 'keys'))).mode & 0o777, 0o700);
  assert.equal(signingKeyFromPem(await readFile(first.path, 'utf8')).keyId, first.key.keyId);

  const again = await loadReleaseSigningKey(dataDir);
  assert.deepEqual([again.created, again.exposed, again.key.keyId], [false, false, first.key.keyId]);

  await chmod(first.path, 0o644);
  assert.equal((await loadReleaseSigningKey(dataDir)).exposed, true, 'a key others can read is flagged');

  await assert.rejects(loadReleaseSigningKey(dataDir, join(dataDir, 'missing.pem')),
    (error: Error) => error instanceof SigningKeyError && /no release signing key at .*missing\.pem \(make one with: canota keys generate --out/.test(error.message));
  const notAKey = join(dataDir, 'not-a-key.pem');
  await writeFile(notAKey, 'hello');
  await assert.rejects(loadReleaseSigningKey(dataDir, notAKey), /not-a-key\.pem: not a PEM private key/);
});

test('servers starting together on a fresh data dir end up with one key', async (t) => {
  const dataDir = await tempDir(t);
  const loads = await Promise.all(Array.from({ length: 6 }, () => loadReleaseSigningKey(dataDir)));
  assert.equal(new Set(loads.map((l) => l.key.keyId)).size, 1);
  assert.equal(loads.filter((l) => l.created).length, 1);
  assert.deepEqual(await readdir(join(dataDir, 'keys')), ['release-signing.pem'], 'no temp file left behind');
});

test('writeSigningKey refuses to replace a key unless told to', async (t) => {
  const path = join(await tempDir(t), 'release.pem');
  const first = generateSigningKey();
  await writeSigningKey(path, first, { overwrite: false });
  await assert.rejects(writeSigningKey(path, generateSigningKey(), { overwrite: false }), SigningKeyExistsError);
  assert.equal(signingKeyFromPem(await readFile(path, 'utf8')).keyId, first.keyId, 'the old key is untouched');
  const second = generateSigningKey();
  await writeSigningKey(path, second, { overwrite: true });
  assert.equal(signingKeyFromPem(await readFile(path, 'utf8')).keyId, second.keyId);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});
