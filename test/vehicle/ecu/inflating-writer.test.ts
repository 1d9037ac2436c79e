import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { FlashBanks, FlashError } from '../../../src/vehicle/ecu/flash-banks.ts';
import { InflatingWriter } from '../../../src/vehicle/ecu/inflating-writer.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compressibleImage } from './compressible-image.ts';

const factory = { version: '1.0.0', image: Buffer.from('factory image of EDT 1.0.0') };
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function inflater(t: Parameters<typeof tempDir>[0], size: number, window: number): Promise<{ banks: FlashBanks; writer: InflatingWriter }> {
  const banks = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory });
  await banks.eraseInactive();
  return { banks, writer: new InflatingWriter(await banks.beginProgramming(size), { window }) };
}

/** Feeds `compressed` in blocks of `blockSize`, as TransferData would; returns the image bytes each block made. */
async function feed(writer: InflatingWriter, compressed: Uint8Array, blockSize: number): Promise<number[]> {
  const produced: number[] = [];
  for (let offset = 0; offset < compressed.length; offset += blockSize) produced.push(await writer.write(compressed.subarray(offset, offset + blockSize)));
  return produced;
}

for (const window of [512, 4096, 32 * 1024]) {
  test(`a zlib stream with a ${window}-byte window lands in the bank byte for byte, the working memory bounded by the window`, async (t) => {
    const image = compressibleImage(300_000);
    const compressed = deflateSync(image, { level: 9, windowBits: Math.log2(window) });
    const { banks, writer } = await inflater(t, image.length, window);
    const produced = await feed(writer, compressed, 4093);
    assert.equal(produced.reduce((sum, count) => sum + count, 0), image.length, 'every image byte is counted once');
    assert.ok(produced.some((count) => count > 4093), 'a block makes more image bytes than it carries');
    assert.equal(await writer.finish(), sha(image));
    assert.deepEqual(await readFile(banks.bankPath(banks.inactive)), image);
    const memory = writer.memory;
    assert.equal(memory.window, window, 'the window the stream needs, allocated');
    assert.equal(memory.page, 4096);
    assert.ok(memory.tables > 5000 && memory.tables < 8 * 1024, `inflate tables ${memory.tables} bytes`);
    assert.equal(memory.peak, memory.window + memory.tables + memory.page);
  });
}

test('deflate\'s worst case (one block of a MiB of zeros) still goes out a page at a time', async (t) => {
  const image = Buffer.alloc(1 << 20);
  const compressed = deflateSync(image, { level: 9, windowBits: 12 });
  assert.ok(compressed.length < 2048, 'the whole image fits one TransferData block');
  const { banks, writer } = await inflater(t, image.length, 4096);
  assert.deepEqual(await feed(writer, compressed, 64 * 1024), [image.length]);
  await writer.finish();
  assert.equal(writer.memory.peak, 4096 + writer.memory.tables + 4096);
  assert.equal((await readFile(banks.bankPath(banks.inactive))).length, image.length);
});

test('a stream whose header asks for a larger window than the ECU has is refused at its first block', async (t) => {
  const image = compressibleImage(50_000);
  const { writer } = await inflater(t, image.length, 4096);
  await assert.rejects(writer.write(deflateSync(image, { windowBits: 15 })), (error: unknown) =>
    error instanceof FlashError && /corrupt: invalid window size/.test(error.message));
});

test('corrupt data, bytes after the stream\'s end, a stream cut short and an image longer than announced are refused', async (t) => {
  const image = compressibleImage(100_000);
  const compressed = deflateSync(image, { windowBits: 12 });

  // The first deflate block's type bits set to 11, which RFC 1951 reserves.
  const corrupt = Buffer.from(compressed);
  corrupt[2]! |= 0x06;
  const first = await inflater(t, image.length, 4096);
  await assert.rejects(feed(first.writer, corrupt, 4000), /the compressed image is corrupt: invalid block type/);

  // The Adler-32 trailer guards the stream as a whole, too.
  const badChecksum = Buffer.from(compressed);
  badChecksum[badChecksum.length - 1]! ^= 0x01;
  const second = await inflater(t, image.length, 4096);
  await assert.rejects(feed(second.writer, badChecksum, 4000), /incorrect data check/);

  const third = await inflater(t, image.length, 4096);
  await assert.rejects(feed(third.writer, Buffer.concat([compressed, randomBytes(3)]), compressed.length + 3), /3 bytes after the end of the compressed image/);
  await assert.rejects(third.writer.write(randomBytes(1)), /data after the end/);

  const fourth = await inflater(t, image.length, 4096);
  await feed(fourth.writer, compressed.subarray(0, compressed.length - 10), 4000);
  await assert.rejects(fourth.writer.finish(), /ended early/);

  const fifth = await inflater(t, image.length - 1, 4096);
  await assert.rejects(feed(fifth.writer, compressed, 4000), /exceeds the announced/);
});

test('a window that is no power of two, or outside 512 B to 32 KiB, is a configuration error', async (t) => {
  for (const window of [256, 3000, 65536]) {
    const banks = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory });
    await banks.eraseInactive();
    const bankWriter = await banks.beginProgramming(10);
    assert.throws(() => new InflatingWriter(bankWriter, { window }), /power of two from 512 to 32768/);
    await bankWriter.abort();
  }
});
