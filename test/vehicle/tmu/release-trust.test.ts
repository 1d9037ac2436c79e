import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateSigningKey } from '../../../src/crypto/ed25519.ts';
import { signManifest, type SignedManifest } from '../../../src/crypto/manifest.ts';
import { ReleaseRejectedError } from '../../../src/vehicle/tmu/errors.ts';
import { manifestForRelease } from '../../../src/vehicle/tmu/release-trust.ts';
import type { AnnouncedRelease } from '../../../src/vehicle/tmu/server-api.ts';

const sha = 'ab'.repeat(32);
const key = generateSigningKey();
const other = generateSigningKey();

function announced(manifest: SignedManifest | null, size: number | null = 4096): AnnouncedRelease {
  return {
    ecu: 'EDT', firmwareVersion: '2.0.0', notes: '', manifest,
    release: { filename: 'edt.bin', mtime: 1_700_000_000, sha256: sha, size: size ?? undefined, ecu: 'EDT', firmwareVersion: '2.0.0', releaseId: '9', uploadedAt: undefined },
  };
}

const signed = (fields: Record<string, unknown> = {}, by = key) => signManifest({
  _type: 'canota/release', release_id: '9', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0', size: 4096, sha256: sha,
  created_at: '2026-01-01T00:00:00.000Z', ...fields,
}, by);

const rejected = (pattern: RegExp) => (error: unknown) => error instanceof ReleaseRejectedError && error.ecu === 'EDT' && pattern.test(error.message);

test('no manifest and no trusted keys: the TMU writes an unsigned one from the announcement (size from the download if unannounced)', () => {
  const manifest = manifestForRelease(announced(null), []);
  assert.deepEqual(manifest, {
    signed: {
      _type: 'canota/release', release_id: '9', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0', size: 4096, sha256: sha,
      created_at: new Date(1_700_000_000_000).toISOString(),
    },
    signatures: [],
  });
  assert.equal(manifestForRelease(announced(null, null), [], 1234).signed.size, 1234);
  assert.throws(() => manifestForRelease(announced(null, null), []), rejected(/size is unknown/));
});

test('a vehicle that trusts keys refuses releases without a manifest, unsigned ones, and ones signed by other keys', () => {
  assert.throws(() => manifestForRelease(announced(null), [key.publicKey]), rejected(/comes without a signed manifest/));
  assert.throws(() => manifestForRelease(announced({ ...signed(), signatures: [] }), [key.publicKey]), rejected(/is unsigned/));
  assert.throws(() => manifestForRelease(announced(signed({}, other)), [key.publicKey]), rejected(/no valid signature by a trusted key/));
  const good = signed();
  assert.equal(manifestForRelease(announced(good), [key.publicKey]), good);
  // Rotation: any one trusted key is enough.
  assert.equal(manifestForRelease(announced(good), [other.publicKey, key.publicKey]), good);
});

test('a manifest must describe the announced file exactly, signed or not', () => {
  assert.throws(() => manifestForRelease(announced(signed({ sha256: 'cd'.repeat(32) })), []), rejected(/SHA-256 c{1}d/));
  assert.throws(() => manifestForRelease(announced(signed({ ecu: 'CGW' })), []), rejected(/ECU CGW, announced EDT/));
  assert.throws(() => manifestForRelease(announced(signed({ firmware_version: '2.0.1' })), []), rejected(/version 2\.0\.1, announced 2\.0\.0/));
  assert.throws(() => manifestForRelease(announced(signed()), [], 4095), rejected(/size 4096, the file has 4095/));
  // A signature over other values is no help either.
  const tampered = signed();
  tampered.signed.firmware_version = '9.9.9';
  assert.throws(() => manifestForRelease(announced(tampered), [key.publicKey]), rejected(/version 9\.9\.9/));
});
