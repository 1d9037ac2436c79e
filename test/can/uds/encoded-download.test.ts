import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  UdsServer, decodeDataFormat, downloadImage, encodeDataFormat, type DownloadHandlers, type Reply,
} from '../../../src/can/uds/index.ts';
import { bytes, hex, key, testEcu, testerAndEcu } from './support.ts';

// Encoded (compressed) downloads in the generic server: memorySize is the decoded size (ISO 14229-1
// §14.2.2), held to what the application says each block decoded to. The application here decodes a
// run-length code (pairs of count, value), so that a block's length and the memory it fills differ.
const RUN_LENGTH = 0x20;

function runLengthFlash(size: number): { flash: Uint8Array; download: DownloadHandlers } {
  const flash = new Uint8Array(size);
  return {
    flash,
    download: {
      maxNumberOfBlockLength: 258,
      dataFormats: [0x00, RUN_LENGTH],
      onRequestDownload: () => undefined,
      onTransferData: (data, { offset }) => {
        let at = offset;
        for (let index = 0; index + 1 < data.length; index += 2) {
          // A run past the flash is the application's to refuse; the server checks memorySize on top.
          const run = Math.min(data[index]!, flash.length - at);
          flash.fill(data[index + 1]!, at, at + run);
          at += data[index]!;
        }
        return at - offset;
      },
      onTransferExit: () => undefined,
    },
  };
}

async function programmingServer(download: DownloadHandlers): Promise<UdsServer> {
  const { options } = testEcu({ download });
  const server = new UdsServer(options);
  await server.handle(bytes('10 02'));
  const seed = (await server.handle(Uint8Array.of(0x27, 0x11)))!.message.subarray(2);
  assert.equal(hex((await server.handle(Uint8Array.of(0x27, 0x12, ...key(seed))))!.message), '6712');
  return server;
}

async function answer(server: UdsServer, request: string): Promise<string> {
  const reply: Reply | null = await server.handle(bytes(request));
  return hex(reply?.message);
}

test('dataFormatIdentifier: compression method in the high nibble, encryption in the low one', () => {
  assert.equal(encodeDataFormat({ compression: 1, encryption: 0 }), 0x10);
  assert.equal(encodeDataFormat({ compression: 0xf, encryption: 0x3 }), 0xf3);
  assert.deepEqual(decodeDataFormat(0x21), { compression: 2, encryption: 1 });
  assert.throws(() => encodeDataFormat({ compression: 16, encryption: 0 }), /compression method must be 0-15/);
  assert.throws(() => encodeDataFormat({ compression: 0, encryption: -1 }), /encryption method must be 0-15/);
});

test('an encoded download fills memorySize with fewer bytes; the exit is judged by the decoded count', async (t) => {
  const { flash, download } = runLengthFlash(1000);
  const server = await programmingServer(download);
  t.after(() => server.close());
  assert.equal(await answer(server, '34 30 44 00000000 00000190'), '7f3431', 'a format the application did not list');
  assert.equal(await answer(server, '34 20 44 00000000 00000190'), '74200102', '400 bytes announced');
  assert.equal(await answer(server, '36 01 ff11 6122'), '7601', '4 bytes that decode to 352');
  assert.equal(await answer(server, '37'), '7f3724', 'only 352 of 400 bytes decoded');
  assert.equal(await answer(server, '36 02 3033'), '7602', 'the last 48');
  // A compressed stream's trailer may follow its last memory byte: it is the application's to judge.
  assert.equal(await answer(server, '36 03 0044'), '7603', 'a block that decodes to nothing after the image');
  assert.equal(await answer(server, '37'), '77');
  assert.deepEqual([flash[0], flash[254], flash[255], flash[351], flash[352], flash[399], flash[400]], [0x11, 0x11, 0x22, 0x22, 0x33, 0x33, 0x00]);
});

test('an encoded block that decodes past memorySize ends the download with 0x71', async (t) => {
  const { download } = runLengthFlash(1000);
  const server = await programmingServer(download);
  t.after(() => server.close());
  assert.equal(await answer(server, '34 20 44 00000000 00000100'), '74200102');
  assert.equal(await answer(server, '36 01 ff11 0211'), '7f3671', '257 bytes decoded, 256 announced');
  assert.equal(await answer(server, '36 02 0111'), '7f3624', 'the download has ended');
});

test('plain data keeps its own rules: a block beyond memorySize is 0x71 before it is written', async (t) => {
  const { flash, download } = runLengthFlash(1000);
  const server = await programmingServer(download);
  t.after(() => server.close());
  assert.equal(await answer(server, '34 00 44 00000000 00000002'), '74200102');
  // Plain: the application's count is ignored, the length is what fills memory.
  assert.equal(await answer(server, '36 01 0511'), '7601');
  assert.equal(await answer(server, '36 02 01'), '7f3624', 'all bytes transferred');
  assert.equal(await answer(server, '37'), '77');
  assert.deepEqual([...flash.subarray(0, 6)], [0x11, 0x11, 0x11, 0x11, 0x11, 0], 'the handler decoded it anyway, as told');
});

test('downloadImage sends an encoded source that is shorter than memorySize', async (t) => {
  const { flash, download } = runLengthFlash(100_000);
  const { options } = testEcu({ download });
  const { client } = testerAndEcu(t, options);
  await client.diagnosticSessionControl(2);
  await client.unlock(0x11, key);
  const encoded = new Uint8Array(2 * 400);
  for (let index = 0; index < 400; index += 1) encoded.set([250, index & 0xff], index * 2);
  const result = await downloadImage(client, encoded, { memoryAddress: 0, memorySize: 100_000, dataFormat: RUN_LENGTH });
  assert.equal(result.bytes, 800);
  assert.equal(result.blocks, 4);
  assert.equal(flash[99_999], 399 & 0xff);
  // Plain data still has to be exactly memorySize.
  await assert.rejects(downloadImage(client, encoded, { memoryAddress: 0, memorySize: 100_000 }), /the image has 800 bytes, memorySize announced 100000/);
});
