/**
 * The download state machine's edges (mutation module `uds-download`, docs/testing.md): the defaults, what
 * the application's callbacks may refuse and how, a lost last response, and why each block was refused
 * (the reason the server logs with every NRC).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { RequestRejectedError, UdsServer, type DownloadHandlers, type Reply } from '../../../src/can/uds/index.ts';
import { bytes, hex, key, testEcu } from './support.ts';

interface LogLine { level: number; msg: string; nrc?: number; reason?: string }

function captureLogs() {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as LogLine);
      done();
    },
  }));
  return { logger, lines };
}

/** A server in the programming session, unlocked, with `download` (the test ECU's by default, with `changes`). */
async function programming(t: TestContext, changes: Partial<DownloadHandlers> = {}, download?: DownloadHandlers) {
  const { logger, lines } = captureLogs();
  const { options, log } = testEcu({ logger });
  options.download = download ?? { ...options.download!, ...changes };
  const server = new UdsServer(options);
  t.after(() => server.close());
  const send = async (request: string): Promise<string> => {
    const reply: Reply | null = await server.handle(bytes(request));
    return hex(reply?.message);
  };
  assert.match(await send('10 02'), /^5002/);
  const seed = (await server.handle(Uint8Array.of(0x27, 0x11)))!.message.subarray(2);
  assert.equal(hex((await server.handle(Uint8Array.of(0x27, 0x12, ...key(seed))))!.message), '6712');
  /** The reason logged with the last refusal, without the NRC's name in front. */
  const reason = () => lines.filter((line) => line.msg === 'uds request refused').at(-1)?.reason?.replace(/^[A-Za-z]+: /, '');
  return { server, send, log, reason };
}

const block = (counter: number, length: number, fill = 0xab) =>
  `36 ${counter.toString(16).padStart(2, '0')} ${fill.toString(16).padStart(2, '0').repeat(length)}`;

test('defaults: blocks up to 4095 bytes announced and accepted, plain data only', async (t) => {
  const { send, reason } = await programming(t, { maxNumberOfBlockLength: undefined, dataFormats: undefined });
  assert.equal(await send('34 10 44 00000000 00002000'), '7f3431', 'deflate is not offered unless listed');
  assert.equal(reason(), 'dataFormatIdentifier 0x10 not supported');
  assert.equal(await send('34 00 44 00000000 00002000'), '74200fff');
  assert.equal(await send(block(1, 4094)), '7f3613');
  assert.equal(reason(), 'block of 4096 bytes exceeds maxNumberOfBlockLength 4095');
  assert.equal(await send(block(1, 4093)), '7601');
});

test('the reasons behind each refusal of the state machine', async (t) => {
  const { send, reason, log, server } = await programming(t);
  assert.equal(await send(block(1, 1)), '7f3624');
  assert.equal(reason(), 'no RequestDownload is active');
  assert.equal(await send('37'), '7f3724');
  assert.equal(reason(), 'no RequestDownload is active');
  assert.equal(await send('34 00 44 00000000 00000000'), '7f3431');
  assert.equal(reason(), 'memorySize 0');
  assert.equal(await send('34 00 44 00000000 00000200'), '74200102');
  assert.equal(await send('34 00 44 00000000 00000200'), '7f3422');
  assert.equal(reason(), 'a download is already in progress');
  assert.equal(await send(block(0x1a, 4)), '7f3673');
  assert.equal(reason(), 'expected block 0x1, got 0x1a');
  assert.equal(await send('36 01'), '7f3613');
  assert.equal(reason(), 'TransferData without data');
  assert.equal(await send(block(1, 256)), '7601');
  assert.equal(await send('37'), '7f3724');
  assert.equal(reason(), 'only 256 of 512 bytes transferred');
  assert.equal(await send(block(2, 256)), '7602');
  assert.equal(await send(block(3, 1)), '7f3624');
  assert.equal(reason(), 'all 512 bytes were already transferred');
  assert.equal(await send('37'), '77c0');
  assert.equal(await send('34 00 44 00000000 00000100'), '74200102');
  assert.equal(await send(block(1, 200)), '7601');
  const written = log.writes.length;
  assert.equal(await send(block(2, 57)), '7f3671');
  assert.equal(reason(), 'block would bring the transfer to 257 bytes, memorySize is 256');
  assert.equal(log.writes.length, written, 'plain data past memorySize is refused before it is written');
  assert.equal(server.downloadActive, false);
});

test('a lost response to the last block: its repeat is acknowledged, not refused, and not written again', async (t) => {
  const { send, log } = await programming(t);
  assert.equal(await send('34 00 44 00000000 00000180'), '74200102');
  assert.equal(await send(block(1, 256, 0x11)), '7601');
  assert.equal(await send(block(2, 128, 0x22)), '7602');
  assert.equal(await send(block(2, 128, 0x22)), '7602', 'all bytes are there, but this is the repeat of the last block');
  assert.equal(await send(block(2, 256, 0x22)), '7602', 'a repeat is not measured against memorySize again');
  assert.deepEqual(log.writes, [{ offset: 0, length: 256, counter: 1 }, { offset: 256, length: 128, counter: 2 }]);
  assert.equal(await send(block(2, 257)), '7f3613', 'but it is still held to maxNumberOfBlockLength');
  assert.equal(await send(block(1, 1)), '7f3673', 'an older block is no repeat');
  assert.equal(await send('37'), '77c0');
});

test('the application refuses: its own NRC passes through, any other failure is 0x70 / 0x72, and the download is over', async (t) => {
  let refuseRequest: Error | null = new RequestRejectedError(0x22, 'battery low');
  let refuseWrite: Error | null = null;
  let refuseExit: Error | null = null;
  let exitRecord: Uint8Array | undefined;
  const { send, reason, server, log } = await programming(t, {
    onRequestDownload: () => { if (refuseRequest) throw refuseRequest; },
    onTransferData: (data, { offset, blockSequenceCounter }) => {
      if (refuseWrite) throw refuseWrite;
      log.writes.push({ offset, length: data.length, counter: blockSequenceCounter });
    },
    onTransferExit: () => {
      if (refuseExit) throw refuseExit;
      return exitRecord;
    },
  });
  assert.equal(await send('34 00 44 00000000 00000010'), '7f3422', 'the application\'s own NRC');
  assert.equal(reason(), 'battery low');
  refuseRequest = new Error('flash controller busy');
  assert.equal(await send('34 00 44 00000000 00000010'), '7f3470');
  assert.equal(reason(), 'flash controller busy');
  assert.equal(server.downloadActive, false);

  refuseRequest = null;
  refuseWrite = new RequestRejectedError(0x93, 'voltage too low');
  assert.equal(await send('34 00 44 00000000 00000010'), '74200102');
  assert.equal(await send(block(1, 16)), '7f3693');
  assert.equal(server.downloadActive, false, 'a refused block ends the download');
  refuseWrite = new Error('ECC error');
  assert.equal(await send('34 00 44 00000000 00000010'), '74200102', 'a new one may start at once');
  assert.equal(await send(block(1, 16)), '7f3672');
  assert.equal(reason(), 'ECC error');
  assert.equal(await send(block(2, 16)), '7f3624');

  refuseWrite = null;
  refuseExit = new RequestRejectedError(0x31, 'image check failed');
  assert.equal(await send('34 00 44 00000000 00000010'), '74200102');
  assert.equal(await send(block(1, 16)), '7601');
  assert.equal(await send('37'), '7f3731');
  assert.equal(server.downloadActive, false, 'a refused exit ends the download');
  assert.equal(await send('37'), '7f3724');
  refuseExit = new Error('CRC mismatch');
  assert.equal(await send('34 00 44 00000000 00000010'), '74200102');
  assert.equal(await send(block(1, 16)), '7601');
  assert.equal(await send('37'), '7f3772');
  assert.equal(reason(), 'CRC mismatch');
  assert.equal(server.downloadActive, false);

  refuseExit = null;
  for (const [record, answer] of [[undefined, '77'], [Uint8Array.of(1, 2), '770102']] as const) {
    exitRecord = record;
    assert.equal(await send('34 00 44 00000000 00000010'), '74200102');
    assert.equal(await send(block(1, 16)), '7601');
    assert.equal(await send('37'), answer);
    assert.equal(server.downloadActive, false, 'done: the next download may start');
  }
});

test('without onTransferExit the exit answers an empty record', async (t) => {
  const { send } = await programming(t, { onTransferExit: undefined });
  assert.equal(await send('34 00 44 00000000 00000004'), '74200102');
  assert.equal(await send(block(1, 4)), '7601');
  assert.equal(await send('37'), '77');
});

test('encoded data: offsets count memory bytes; a block whose handler returns nothing fills its own length', async (t) => {
  const writes: Array<{ offset: number; length: number }> = [];
  let produces: number | undefined = 100;
  const download: DownloadHandlers = {
    maxNumberOfBlockLength: 258,
    dataFormats: [0x00, 0x10],
    onRequestDownload: () => undefined,
    onTransferData: (data, { offset }) => {
      writes.push({ offset, length: data.length });
      return produces;
    },
  };
  const { send, reason, server } = await programming(t, {}, download);
  assert.equal(await send('34 10 44 00000000 00000100'), '74200102');
  assert.equal(await send(block(1, 10)), '7601');
  assert.equal(await send(block(2, 10)), '7602');
  produces = undefined;
  assert.equal(await send(block(3, 10)), '7603');
  assert.deepEqual(writes, [{ offset: 0, length: 10 }, { offset: 100, length: 10 }, { offset: 200, length: 10 }]);
  assert.equal(await send('37'), '7f3724');
  assert.equal(reason(), 'only 210 of 256 bytes transferred');
  produces = 46;
  assert.equal(await send(block(4, 1)), '7604');
  assert.equal(await send(block(4, 1)), '7604', 'a repeat, not decoded again');
  assert.equal(writes.length, 4);
  produces = 1;
  assert.equal(await send(block(5, 1)), '7f3671', 'one memory byte past memorySize');
  assert.equal(reason(), 'the data decoded to 257 bytes so far, memorySize is 256');
  assert.equal(server.downloadActive, false);
});
