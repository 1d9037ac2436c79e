import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardVehicleConfig, type CompressionMethod } from '../../../src/vehicle/config.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { ApprovingFlashSession, VIN, ecuBench, manifestFor, sha256 } from './support.ts';
import { compressibleImage } from './compressible-image.ts';

/** The newest corpus image (npm run corpus: Cortex-M4 Thumb-2), or a compressible stand-in where it was not built. */
const CORPUS_IMAGE = 'corpus/edt-2.0.0.bin';
const PROBABILITIES = 28_268;

/** EDT as configured, but with its bootloader's compression methods and window set. */
function edtWith(compression: CompressionMethod | 'none' | CompressionMethod[], window = 32 * 1024) {
  const config = standardVehicleConfig(VIN);
  ecuByName(config, 'EDT').transfer = { compression, window, delta: 'vcdiff' };
  return { config };
}

const BOTH = { window: 32 * 1024, methods: ['xz', 'deflate'] as const };

test('an xz image (ARM-Thumb + LZMA2) is decoded into the bank as it arrives: far fewer bytes on the bus, the same image verified and booted', async (t) => {
  const bench = await ecuBench(t, { session: { compression: BOTH }, ecu: edtWith(['xz', 'deflate']) });
  const image = new Uint8Array(existsSync(CORPUS_IMAGE) ? await readFile(CORPUS_IMAGE) : compressibleImage(300_000));
  const path = join(bench.stateDir, 'edt.bin');
  await writeFile(path, image);
  const progress: number[] = [];
  const session = new ApprovingFlashSession(bench.cgw, {
    client: bench.client, ecu: ecuByName(bench.config, 'EDT'), authority: bench.cgw, compression: BOTH,
    rebootTimeoutMs: 3000, pollIntervalMs: 10,
    onProgress: (report) => { if (report.phase === 'download') progress.push(report.bytes); },
  });
  await session.program({ path }, manifestFor(image, null));

  const transfer = bench.ecu.transferStatistics();
  assert.ok(transfer);
  assert.equal(transfer.dataFormat, TransferFormat.Xz);
  assert.equal(transfer.imageBytes, image.length);
  assert.ok(transfer.transferred * 1.5 < image.length, `${transfer.transferred} bytes over the bus for a ${image.length}-byte image`);
  assert.ok(transfer.decoderMemory);
  assert.equal(transfer.decoderMemory.window, 32 * 1024, 'the dictionary is the stream\'s, bounded by the window');
  assert.ok(transfer.decoderMemory.tables >= PROBABILITIES && transfer.decoderMemory.tables <= PROBABILITIES + 2048, `state ${transfer.decoderMemory.tables} bytes`);
  assert.ok(transfer.decoderMemory.peak <= 32 * 1024 + PROBABILITIES + 2048 + 4096, `decoder peak ${transfer.decoderMemory.peak} bytes`);
  assert.equal(progress.at(-1), image.length, 'progress counts image bytes');
  assert.ok(progress.every((bytes, index) => index === 0 || bytes >= progress[index - 1]!));

  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.sha256, sha256(image), 'the installed image is byte-identical');
});

test('random bytes (which xz cannot shrink: its stream is a little longer than the image) still arrive whole', async (t) => {
  const bench = await ecuBench(t, { session: { compression: BOTH } });
  const image = randomBytes(20_000);
  await bench.session.program(image, manifestFor(image, null));
  const transfer = bench.ecu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Xz);
  assert.ok(transfer.transferred > image.length);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('an ECU that takes deflate but not xz answers the xz 0x34 with 0x31; the tester sends deflate in the same session', async (t) => {
  const bench = await ecuBench(t, { session: { compression: BOTH }, ecu: edtWith('deflate') });
  const image = compressibleImage(30_000);
  await bench.session.program(image, manifestFor(image, null));
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
  // The refusal is remembered: the next image goes deflate at once (one 0x34 only).
  const next = compressibleImage(20_000);
  await bench.session.program(next, manifestFor(next, null, { firmware_version: '3.0.0' }));
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
});

test('a TMU without xz sends deflate instead, before asking anything of the ECU', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { ...BOTH, xzCommand: '/nonexistent/xz' } } });
  const image = compressibleImage(30_000);
  await bench.session.program(image, manifestFor(image, null));
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('an ECU without any decompressor refuses xz and deflate (0x31); the tester sends the image plain', async (t) => {
  const bench = await ecuBench(t, { session: { compression: BOTH }, ecu: edtWith('none') });
  const image = compressibleImage(30_000);
  await bench.session.program(image, manifestFor(image, null));
  const transfer = bench.ecu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Plain);
  assert.equal(transfer.transferred, image.length);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('an xz-only ECU gets xz; the old single-name config `"xz"` works like a list of one', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 8192, methods: ['xz'] } }, ecu: edtWith('xz', 8192) });
  const image = compressibleImage(50_000);
  await bench.session.program(image, manifestFor(image, null));
  const transfer = bench.ecu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Xz);
  assert.equal(transfer.decoderMemory?.window, 8192);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('an xz stream with a larger dictionary than the ECU\'s window is refused at its first block (0x72); the bank never becomes bootable', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024, methods: ['xz'] } }, ecu: edtWith('xz', 4096) });
  const image = compressibleImage(30_000);
  await assert.rejects(bench.session.program(image, manifestFor(image, null)), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'download' && error.nrc === 0x72);
  const state = await bench.session.readBootState();
  assert.equal(state.banks.B.state, 'programming');
  assert.equal(state.active, 'A');
});
