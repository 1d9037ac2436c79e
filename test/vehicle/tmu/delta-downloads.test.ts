import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import type { ReleaseDelta, SignedManifest } from '../../../src/crypto/manifest.ts';
import { deltaPath, fetchDelta, fetchDeltaInstead, imageWithDelta } from '../../../src/vehicle/tmu/delta-downloads.ts';
import type { TmuServer } from '../../../src/vehicle/tmu/tmu-parts.ts';
import { tempDir } from '../../support/temp-dir.ts';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const base = sha256(Buffer.from('the image EDT runs'));

function manifestWith(deltas: ReleaseDelta[] | undefined): SignedManifest {
  return {
    signed: {
      _type: 'canota/release', release_id: '7', filename: 'edt.bin', ecu: 'EDT', firmware_version: '2.0.0', size: 1000,
      sha256: 'a'.repeat(64), created_at: new Date().toISOString(), ...(deltas ? { deltas } : {}),
    },
    signatures: [],
  };
}

/** A server that answers the delta route with `answer` and records the requests. */
function serverAnswering(answer: Uint8Array | Error): TmuServer & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    latestReleases: () => Promise.reject(new Error('not used')),
    postReport: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
    fetchDelta: (releaseId, baseSha256, maxBytes) => {
      asked.push(`${releaseId} ${baseSha256} ${maxBytes}`);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  } as TmuServer & { asked: string[] };
}

async function imageIn(t: TestContext): Promise<string> {
  const path = join(await tempDir(t), 'edt-2.0.0.bin');
  await writeFile(path, randomBytes(1000));
  return path;
}

test('the delta from the version the ECU runs is fetched, checked against the signed manifest and kept next to the image', async (t) => {
  const bytes = randomBytes(120);
  const delta: ReleaseDelta = { format: 'vcdiff', base_version: '1.0.0', base_sha256: base, base_size: 900, size: bytes.length, sha256: sha256(bytes) };
  const other: ReleaseDelta = { ...delta, base_version: '0.9.0', base_sha256: 'b'.repeat(64) };
  const server = serverAnswering(bytes);
  const target = { ecu: 'EDT', from: '1.0.0', manifest: manifestWith([other, delta]), path: await imageIn(t) };
  await fetchDelta(server, target, { signal: new AbortController().signal });
  assert.deepEqual(server.asked, [`7 ${base} 120`]);
  assert.deepEqual(await readFile(deltaPath(target.path, base)), bytes);
  assert.deepEqual(imageWithDelta(target), { path: target.path, delta: { path: deltaPath(target.path, base), size: 120, base: { version: '1.0.0', sha256: base } } });
  // Fetched once: a second look finds it on disk.
  await fetchDelta(server, target, { signal: new AbortController().signal });
  assert.equal(server.asked.length, 1);
});

test('a delta whose bytes are not the manifest\'s, or that cannot be fetched, is not kept: the full image goes', async (t) => {
  const bytes = randomBytes(120);
  const delta: ReleaseDelta = { format: 'vcdiff', base_version: '1.0.0', base_sha256: base, base_size: 900, size: 120, sha256: sha256(randomBytes(120)) };
  const lines: string[] = [];
  const logger = { info: () => undefined, warn: (_fields: unknown, message: string) => lines.push(message) } as never;
  const target = { ecu: 'EDT', from: '1.0.0', manifest: manifestWith([delta]), path: await imageIn(t) };
  await fetchDelta(serverAnswering(bytes), target, { signal: new AbortController().signal, logger });
  assert.deepEqual(imageWithDelta(target), { path: target.path });
  await fetchDelta(serverAnswering(new Error('connection refused')), target, { signal: new AbortController().signal, logger });
  assert.deepEqual(imageWithDelta(target), { path: target.path });
  assert.deepEqual(lines, ['EDT: no delta from 1.0.0: the full image will be sent', 'EDT: no delta from 1.0.0: the full image will be sent']);
});

test('no delta is asked for when the manifest lists none from the running version, or the server cannot serve deltas', async (t) => {
  const server = serverAnswering(randomBytes(10));
  const path = await imageIn(t);
  const delta: ReleaseDelta = { format: 'vcdiff', base_version: '0.9.0', base_sha256: base, base_size: 900, size: 10, sha256: 'c'.repeat(64) };
  await fetchDelta(server, { ecu: 'EDT', from: '1.0.0', manifest: manifestWith([delta]), path }, { signal: new AbortController().signal });
  await fetchDelta(server, { ecu: 'EDT', from: '1.0.0', manifest: manifestWith(undefined), path }, { signal: new AbortController().signal });
  await fetchDelta(server, { ecu: 'EDT', from: '1.0.0', manifest: null, path }, { signal: new AbortController().signal });
  assert.deepEqual(server.asked, []);
  const { fetchDelta: _absent, ...withoutDeltas } = server;
  await fetchDelta(withoutDeltas, { ecu: 'EDT', from: '0.9.0', manifest: manifestWith([delta]), path }, { signal: new AbortController().signal });
  assert.deepEqual(server.asked, []);
});

test('fetchDeltaInstead: only the delta, into the image\'s future directory, with the checked manifest; never for the TMU itself; imageWithDelta then fetches the image once, on demand', async (t) => {
  const bytes = randomBytes(64);
  const delta: ReleaseDelta = { format: 'vcdiff', base_version: '1.0.0', base_sha256: base, base_size: 900, size: 64, sha256: sha256(bytes) };
  const manifest = manifestWith([delta]);
  const directory = await tempDir(t);
  const imagePath = join(directory, 'EDT', 'files', 'edt.bin');
  const trusted: string[] = [];
  let fetches = 0;
  const downloads = {
    fetch: async () => {
      fetches += 1;
      await writeFile(imagePath, randomBytes(1000));
      return { path: imagePath, size: 1000, manifest, fresh: true };
    },
    discard: async () => undefined,
    close: async () => undefined,
    imagePath: () => imagePath,
    trust: (announced: { ecu: string }) => { trusted.push(announced.ecu); return manifest; },
  };
  const announced = { ecu: 'EDT', firmwareVersion: '2.0.0', notes: '', manifest, release: { filename: 'edt.bin', sha256: 'a'.repeat(64), size: 1000, mtime: 0 } } as never;
  const server = serverAnswering(bytes);
  const signal = new AbortController().signal;
  assert.equal(await fetchDeltaInstead(server, downloads, { ecu: 'TMU', from: '1.0.0', announced }, { tester: 'TMU', signal }), undefined);
  assert.equal(await fetchDeltaInstead(server, downloads, { ecu: 'EDT', from: '0.9.0', announced }, { tester: 'TMU', signal }), undefined);
  const got = await fetchDeltaInstead(server, downloads, { ecu: 'EDT', from: '1.0.0', announced }, { tester: 'TMU', signal });
  assert.deepEqual(got, { path: imagePath, manifest });
  assert.deepEqual(trusted, ['EDT', 'EDT']);
  assert.equal(fetches, 0, 'the image is not downloaded');
  assert.deepEqual(await readFile(deltaPath(imagePath, base)), bytes);

  const image = imageWithDelta({ ecu: 'EDT', from: '1.0.0', manifest, path: imagePath }, async () => (await downloads.fetch()).path);
  assert.ok(image.delta && image.ensure);
  await Promise.all([image.ensure(), image.ensure()]);
  await image.ensure();
  assert.equal(fetches, 1);
  // Once the image is there, no ensure is needed.
  assert.equal(imageWithDelta({ ecu: 'EDT', from: '1.0.0', manifest, path: imagePath }, async () => imagePath).ensure, undefined);
  await writeFile(deltaPath(join(directory, 'other.bin'), base), bytes);
  const wrong = imageWithDelta({ ecu: 'EDT', from: '1.0.0', manifest, path: join(directory, 'other.bin') }, async () => imagePath);
  await assert.rejects(wrong.ensure!(), /downloaded to .*, not .*other\.bin/);
});
