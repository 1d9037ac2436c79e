import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { XzDecoder } from '../../../../src/vehicle/ecu/xz/xz-decoder.ts';
import { XzDataError } from '../../../../src/vehicle/ecu/xz/xz-buffers.ts';
import { compressibleImage } from '../compressible-image.ts';

/*
 * The decoder against Debian's xz (the reference encoder): every stream here is made by `xz`, then decoded in
 * pieces the way TransferData blocks arrive, into small output pages, and compared byte for byte.
 */

const THUMB = ['--armthumb', '--lzma2=preset=9,dict=32KiB,lc=3,lp=1,pb=1'];
const CORPUS = ['corpus/edt-1.0.0.bin', 'corpus/edt-1.1.0.bin', 'corpus/edt-2.0.0.bin'].filter((path) => existsSync(path));

function xz(data: Uint8Array, options: string[], check = 'crc32'): Uint8Array {
  return new Uint8Array(execFileSync('xz', ['--format=xz', `--check=${check}`, '--threads=1', ...options, '--stdout'], { input: data, maxBuffer: 1 << 28 }));
}

/** Decodes `stream` fed in pieces of `pieces` bytes (cycling through the list) into pages of `pageSize`; throws XzDataError. */
function decode(stream: Uint8Array, options: { pieces?: number[]; pageSize?: number; window?: number } = {}): { output: Buffer; ended: boolean; memory: number } {
  const decoder = new XzDecoder({ maxDictSize: options.window ?? 32 * 1024 });
  const pieces = options.pieces ?? [65536];
  const page = new Uint8Array(options.pageSize ?? 4096);
  const output: Buffer[] = [];
  let ended = false;
  let memory = 0;
  for (let offset = 0, index = 0; offset < stream.length || (offset === 0 && stream.length === 0); index += 1) {
    const input = stream.subarray(offset, offset + pieces[index % pieces.length]!);
    offset += Math.max(1, input.length);
    const buffers = { input, inPos: 0, output: page, outPos: 0, outEnd: page.length };
    for (;;) {
      buffers.outPos = 0;
      ended = decoder.run(buffers);
      memory = Math.max(memory, decoder.memory.dictionary + decoder.memory.state);
      output.push(Buffer.from(page.subarray(0, buffers.outPos)));
      if (ended || (buffers.inPos === input.length && buffers.outPos < buffers.outEnd - 3)) break;
    }
    if (ended && offset < stream.length) {
      // Whatever follows the stream is refused by the next call.
      decoder.run({ input: stream.subarray(offset), inPos: 0, output: page, outPos: 0, outEnd: page.length });
    }
  }
  return { output: Buffer.concat(output), ended, memory };
}

const refused = (pattern: RegExp) => (error: unknown) => error instanceof XzDataError && pattern.test(error.message);

test('the firmware corpus (ARM-Thumb + LZMA2, the TMU\'s settings) decodes byte for byte in TransferData-sized and odd pieces', { skip: CORPUS.length === 0 && 'npm run corpus first' }, () => {
  for (const path of CORPUS) {
    const image = readFileSync(path);
    const stream = xz(image, THUMB);
    assert.ok(stream.length * 1.5 < image.length, `${path}: ${image.length} → ${stream.length}`);
    for (const pieces of [[65534], [4093], [1, 2, 3, 20, 21, 22, 63, 64, 65, 1000], [7]]) {
      const { output, ended } = decode(stream, { pieces });
      assert.equal(ended, true);
      assert.ok(output.equals(image), `${path} in pieces of ${pieces.join(',')}`);
    }
  }
});

test('random bytes (LZMA2 stores them as uncompressed chunks), text and zeros decode, with and without the ARM-Thumb filter', () => {
  const inputs = [randomBytes(200_000), compressibleImage(150_000), Buffer.alloc(300_000), Buffer.alloc(0), Buffer.from('x')];
  for (const input of inputs) {
    for (const options of [THUMB, ['--lzma2=preset=6,dict=4KiB'], ['--lzma2=preset=0,dict=8KiB,lc=0,lp=0,pb=0'], ['--lzma2=preset=9,dict=16KiB,lc=4,lp=0,pb=4']]) {
      const { output, ended } = decode(xz(input, options), { pieces: [4093, 17] });
      assert.equal(ended, true);
      assert.ok(output.equals(input), `${input.length} bytes with ${options.join(' ')}`);
    }
  }
});

test('several blocks, the filter\'s start offset, no check, and tiny output pages all decode', () => {
  const image = compressibleImage(120_000);
  const cases: Array<[string[], string]> = [
    [['--block-size=10000', ...THUMB], 'crc32'],
    [['--armthumb=start=4096', '--lzma2=dict=32KiB'], 'crc32'],
    [THUMB, 'none'],
  ];
  for (const [options, check] of cases) {
    assert.ok(decode(xz(image, options, check), { pageSize: 64, pieces: [333] }).output.equals(image), options.join(' '));
  }
});

test('its memory is the stream\'s dictionary plus a fixed state, whatever the image', () => {
  for (const [dict, window] of [[4096, 4096], [32 * 1024, 32 * 1024], [8192, 32 * 1024]] as const) {
    const { memory } = decode(xz(compressibleImage(100_000), [`--lzma2=dict=${dict}`]), { window });
    assert.equal(memory, dict + 28_268 + 63 + 1024 + 3, `dictionary ${dict}`);
  }
});

test('a dictionary larger than the window is refused at the block header, before anything is decoded', () => {
  const stream = xz(compressibleImage(50_000), ['--lzma2=dict=64KiB']);
  assert.throws(() => decode(stream, { window: 32 * 1024 }), refused(/needs a 65536-byte LZMA2 dictionary, larger than this ECU's window of 32768 bytes/));
  assert.throws(() => decode(xz(Buffer.from('small'), ['--lzma2=dict=8KiB']), { window: 4096 }), refused(/larger than this ECU's window of 4096/));
});

test('checks other than CRC32 and none are refused by name', () => {
  assert.throws(() => decode(xz(Buffer.from('image'), THUMB, 'crc64')), refused(/integrity check CRC64 is not supported/));
  assert.throws(() => decode(xz(Buffer.from('image'), THUMB, 'sha256')), refused(/integrity check SHA-256 is not supported/));
});

test('filters other than ARM-Thumb before LZMA2 are refused', () => {
  assert.throws(() => decode(xz(Buffer.from('image'), ['--x86', '--lzma2'])), refused(/filter 0x4 is not supported/));
  assert.throws(() => decode(xz(Buffer.from('image'), ['--delta=dist=2', '--lzma2'])), refused(/filter 0x3 is not supported/));
});

test('a truncated stream never ends: at every cut the decoder waits for more and says it has not ended', () => {
  const image = compressibleImage(20_000);
  const stream = xz(image, THUMB);
  for (let cut = 0; cut < stream.length; cut += Math.max(1, Math.floor(stream.length / 97))) {
    const { ended, output } = decode(stream.subarray(0, cut), { pieces: [1000] });
    assert.equal(ended, false, `cut at ${cut}`);
    assert.ok(image.subarray(0, output.length).equals(output), 'what came out before the cut is the image\'s start');
  }
  assert.equal(decode(stream.subarray(0, stream.length - 1)).ended, false, 'one byte short of the footer');
});

test('bytes after the stream (a second stream, padding, garbage) are refused', () => {
  const stream = xz(Buffer.from('image'), THUMB);
  for (const tail of [stream, Buffer.alloc(4), Buffer.from('x')]) {
    assert.throws(() => decode(Buffer.concat([stream, tail]), { pieces: [stream.length] }), refused(/bytes after the end of the xz stream/));
  }
});

test('not xz at all is refused at once', () => {
  assert.throws(() => decode(new Uint8Array(Buffer.from('\x1f\x8b\x08 a gzip file, not xz'))), refused(/not an xz stream/));
});

test('damage anywhere is refused: the headers\', index\'s and data\'s CRC32s, the LZMA2 structure and the sizes each catch it', () => {
  const image = compressibleImage(30_000);
  const stream = xz(image, THUMB);
  let caught = 0;
  for (let position = 0; position < stream.length; position += 7) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const damaged = Uint8Array.from(stream);
      damaged[position]! ^= flip;
      try {
        // What may not happen: a damaged stream that ends as if it were whole.
        assert.equal(decode(damaged, { pieces: [4093] }).ended, false, `position ${position}, flip 0x${flip.toString(16)}`);
        caught += 1;
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(error instanceof XzDataError, `position ${position}: ${String(error)}`);
        caught += 1;
      }
    }
  }
  assert.equal(caught, Math.ceil(stream.length / 7) * 3, 'every damaged stream was refused or never ended');
});

test('a stream that is valid xz but lies in its index or block sizes is refused (hand-edited, CRC32s recomputed)', () => {
  const stream = Uint8Array.from(xz(Buffer.from('the same image twice: the same image twice'), ['--lzma2=dict=4KiB']));
  // The index: indicator 0x00, count, (unpadded, uncompressed), padding, CRC32; it starts Backward Size before the footer.
  const footer = stream.length - 12;
  const indexSize = (Buffer.from(stream.buffer).readUInt32LE(footer + 4) + 1) * 4;
  const index = footer - indexSize;
  const lied = Uint8Array.from(stream);
  lied[index + 3]! += 1; // the uncompressed size recorded for the block
  Buffer.from(lied.buffer).writeUInt32LE(crc32(lied.subarray(index, footer - 4)), footer - 4);
  assert.throws(() => decode(lied), refused(/index's block sizes do not match/));
});

test('fast-check: any data, any LZMA2 settings, any chunking decodes to exactly the data', () => {
  const chunk = fc.oneof(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.constantFrom(...['BL ', 'push {r4, lr}', '\0\0\0\0'].map((text) => new Uint8Array(Buffer.from(text)))));
  fc.assert(fc.property(
    fc.array(fc.tuple(chunk, fc.integer({ min: 1, max: 40 })), { maxLength: 40 }),
    fc.constantFrom(THUMB, ['--lzma2=preset=1,dict=4KiB,lc=0,lp=2,pb=2'], ['--armthumb', '--lzma2=preset=9,dict=8KiB,lc=2,lp=2,pb=0']),
    fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }),
    fc.integer({ min: 16, max: 600 }),
    (parts, options, pieces, pageSize) => {
      // Repeated runs make matches (and rep matches); random parts make literals and stored chunks.
      const data = Buffer.concat(parts.flatMap(([bytes, times]) => Array.from({ length: times % 5 + 1 }, () => bytes)));
      const { output, ended } = decode(xz(data, options), { pieces, pageSize });
      return ended && output.equals(data);
    },
  ), { numRuns: 60 });
});
