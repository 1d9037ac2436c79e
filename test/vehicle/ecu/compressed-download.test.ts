import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import { FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { ApprovingFlashSession, VIN, ecuBench, manifestFor, sha256 } from './support.ts';
import { compressibleImage } from './compressible-image.ts';

/** EDT as configured, but with its bootloader's decompression set to `transfer`. */
function edtWith(transfer: { compression: 'deflate' | 'none'; window: number }) {
  const config = standardVehicleConfig(VIN);
  ecuByName(config, 'EDT').transfer = { delta: 'vcdiff', ...transfer };
  return { config };
}

test('a compressed image is decompressed into the bank while it arrives: fewer bytes on the bus, the same image verified and booted', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 4096 } }, ecu: edtWith({ compression: 'deflate', window: 4096 }) });
  const image = compressibleImage(200_000);
  const path = join(bench.stateDir, 'edt.bin');
  await writeFile(path, image);
  const progress: number[] = [];
  const session = new ApprovingFlashSession(bench.cgw, {
    client: bench.client, ecu: ecuByName(bench.config, 'EDT'), authority: bench.cgw, compression: { window: 4096 },
    rebootTimeoutMs: 3000, pollIntervalMs: 10,
    onProgress: (report) => { if (report.phase === 'download') progress.push(report.bytes); },
  });
  await session.program({ path }, manifestFor(image, null));

  const transfer = bench.ecu.transferStatistics();
  assert.ok(transfer);
  assert.equal(transfer.dataFormat, TransferFormat.Deflate);
  assert.equal(transfer.imageBytes, image.length);
  assert.ok(transfer.transferred < image.length / 2, `${transfer.transferred} bytes over the bus for a ${image.length}-byte image`);
  assert.ok(transfer.decoderMemory);
  assert.equal(transfer.decoderMemory.window, 4096);
  assert.ok(transfer.decoderMemory.peak <= 4096 + 8 * 1024 + 4096, `decoder peak ${transfer.decoderMemory.peak} bytes`);
  assert.equal(progress.at(-1), image.length, 'progress counts image bytes');
  assert.ok(progress.every((bytes, index) => index === 0 || bytes >= progress[index - 1]!));

  const boot = await session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.sha256, sha256(image));
});

test('an ECU without a decompressor answers the compressed 0x34 with 0x31; the tester sends the image plain instead', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } }, ecu: edtWith({ compression: 'none', window: 32 * 1024 }) });
  const image = compressibleImage(30_000);
  await bench.session.program(image, manifestFor(image, null));
  const transfer = bench.ecu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Plain);
  assert.equal(transfer.transferred, image.length);
  assert.equal(transfer.decoderMemory, null);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('a stream made with a larger window than the ECU\'s is refused at its first block (0x72); the bank never becomes bootable', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } }, ecu: edtWith({ compression: 'deflate', window: 1024 }) });
  const image = compressibleImage(30_000);
  await assert.rejects(bench.session.program(image, manifestFor(image, null)), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'download' && error.nrc === 0x72);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'programming');
  assert.equal((await bench.session.readBootState()).active, 'A');
});

test('memorySize stays the image\'s own size: a compressed download of another size than the approved one is refused', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = compressibleImage(30_000);
  await bench.eraseFor(image.length + 1);
  await assert.rejects(bench.session.download(image), (error: unknown) =>
    error instanceof FlashStepError && error.step === 'download' && error.nrc === 0x31);
});
