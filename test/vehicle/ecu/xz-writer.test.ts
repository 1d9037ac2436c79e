import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { FlashBanks, FlashError } from '../../../src/vehicle/ecu/flash-banks.ts';
import { XzWriter } from '../../../src/vehicle/ecu/xz-writer.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compressibleImage } from './compressible-image.ts';

const factory = { version: '1.0.0', image: Buffer.from('factory image of EDT 1.0.0') };
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const CORPUS_IMAGE = 'corpus/edt-2.0.0.bin';
const PROBABILITIES = 28_268;

function xz(image: Uint8Array, dict: number): Uint8Array {
  return new Uint8Array(execFileSync('xz', ['--format=xz', '--check=crc32', '--armthumb', `--lzma2=preset=9,dict=${dict},lc=3,lp=1,pb=1`, '--stdout'], { input: image, maxBuffer: 1 << 28 }));
}

async function decoderFor(t: Parameters<typeof tempDir>[0], size: number, window: number): Promise<{ banks: FlashBanks; writer: XzWriter }> {
  const banks = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory });
  await banks.eraseInactive();
  return { banks, writer: new XzWriter(await banks.beginProgramming(size), { window }) };
}

async function feed(writer: XzWriter, stream: Uint8Array, blockSize: number): Promise<number[]> {
  const produced: number[] = [];
  for (let offset = 0; offset < stream.length; offset += blockSize) produced.push(await writer.write(stream.subarray(offset, offset + blockSize)));
  return produced;
}

for (const window of [4096, 32 * 1024]) {
  test(`an xz stream with a ${window}-byte dictionary lands in the bank byte for byte, the working memory bounded by the window`, async (t) => {
    // The built corpus when there is one (npm run corpus), else compressible bytes of a similar size; the same type either way.
    const image = new Uint8Array(existsSync(CORPUS_IMAGE) ? await readFile(CORPUS_IMAGE) : compressibleImage(300_000));
    const { banks, writer } = await decoderFor(t, image.length, window);
    const produced = await feed(writer, xz(image, window), 65_534);
    assert.equal(produced.reduce((sum, count) => sum + count, 0), image.length, 'every image byte is counted once');
    assert.ok(produced.some((count) => count > 65_534), 'a block makes more image bytes than it carries');
    assert.equal(await writer.finish(), sha(image));
    assert.deepEqual(new Uint8Array(await readFile(banks.bankPath(banks.inactive))), image);
    const memory = writer.memory;
    assert.equal(memory.window, window, 'the dictionary the stream needs, allocated');
    assert.equal(memory.page, 4096);
    assert.equal(memory.tables, PROBABILITIES + 63 + 1024 + 3, 'probabilities, LZMA2 carry, header buffer, filter carry');
    assert.equal(memory.peak, memory.window + memory.tables + memory.page);
  });
}

test('a MiB of zeros (a few hundred bytes of xz) still goes out a page at a time', async (t) => {
  const image = new Uint8Array(1 << 20);
  const stream = xz(image, 4096);
  assert.ok(stream.length < 1024);
  const { banks, writer } = await decoderFor(t, image.length, 4096);
  assert.deepEqual(await feed(writer, stream, 65_534), [image.length]);
  await writer.finish();
  assert.equal(writer.memory.peak, 4096 + PROBABILITIES + 63 + 1024 + 3 + 4096);
  assert.equal((await readFile(banks.bankPath(banks.inactive))).length, image.length);
});

test('a stream asking for a larger dictionary than the ECU\'s window is refused at its first block, nothing written', async (t) => {
  const image = compressibleImage(50_000);
  const { writer } = await decoderFor(t, image.length, 4096);
  await assert.rejects(writer.write(xz(image, 8192)), (error: unknown) =>
    error instanceof FlashError && /corrupt: the stream needs a 8192-byte LZMA2 dictionary, larger than this ECU's window of 4096 bytes/.test(error.message));
  assert.equal(writer.written, 0);
});

test('a stream cut short is refused at the end of the download; one with bytes after its end at the block that carries them', async (t) => {
  const image = compressibleImage(40_000);
  const stream = xz(image, 4096);
  const cut = await decoderFor(t, image.length, 4096);
  await feed(cut.writer, stream.subarray(0, stream.length - 20), 4093);
  await assert.rejects(cut.writer.finish(), (error: unknown) => error instanceof FlashError && /ended early/.test(error.message));
  const long = await decoderFor(t, image.length, 4096);
  await assert.rejects(feed(long.writer, Uint8Array.from([...stream, 0, 0, 0, 0]), 1 << 20), (error: unknown) =>
    error instanceof FlashError && /4 bytes after the end of the xz stream/.test(error.message));
});

test('a stream that decodes to more than memorySize is refused by the bank writer; to less, by finish()', async (t) => {
  const image = compressibleImage(40_000);
  const small = await decoderFor(t, image.length - 1, 4096);
  await assert.rejects(feed(small.writer, xz(image, 4096), 65_534), FlashError);
  const large = await decoderFor(t, image.length + 1, 4096);
  await feed(large.writer, xz(image, 4096), 65_534);
  await assert.rejects(large.writer.finish(), FlashError);
});

test('a window below LZMA2\'s 4 KiB or a page too small for the filter is a configuration error', async (t) => {
  const banks = await FlashBanks.open({ directory: await tempDir(t), ecu: 'EDT', factory });
  await banks.eraseInactive();
  const bank = await banks.beginProgramming(100);
  assert.throws(() => new XzWriter(bank, { window: 2048 }), /an xz window is a whole number of bytes from 4096/);
  assert.throws(() => new XzWriter(bank, { window: 4096, pageSize: 8 }), /at least 64 bytes/);
});
