import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import fc from 'fast-check';
import { VcdiffDecoder, VcdiffError, adler32 } from '../../../src/vehicle/ecu/vcdiff-decoder.ts';
import { compressibleImage } from './compressible-image.ts';
import { xdelta3 } from './xdelta3.ts';

/** Decodes `delta` against `base`, fed in pieces of `chunk` bytes; returns the target and the decoder. */
async function decode(base: Uint8Array, delta: Uint8Array,
  options: { chunk?: number; window?: number; targetSize?: number; onHeader?: (header: Uint8Array | null) => void } = {}) {
  const parts: Buffer[] = [];
  let reads = 0;
  const decoder = new VcdiffDecoder({
    maxTargetWindow: options.window ?? 16 * 1024,
    ...(options.targetSize !== undefined ? { targetSize: options.targetSize } : {}),
    source: {
      size: base.length,
      read: async (into, position) => {
        reads += 1;
        assert.ok(position + into.length <= base.length, 'never reads past the base');
        into.set(base.subarray(position, position + into.length));
      },
    },
    ...(options.onHeader ? { onHeader: options.onHeader } : {}),
    onWindow: async (target) => {
      assert.ok(target.length <= (options.window ?? 16 * 1024));
      parts.push(Buffer.from(target));
    },
  });
  const chunk = options.chunk ?? 4093;
  for (let offset = 0; offset < delta.length; offset += chunk) await decoder.push(delta.subarray(offset, offset + chunk));
  decoder.finish();
  return { target: Buffer.concat(parts), decoder, reads };
}

/** A code-like image and its next version: a few bytes patched, a block inserted (everything after it moves). */
function versions(size: number): { base: Buffer; target: Buffer } {
  const base = compressibleImage(size);
  const target = Buffer.concat([base.subarray(0, size / 3), randomBytes(700), base.subarray(size / 3)]);
  target.write('version 2', 100, 'latin1');
  for (let offset = 5000; offset < target.length; offset += 9000) target[offset] = target[offset]! ^ 0x21;
  return { base, target };
}

test('xdelta3\'s delta between two code-like versions decodes to the new version, window by window, in any chunking', async () => {
  const { base, target } = versions(200_000);
  const delta = await xdelta3(base, target);
  assert.ok(delta.length < target.length / 5, `${delta.length}-byte delta`);
  for (const chunk of [1, 7, 4093, 65_536, delta.length]) {
    const { target: decoded, reads } = await decode(base, delta, { chunk });
    assert.ok(decoded.equals(target), `chunks of ${chunk} bytes`);
    assert.ok(reads > 0, 'copies came from the base');
  }
});

test('the decoder\'s memory is fixed by its limits, not by the image: target window + 2 × window + header room + address caches', async () => {
  const { base, target } = versions(300_000);
  const { decoder } = await decode(base, await xdelta3(base, target));
  const memory = decoder.memory;
  assert.equal(memory.window, 16 * 1024);
  assert.equal(memory.addressCache, (4 + 3 * 256) * 4);
  assert.ok(memory.deltaWindow <= 2 * 16 * 1024 + 300, `${memory.deltaWindow}-byte input buffer`);
  assert.equal(memory.peak, memory.window + memory.deltaWindow + memory.addressCache);
});

test('property: for random bases and edits, xdelta3\'s delta decodes to exactly the target', async () => {
  await fc.assert(fc.asyncProperty(
    fc.uint8Array({ minLength: 0, maxLength: 40_000 }),
    fc.array(fc.record({ at: fc.nat(), cut: fc.nat({ max: 3000 }), insert: fc.uint8Array({ maxLength: 2000 }) }), { maxLength: 6 }),
    fc.integer({ min: 1, max: 20_000 }),
    async (baseBytes, edits, chunk) => {
      const base = Buffer.from(baseBytes);
      let target = Buffer.from(base);
      for (const edit of edits) {
        const at = target.length === 0 ? 0 : edit.at % target.length;
        target = Buffer.concat([target.subarray(0, at), Buffer.from(edit.insert), target.subarray(at + edit.cut)]);
      }
      if (target.length === 0) return; // xdelta3 writes no window for an empty target
      const { target: decoded } = await decode(base, await xdelta3(base, target), { chunk });
      assert.ok(decoded.equals(target));
    }), { numRuns: 25 });
});

test('property: a delta with any one byte changed is refused or still makes exactly the target — never other bytes', async () => {
  const { base, target } = versions(60_000);
  const delta = await xdelta3(base, target);
  await fc.assert(fc.asyncProperty(fc.nat({ max: delta.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, flip) => {
    const damaged = Buffer.from(delta);
    damaged[at] = damaged[at]! ^ flip;
    let decoded: Buffer;
    try {
      // With the image's size, as the ECU knows it from memorySize.
      decoded = (await decode(base, damaged, { targetSize: target.length })).target;
    } catch (error) {
      assert.ok(error instanceof VcdiffError, `${String(error)}`);
      return;
    }
    assert.ok(decoded.equals(target), `byte ${at} ^ ${flip} made other bytes without an error`);
  }), { numRuns: 300 });
});

test('the image size, when given, is held: a damaged application-header length that swallows whole windows, a window past the end, a window without its Adler-32', async () => {
  const { base, target } = versions(60_000);
  const delta = await xdelta3(base, target);
  // Byte 5 is the application header's length (xdelta3 writes the file names there): 48 more bytes swallow
  // the first windows (they encode COPYs in a few bytes each) and the rest still checks out, window by window.
  assert.equal(delta[4]! & 0x04, 0x04, 'an application header');
  const swallowing = Buffer.from(delta);
  swallowing[5] = swallowing[5]! + 48;
  const shorter: number | null = await decode(base, swallowing).then((decoded) => decoded.target.length, () => null);
  if (shorter !== null) assert.ok(shorter < target.length, 'without the size, only a shorter image can come out');
  await assert.rejects(decode(base, swallowing, { targetSize: target.length }), /the delta made \d+ bytes, the image has 60700|window|Adler|header/);
  await assert.rejects(decode(base, delta, { targetSize: target.length - 1 }), /window \d+ makes bytes \d+-\d+ of an image of 60699/);
  await assert.rejects(decode(base, delta, { targetSize: target.length + 1 }), /the delta made 60700 bytes, the image has 60701/);
  assert.ok((await decode(base, delta, { targetSize: target.length })).target.equals(target));
  const unchecked = await xdelta3(base, target, ['-9', '-S', 'none', '-W', '16384', '-n']);
  await assert.rejects(decode(base, unchecked), /window 0 carries no Adler-32: this ECU takes only deltas whose windows are checked/);
});

test('a delta applied to another base than its own fails the window\'s Adler-32', async () => {
  const { base, target } = versions(60_000);
  const delta = await xdelta3(base, target);
  const other = Buffer.from(base);
  for (let offset = 0; offset < other.length; offset += 512) other[offset] = other[offset]! ^ 0xff;
  await assert.rejects(decode(other, delta), /Adler-32: the base image is not the one the delta was made from/);
});

test('a delta that copies from beyond the base it is given is refused before reading', async () => {
  const { base, target } = versions(60_000);
  const delta = await xdelta3(base, target);
  await assert.rejects(decode(base.subarray(0, 1000), delta), /copies bytes \d+-\d+ of a 1000-byte base image/);
});

test('truncated deltas are refused at finish: inside the header, inside a window, or with no window at all', async () => {
  const { base, target } = versions(60_000);
  // -A: no application header, so the header is the 5 bytes of magic and indicator.
  const delta = await xdelta3(base, target, ['-9', '-S', 'none', '-W', '16384', '-A']);
  await assert.rejects(decode(base, delta.subarray(0, 3)), /ended inside its VCDIFF header/);
  await assert.rejects(decode(base, delta.subarray(0, delta.length - 1)), /ended inside window \d+/);
  await assert.rejects(decode(base, delta.subarray(0, 5)), /holds no window/);
});

test('what this decoder does not take is refused with the reason: not VCDIFF, secondary compression, a larger window than the ECU keeps', async () => {
  const { base, target } = versions(100_000);
  await assert.rejects(decode(base, Buffer.from('PK\x03\x04 not a delta at all')), /not a VCDIFF delta/);
  const compressed = await xdelta3(base, target, ['-9', '-S', 'djw', '-W', '16384']);
  await assert.rejects(decode(base, compressed), /secondary compression|compressed sections/);
  const wide = await xdelta3(base, target, ['-9', '-S', 'none', '-W', String(1 << 20)]);
  await assert.rejects(decode(base, wide), /more than the \d+(-byte window| this ECU decodes)|larger than the \d+ bytes/);
});

test('the application header reaches onHeader, which may refuse the delta before any window is decoded', async () => {
  const { base, target } = versions(40_000);
  const delta = await xdelta3(base, target, ['-9', '-S', 'none', '-W', '16384', '-A', 'base-sha256=abc']);
  const seen: string[] = [];
  await decode(base, delta, { onHeader: (header) => seen.push(Buffer.from(header ?? []).toString()) });
  assert.deepEqual(seen, ['base-sha256=abc']);
  let windows = 0;
  const decoder = new VcdiffDecoder({
    maxTargetWindow: 16 * 1024, source: { size: base.length, read: async () => undefined },
    onHeader: () => { throw new VcdiffError('not my base'); }, onWindow: async () => { windows += 1; },
  });
  await assert.rejects(decoder.push(delta), /not my base/);
  assert.equal(windows, 0);
});

test('bytes after the last window are a malformed window, never ignored', async () => {
  const { base, target } = versions(40_000);
  const delta = Buffer.concat([await xdelta3(base, target), Buffer.from([0x00, 0x00, 0x05])]);
  await assert.rejects(decode(base, delta), VcdiffError);
});

test('adler32 is RFC 1950\'s Adler-32', () => {
  assert.equal(adler32(new Uint8Array(0)), 1);
  assert.equal(adler32(Buffer.from('Wikipedia')), 0x11e60398);
  // Past the 3800-byte stretch between reductions, and with every byte 0xff (the largest sums).
  assert.equal(adler32(Buffer.alloc(100_000, 0xff)), referenceAdler32(Buffer.alloc(100_000, 0xff)));
});

function referenceAdler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
