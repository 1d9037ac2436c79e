import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { XzUnavailableError, startXzCompression, type XzCompression } from '../../../src/vehicle/tmu/xz-compress.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compressibleImage } from '../ecu/compressible-image.ts';

async function collect(compression: XzCompression): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of compression.chunks) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `xz --list` of a stream: its check and its block's filter chain, as xz reports them. */
function listing(stream: Uint8Array, directory: string): string {
  const path = join(directory, 'image.xz');
  execFileSync('sh', ['-c', 'cat > "$0"', path], { input: stream });
  return execFileSync('xz', ['--list', '--verbose', '--verbose', path], { encoding: 'utf8' });
}

test('an image in memory or a file becomes one .xz stream: CRC32, ARM-Thumb then LZMA2 with the ECU\'s window as dictionary', async (t) => {
  const directory = await tempDir(t);
  const image = compressibleImage(200_000);
  const path = join(directory, 'image.bin');
  await writeFile(path, image);
  for (const source of [image, { path }]) {
    const stream = await collect(await startXzCompression(source, { window: 8192 }));
    assert.ok(execFileSync('xz', ['--decompress', '--stdout'], { input: stream, maxBuffer: 1 << 26 }).equals(image), 'xz itself decodes it to the image');
    const list = listing(stream, directory);
    assert.match(list, /CRC32/);
    assert.match(list, /--armthumb --lzma2=dict=8KiB\n/);
  }
});

test('a stream read only after xz has exited is whole (random bytes: xz is done at once)', async () => {
  const image = randomBytes(20_000);
  const compression = await startXzCompression(image, { window: 32 * 1024 });
  await sleep(300);
  // Progress knows xz's ratio before the download read anything (the stream of random bytes is ~0.3 % longer).
  assert.ok(Math.abs(compression.imageBytesFor(10_000) - 10_000) < 100, `${compression.imageBytesFor(10_000)}`);
  const stream = await collect(compression);
  assert.ok(execFileSync('xz', ['--decompress', '--stdout'], { input: stream }).equals(image));
});

test('progress: the image bytes behind the sent stream never go backwards and are exact at the end', async () => {
  const image = compressibleImage(300_000);
  const compression = await startXzCompression(image, { window: 32 * 1024 });
  const stream = await collect(compression);
  const estimates = [0, 1000, stream.length / 2, stream.length - 1].map((bytes) => compression.imageBytesFor(bytes));
  assert.ok(estimates.every((value, index) => index === 0 || value >= estimates[index - 1]!), estimates.join(' '));
  assert.ok(estimates.every((value) => value <= image.length));
  assert.ok(Math.abs(estimates[2]! - image.length / 2) < image.length / 100, `half the stream stands for ${estimates[2]} of ${image.length} bytes`);
  assert.equal(compression.imageBytesFor(stream.length), image.length);
  assert.equal(compression.imageBytesFor(10), image.length, 'never backwards');
});

test('a system without xz is known before anything is sent (XzUnavailableError); a failing xz fails the stream', async (t) => {
  await assert.rejects(startXzCompression(new Uint8Array(10), { window: 4096, command: '/nonexistent/xz' }), XzUnavailableError);
  const missing = await startXzCompression({ path: join(await tempDir(t), 'missing.bin') }, { window: 4096 });
  await assert.rejects(collect(missing), /xz failed .*missing\.bin/);
  const failing = await startXzCompression(new Uint8Array(10), { window: 4096, command: '/bin/false' });
  await assert.rejects(collect(failing), /xz failed \(exit 1\)/);
});

test('a dictionary below LZMA2\'s 4 KiB is refused before xz runs', async () => {
  await assert.rejects(startXzCompression(new Uint8Array(10), { window: 2048 }), RangeError);
});
