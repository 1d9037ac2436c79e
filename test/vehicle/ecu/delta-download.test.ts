import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test, { type TestContext } from 'node:test';
import { makeDelta } from '../../../src/server/releases/delta-maker.ts';
import { factoryImage } from '../../../src/vehicle/ecu/factory-image.ts';
import { TransferFormat } from '../../../src/vehicle/ecu/protocol.ts';
import { ecuByName } from '../../../src/vehicle/network.ts';
import type { DeltaImage } from '../../../src/vehicle/tmu/delta-image.ts';
import { FlashStepError } from '../../../src/vehicle/tmu/flash-errors.ts';
import { FlashSession } from '../../../src/vehicle/tmu/flash-session.ts';
import { standardVehicleConfig } from '../../../src/vehicle/config.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { compressibleImage } from './compressible-image.ts';
import { xdelta3 } from './xdelta3.ts';
import { NegativeResponseError, downloadImage } from '../../../src/can/uds/index.ts';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { VIN, ecuBench, manifestFor, sha256 } from './support.ts';

/** EDT's factory image: what a fresh bench's EDT runs, the base of the deltas below. */
const running = factoryImage('EDT', '1.0.0');

/** The running image with a few bytes changed and 20 KB of code appended: three 16 KiB windows. */
function nextImage(base: Uint8Array = running): Buffer {
  const image = Buffer.concat([base, compressibleImage(20_000)]);
  image.write('canota EDT 2.0.0', 0, 'latin1');
  image[9000] = image[9000]! ^ 0xff;
  return image;
}

/** Writes `image` and a delta to it from `base` (the real xdelta3), naming `claimedBase` as the delta's base. */
async function deltaFor(t: TestContext, base: Uint8Array, image: Uint8Array, claimedBase = base): Promise<{ path: string; delta: DeltaImage; bytes: Buffer }> {
  const directory = await tempDir(t);
  const [basePath, path, out] = ['base.bin', 'image.bin', 'image.vcdiff'].map((name) => join(directory, name)) as [string, string, string];
  await writeFile(basePath, base);
  await writeFile(path, image);
  const made = await makeDelta({ base: basePath, baseSha256: sha256(claimedBase), target: path, out });
  return { path, delta: { path: out, size: made.size, base: { version: '1.0.0', sha256: sha256(running) } }, bytes: await readFile(out) };
}

test('a delta from the running image is applied into the inactive bank: few bytes on the bus, the same image checked and booted', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  await bench.session.program({ path, delta }, manifestFor(image, null));

  const transfer = bench.ecu.transferStatistics();
  assert.ok(transfer);
  assert.equal(transfer.dataFormat, TransferFormat.Delta);
  assert.equal(transfer.imageBytes, image.length);
  assert.equal(transfer.transferred, delta.size);
  assert.ok(delta.size < image.length / 2, `a ${delta.size}-byte delta for a ${image.length}-byte image`);
  assert.ok(transfer.decoderMemory);
  assert.equal(transfer.decoderMemory.window, 16 * 1024);
  assert.ok(transfer.decoderMemory.peak <= 3 * 16 * 1024 + 4096, `patcher peak ${transfer.decoderMemory.peak} bytes`);

  const boot = await bench.session.activate();
  assert.equal(boot.switched, true);
  assert.equal(boot.sha256, sha256(image));
  assert.equal(boot.bootState.banks.A.sha256, sha256(running), 'the base bank was only read');
});

test('a delta made from another image than the running one is refused at its first block (0x31) with the bank still erased; the full image follows in the same session', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const other = factoryImage('EDT', '0.9.0');
  const { path, delta } = await deltaFor(t, other, image);
  bench.approve(image);
  await bench.session.erase(await bench.session.openProgrammingSession('program'));
  // The tester believes the ECU runs the base (its DeltaImage says so); the ECU reads the delta's own header.
  assert.equal(await bench.session.downloadDelta(delta, image.length), false);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'erased');
  await bench.session.download({ path });
  assert.deepEqual(await bench.session.check(manifestFor(image, null)), { ok: true });
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
});

test('a delta that names the running image but was made from another is caught by its windows\' Adler-32 (0x72); the tester erases again and sends the full image', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const other = Buffer.from(running);
  other.fill(0x55, 4000, 6000);
  // Made from `other` (whose bytes it copies) but naming the running image as its base.
  const image = nextImage(other);
  const { path, delta } = await deltaFor(t, other, image, running);
  await bench.session.program({ path, delta }, manifestFor(image, null));
  const transfer = bench.ecu.transferStatistics();
  assert.equal(transfer?.dataFormat, TransferFormat.Deflate, 'the full image went instead');
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('a corrupt delta never becomes bootable: refused while it is applied, the bank left `programming` until erased again', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const { delta, bytes } = await deltaFor(t, running, image);
  bytes[bytes.length - 10]! ^= 0x5a;
  await writeFile(delta.path, bytes);
  bench.approve(image);
  await bench.session.erase(await bench.session.openProgrammingSession('program'));
  // The ECU refuses it part way (0x72); the tester erases again, with a new grant, for the full image.
  assert.equal(await bench.session.downloadDelta(delta, image.length), false);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'erased');
  const refusal = await bench.session.check(manifestFor(image, null)).catch((error: unknown) => error);
  assert.ok(refusal instanceof FlashStepError && refusal.nrc === 0x24, 'nothing to check: no image was downloaded');
});

test('an ECU without a patcher answers the delta\'s 0x34 with 0x31; the tester sends the compressed image instead', async (t) => {
  const config = standardVehicleConfig(VIN);
  ecuByName(config, 'EDT').transfer = { compression: 'deflate', window: 32 * 1024, delta: 'none' };
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } }, ecu: { config } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  await bench.session.program({ path, delta }, manifestFor(image, null));
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('a delta from a base the ECU does not run is not sent at all: the tester reads the running image first', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  await bench.session.program({ path, delta: { ...delta, base: { version: '0.9.0', sha256: sha256(factoryImage('EDT', '0.9.0')) } } }, manifestFor(image, null));
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
});

/** EDT on the bench, with the reasons of its refusals (its UDS server logs each at debug level). */
async function benchWithReasons(t: TestContext) {
  const reasons: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as { msg: string; reason?: string };
        if (entry.msg === 'uds request refused' && entry.reason) reasons.push(entry.reason);
      }
      done();
    },
  }));
  return { bench: await ecuBench(t, { ecu: { logger } }), reasons };
}

/** Sends `delta` as a 0x30 download of `memorySize` image bytes with the bench's own UDS client. */
async function sendDelta(bench: Awaited<ReturnType<typeof ecuBench>>, delta: Uint8Array, memorySize: number): Promise<unknown> {
  return downloadImage(bench.client, delta, { memoryAddress: 0, memorySize, addressLength: 4, sizeLength: 4, dataFormat: TransferFormat.Delta })
    .then(() => null, (error: unknown) => error);
}

test('a delta that makes more image bytes than memorySize (the approved size) is refused while it is applied (0x72): the bank is never checked', async (t) => {
  const { bench, reasons } = await benchWithReasons(t);
  const image = nextImage();
  const { bytes } = await deltaFor(t, running, image);
  await bench.eraseFor(image.length - 1);
  const error = await sendDelta(bench, bytes, image.length - 1);
  assert.ok(error instanceof NegativeResponseError && error.nrc === 0x72, String(error));
  // The patcher knows memorySize: the window that would pass it is refused before a byte of it is written.
  assert.match(reasons.at(-1) ?? '', /the delta cannot be applied: window \d+ makes bytes \d+-\d+ of an image of \d+/);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'programming');
});

test('a delta that makes fewer image bytes than memorySize ends with 0x24 at 0x37: the bank is never checked', async (t) => {
  const bench = await ecuBench(t);
  const image = nextImage();
  const { bytes } = await deltaFor(t, running, image);
  await bench.eraseFor(image.length + 1);
  const error = await sendDelta(bench, bytes, image.length + 1);
  assert.ok(error instanceof NegativeResponseError && error.nrc === 0x24 && error.sid === 0x37, String(error));
  assert.equal((await bench.session.readBootState()).banks.B.state, 'programming');
});

test('a delta cut short ends with 0x24 at 0x37: its last window never made its image bytes', async (t) => {
  const { bench, reasons } = await benchWithReasons(t);
  const image = nextImage();
  const { bytes } = await deltaFor(t, running, image);
  await bench.eraseFor(image.length);
  const error = await sendDelta(bench, bytes.subarray(0, bytes.length - 20), image.length);
  assert.ok(error instanceof NegativeResponseError && error.nrc === 0x24, String(error));
  assert.match(reasons.at(-1) ?? '', /only \d+ of \d+ bytes transferred/);
});

test('a delta without the base-sha256 application header is refused at its first block (0x72), before the bank is opened', async (t) => {
  const { bench, reasons } = await benchWithReasons(t);
  const image = nextImage();
  const bytes = await xdelta3(running, image, ['-9', '-S', 'none', '-W', '16384', '-A']);
  await bench.eraseFor(image.length);
  const error = await sendDelta(bench, bytes, image.length);
  assert.ok(error instanceof NegativeResponseError && error.nrc === 0x72, String(error));
  assert.match(reasons.at(-1) ?? '', /does not name its base image/);
  assert.equal((await bench.session.readBootState()).banks.B.state, 'erased');
});

/**
 * A tester that does not approve what it flashes by reading the image first (as the bench's does): the image
 * may not be there yet. The tests approve it at the CGW themselves.
 */
function testerOf(bench: Awaited<ReturnType<typeof ecuBench>>): FlashSession {
  return new FlashSession({
    client: bench.client, ecu: ecuByName(bench.config, 'EDT'), authority: bench.cgw, rebootTimeoutMs: 3000, pollIntervalMs: 10,
    compression: { window: 32 * 1024 },
  });
}

test('only the delta downloaded: the image is fetched (ensure) only when the ECU does not take the delta, and then before it is sent', async (t) => {
  const config = standardVehicleConfig(VIN);
  ecuByName(config, 'EDT').transfer = { compression: 'deflate', window: 32 * 1024, delta: 'none' };
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } }, ecu: { config } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  const later = `${path}.later`;
  const fetched: string[] = [];
  bench.approve(image);
  const ensure = async () => {
    fetched.push((await bench.session.readBootState()).state);
    await writeFile(later, image);
  };
  await testerOf(bench).program({ path: later, delta, ensure }, manifestFor(image, null));
  assert.deepEqual(fetched, ['ProgrammingSession'], 'fetched once, after the ECU refused the delta\'s 0x34');
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
  assert.equal((await bench.session.activate()).sha256, sha256(image));
});

test('only the delta downloaded, for a base the ECU does not run: the image is fetched before the programming session opens', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  const later = `${path}.later`;
  const fetched: string[] = [];
  bench.approve(image);
  const ensure = async () => {
    fetched.push((await bench.session.readBootState()).state);
    await writeFile(later, image);
  };
  const elsewhere = { ...delta, base: { version: '0.9.0', sha256: sha256(factoryImage('EDT', '0.9.0')) } };
  await testerOf(bench).program({ path: later, delta: elsewhere, ensure }, manifestFor(image, null));
  assert.deepEqual(fetched, ['Running']);
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Deflate);
});

test('only the delta downloaded, and the ECU takes it: the image is never fetched', async (t) => {
  const bench = await ecuBench(t, { session: { compression: { window: 32 * 1024 } } });
  const image = nextImage();
  const { path, delta } = await deltaFor(t, running, image);
  bench.approve(image);
  let fetched = 0;
  await testerOf(bench).program({ path: `${path}.never`, delta, ensure: async () => { fetched += 1; } }, manifestFor(image, null));
  assert.equal(fetched, 0);
  assert.equal(bench.ecu.transferStatistics()?.dataFormat, TransferFormat.Delta);
});
