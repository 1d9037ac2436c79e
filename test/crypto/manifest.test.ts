import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalJson } from '../../src/crypto/canonical-json.ts';
import {
  generateSigningKey, parsePublicKey, publicKeyToText, privateKeyToPem, signingKeyFromPem, KeyFormatError,
} from '../../src/crypto/ed25519.ts';
import {
  signManifest, verifyManifest, decodeManifest, encodeManifest, ManifestError, type ReleaseManifest,
} from '../../src/crypto/manifest.ts';

const manifest: ReleaseManifest = {
  _type: 'canota/release', release_id: 'r1', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0',
  size: 3, sha256: 'a'.repeat(64), created_at: '2026-11-29T00:00:00Z',
};

test('canonical JSON sorts keys at every depth and has no whitespace', () => {
  assert.equal(canonicalJson({ b: 1, a: [true, null, { d: 'x', c: 2.5 }] }), '{"a":[true,null,{"c":2.5,"d":"x"}],"b":1}');
});

test('canonical JSON is independent of key insertion order', () => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
    const reversed = Object.fromEntries(Object.entries(object).reverse());
    assert.equal(canonicalJson(reversed as never), canonicalJson(object as never));
    assert.deepEqual(JSON.parse(canonicalJson(object as never)), JSON.parse(JSON.stringify(object)));
  }));
});

test('a signed manifest verifies with its key and not with another', () => {
  const key = generateSigningKey();
  const signed = signManifest(manifest, key);
  assert.deepEqual(verifyManifest(signed, [key.publicKey]), manifest);
  assert.throws(() => verifyManifest(signed, [generateSigningKey().publicKey]), ManifestError);
  assert.throws(() => verifyManifest(signed, []), /no valid signature/);
});

test('any change to a signed field breaks the signature', () => {
  const key = generateSigningKey();
  const signed = signManifest(manifest, key);
  for (const tampered of [
    { ...manifest, firmware_version: '9.0.0' }, { ...manifest, size: 4 }, { ...manifest, sha256: 'b'.repeat(64) },
    { ...manifest, ecu: 'CGW' },
  ]) {
    assert.throws(() => verifyManifest({ ...signed, signed: tampered }, [key.publicKey]), /no valid signature/);
  }
});

test('manifests round-trip through their wire bytes; malformed input is a ManifestError', () => {
  const key = generateSigningKey();
  const signed = signManifest(manifest, key);
  assert.deepEqual(decodeManifest(encodeManifest(signed)), signed);
  assert.throws(() => decodeManifest(Buffer.from('{nope')), ManifestError);
  assert.throws(() => decodeManifest(Buffer.from('{"signed":{},"signatures":[]}')), /malformed release manifest/);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
    try { decodeManifest(bytes); } catch (error) { assert.ok(error instanceof ManifestError); }
  }));
});

test('keys survive their text and PEM forms', () => {
  const key = generateSigningKey();
  const again = signingKeyFromPem(privateKeyToPem(key));
  assert.equal(again.keyId, key.keyId);
  const text = publicKeyToText(key.publicKey);
  assert.match(text, /^ed25519:[A-Za-z0-9+/]{43}=$/);
  const signed = signManifest(manifest, again);
  assert.deepEqual(verifyManifest(signed, [parsePublicKey(text)]), manifest);
  assert.throws(() => parsePublicKey('ed25519:AAAA'), KeyFormatError);
  assert.throws(() => signingKeyFromPem('garbage'), KeyFormatError);
});
