import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { promisify } from 'node:util';
import { request } from 'undici';
import { parsePublicKey } from '../../../src/crypto/ed25519.ts';
import { verifyManifest, type SignedManifest } from '../../../src/crypto/manifest.ts';
import { startOtaServer } from '../../support/ota-server.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { serverKey } from '../../vehicle/e2e/support.ts';

const run = promisify(execFile);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Two versions of a binary image: a few patched bytes and an inserted block. */
function versions(): { v1: Buffer; v2: Buffer } {
  const v1 = randomBytes(120_000);
  const v2 = Buffer.concat([v1.subarray(0, 50_000), randomBytes(500), v1.subarray(50_000)]);
  v2[1000] = v2[1000]! ^ 0xff;
  return { v1, v2 };
}

async function latestManifest(url: string, ecu: string): Promise<SignedManifest> {
  const answer = await request(new URL('/api/v1/releases/latest', url));
  const body = await answer.body.json() as { releases: Array<{ ecu: string; manifest: SignedManifest }> };
  return body.releases.find((release) => release.ecu === ecu)!.manifest;
}

test('an upload gets a signed VCDIFF delta from the ECU\'s earlier release: listed in the manifest, served by base SHA-256, and xdelta3 itself rebuilds the image from it', async (t) => {
  const server = await startOtaServer(t);
  const { v1, v2 } = versions();
  await server.upload('edt-1.0.0.bin', v1, { ecu: 'EDT', firmware_version: '1.0.0' });
  assert.equal((await latestManifest(server.url, 'EDT')).signed.deltas, undefined, 'the first release has nothing to be a delta from');
  await server.upload('edt-1.1.0.bin', v2, { ecu: 'EDT', firmware_version: '1.1.0' });

  const manifest = await latestManifest(server.url, 'EDT');
  const [delta, ...others] = manifest.signed.deltas ?? [];
  assert.ok(delta);
  assert.deepEqual(others, []);
  assert.deepEqual({ ...delta, size: 0, sha256: '' }, { format: 'vcdiff', base_version: '1.0.0', base_sha256: sha256(v1), base_size: v1.length, size: 0, sha256: '' });
  assert.ok(delta.size < v2.length / 10, `a ${delta.size}-byte delta`);
  // Signed with the rest: the TMU's check of the manifest covers the delta's SHA-256.
  verifyManifest(manifest, [parsePublicKey(await serverKey(server.dataDir))]);
  assert.equal((await readFile(join(server.dataDir, 'deltas', manifest.signed.release_id, `${sha256(v1)}.vcdiff`))).length, delta.size);

  const answer = await request(new URL(`/api/v1/releases/${manifest.signed.release_id}/deltas/${sha256(v1)}`, server.url));
  assert.equal(answer.statusCode, 200);
  const bytes = Buffer.from(await answer.body.arrayBuffer());
  assert.equal(sha256(bytes), delta.sha256);
  const directory = await tempDir(t);
  await writeFile(join(directory, 'base'), v1);
  await writeFile(join(directory, 'delta'), bytes);
  await run('xdelta3', ['-d', '-f', '-s', join(directory, 'base'), join(directory, 'delta'), join(directory, 'out')]);
  assert.ok((await readFile(join(directory, 'out'))).equals(v2));

  const unknown = await request(new URL(`/api/v1/releases/${manifest.signed.release_id}/deltas/${'0'.repeat(64)}`, server.url));
  assert.equal(unknown.statusCode, 404);
  assert.match(JSON.stringify(await unknown.body.json()), /has no delta from the image 0{64}/);
  const malformed = await request(new URL(`/api/v1/releases/${manifest.signed.release_id}/deltas/abc`, server.url));
  assert.equal(malformed.statusCode, 400);
  await malformed.body.dump();

  // Withdrawn, the release's delta is not served either.
  await server.withdraw(manifest.signed.release_id);
  const gone = await request(new URL(`/api/v1/releases/${manifest.signed.release_id}/deltas/${sha256(v1)}`, server.url));
  assert.equal(gone.statusCode, 410);
  await gone.body.dump();
});

test('without a working xdelta3 the upload still succeeds: the release is offered without a delta, and the log says why', async (t) => {
  const server = await startOtaServer(t, { args: ['--xdelta3', '/nonexistent/xdelta3'] });
  const { v1, v2 } = versions();
  await server.upload('edt-1.0.0.bin', v1, { ecu: 'EDT', firmware_version: '1.0.0' });
  const uploaded = await server.upload('edt-1.1.0.bin', v2, { ecu: 'EDT', firmware_version: '1.1.0' });
  assert.match(String(uploaded.message), /^uploaded edt-1\.1\.0\.bin/);
  const manifest = await latestManifest(server.url, 'EDT');
  assert.equal(manifest.signed.firmware_version, '1.1.0');
  assert.equal(manifest.signed.deltas, undefined);
  await server.process.waitFor(/no delta from 1\.0\.0 for release \d+: it is offered without one/, 5000);
  assert.ok(server.process.output.some((line) => /\/nonexistent\/xdelta3 is not installed/.test(line)));
});
