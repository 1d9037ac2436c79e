import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import { IsoTpChannel } from '../../../src/can/isotp/index.ts';
import {
  DiagnosticSessionType, NegativeResponseError, RoutineIdentifier, UdsClient, UdsResponseError, UdsServer, UdsTimeoutError,
  UdsTransportError, downloadImage,
} from '../../../src/can/uds/index.ts';
import { pattern, sleep } from '../isotp/support.ts';
import { FilteringBus, bytes, hex, key, testEcu, testerAndEcu } from './support.ts';

test('the flashing sequence of docs/architecture.md, client ↔ server over ISO-TP, classic and FD', async (t) => {
  for (const fd of [false, true]) {
    const { options, log } = testEcu();
    options.download!.maxNumberOfBlockLength = fd ? 4096 : 1026;
    const { client, server, testerBus } = testerAndEcu(t, options, {}, { fd });
    const image = pattern(40_000, fd ? 7 : 8);
    const seen: number[] = [];
    testerBus.onFrame((frame) => { if (frame.data[0] === 0x03 && frame.data[1] === 0x7f) seen.push(frame.data[3]!); });

    assert.equal((await client.diagnosticSessionControl(DiagnosticSessionType.Programming))!.p2StarMs, 5000);
    await client.unlock(0x11, key);
    assert.equal(server.securityLevel, 0x11);
    // Erase takes 250 ms, longer than P2: the server answers 0x78 until it is done.
    assert.deepEqual(await client.startRoutine(RoutineIdentifier.EraseMemory, Uint8Array.of(250)), Uint8Array.of(0));
    assert.ok(seen.filter((nrc) => nrc === 0x78).length >= 2, `expected NRC 0x78 while erasing, saw ${seen.length}`);
    const progress: number[] = [];
    const result = await downloadImage(client, Readable.from([image.subarray(0, 12345), image.subarray(12345)]), {
      memoryAddress: 0, memorySize: image.length, onProgress: (sent) => progress.push(sent),
    });
    assert.equal(result.bytes, image.length);
    assert.equal(result.maxNumberOfBlockLength, fd ? 4096 : 1026);
    assert.equal(result.blocks, Math.ceil(image.length / (result.maxNumberOfBlockLength - 2)));
    assert.deepEqual(result.transferExitRecord, Uint8Array.of(0xc0));
    assert.equal(progress.at(-1), image.length);
    assert.deepEqual(log.flash.subarray(0, image.length), image);
    assert.deepEqual(await client.startRoutine(RoutineIdentifier.CheckProgrammingDependencies), Uint8Array.of(0));
    assert.equal(new TextDecoder().decode(await client.readDataByIdentifier(0xf189)), '2.0.0');
    await client.ecuReset(1);
    await sleep(5);
    assert.deepEqual(log.resets, [1]);
    assert.equal(server.session, DiagnosticSessionType.Default);
    assert.equal(client.keepingAlive, false);
  }
});

test('negative responses carry the NRC code and name; the client stays usable', async (t) => {
  const { client } = testerAndEcu(t, testEcu().options);
  await assert.rejects(client.readDataByIdentifier(0x1234), (error: unknown) =>
    error instanceof NegativeResponseError && error.nrc === 0x31 && error.nrcName === 'requestOutOfRange' && error.sid === 0x22
      && /ReadDataByIdentifier refused: requestOutOfRange \(0x31\)/.test(error.message));
  await assert.rejects(client.requestSeed(1), (error: unknown) => error instanceof NegativeResponseError && error.nrc === 0x7f);
  assert.equal(new TextDecoder().decode(await client.readDataByIdentifier(0xf189)), '2.0.0');
  const records = await client.readDataByIdentifiers([0xf189, 0xf190], { 0xf189: 5, 0xf190: 17 });
  assert.deepEqual(records.map((record) => record.did), [0xf189, 0xf190]);
});

test('P2 and P2* timeouts are typed errors', async (t) => {
  const network = new VirtualNetwork();
  const bus = new VirtualBus({ channel: 'canb', network });
  const channel = new IsoTpChannel(bus, { txId: 0x730, rxId: 0x738 });
  t.after(() => { channel.close(); return bus.close(); });
  const lonely = new UdsClient(channel, { p2Ms: 30 });
  await assert.rejects(lonely.testerPresent(), (error: unknown) => error instanceof UdsTimeoutError && error.timer === 'P2' && error.timeoutMs === 30);
  assert.equal(await lonely.testerPresent({ suppressPositiveResponse: true }), undefined, 'no answer is right for a suppressed request');

  // This ECU repeats NRC 0x78 only every 300 ms, longer than the tester's P2*.
  const { client } = testerAndEcu(t, testEcu({ timing: { responsePendingIntervalMs: 300 } }).options, { p2StarMs: 100, adoptServerTiming: false });
  await client.diagnosticSessionControl(DiagnosticSessionType.Programming);
  await client.unlock(0x11, key);
  await assert.rejects(client.startRoutine(RoutineIdentifier.EraseMemory, Uint8Array.of(250)),
    (error: unknown) => error instanceof UdsTimeoutError && error.timer === 'P2*');
});

test('TesterPresent keep-alive holds a session past S3; without it the ECU falls back to default', async (t) => {
  const { options } = testEcu({ timing: { s3Ms: 250 } });
  const { client, server } = testerAndEcu(t, options, { testerPresentIntervalMs: 40 });
  assert.equal(await client.diagnosticSessionControl(DiagnosticSessionType.ExtendedDiagnostic, { suppressPositiveResponse: true }), null);
  assert.equal(client.keepingAlive, true);
  await sleep(600);
  assert.equal(server.session, DiagnosticSessionType.ExtendedDiagnostic);
  await client.diagnosticSessionControl(DiagnosticSessionType.Default);
  assert.equal(client.keepingAlive, false);

  const quiet = testerAndEcu(t, testEcu({ timing: { s3Ms: 120 } }).options, { testerPresentIntervalMs: 0 });
  await quiet.client.diagnosticSessionControl(DiagnosticSessionType.ExtendedDiagnostic);
  await sleep(250);
  assert.equal(quiet.server.session, DiagnosticSessionType.Default);
});

test('a lost TransferData response: the block is sent again, acknowledged, and written once', async (t) => {
  const { options, log } = testEcu();
  const network = new VirtualNetwork();
  let lose = 2;
  // The tester's receiver misses the first two 0x76 responses.
  const testerBus = new FilteringBus(network, 'canb', (frame) => frame.id === 0x738 && frame.data[1] === 0x76 && lose-- > 0);
  const ecuBus = new VirtualBus({ channel: 'canb', network });
  const channel = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738 });
  const client = new UdsClient(channel, { p2Ms: 60 });
  const server = new UdsServer(options);
  server.listenOnBus(ecuBus, { requestId: 0x730, responseId: 0x738 });
  t.after(async () => { await server.close(); channel.close(); await Promise.all([testerBus.close(), ecuBus.close()]); });
  await client.diagnosticSessionControl(DiagnosticSessionType.Programming);
  await client.unlock(0x11, key);
  const image = pattern(1000, 3);
  const result = await downloadImage(client, image, { memoryAddress: 0x100 });
  assert.equal(testerBus.dropped, 2);
  assert.equal(log.writes.length, result.blocks);
  assert.deepEqual(log.flash.subarray(0, 1000), image, 'written at offsets of the transfer');
});

test('a request during a long handler gets 0x21; functional requests are answered on the physical id', async (t) => {
  const { options } = testEcu();
  const { channel, functional, server } = testerAndEcu(t, options);
  assert.ok(server);
  await channel.send(bytes('10 02'));
  assert.equal(hex(await channel.receive()), '5002003201f4');
  const seedMessage = bytes('27 11');
  await channel.send(seedMessage);
  const seed = (await channel.receive()).subarray(2);
  await channel.send(Uint8Array.of(0x27, 0x12, ...key(seed)));
  assert.equal(hex(await channel.receive()), '6712');
  await channel.send(bytes('31 01 ff00 c8'));
  await sleep(5);
  await channel.send(bytes('22 f189'));
  await functional.send(bytes('3e 80'));
  const answers: string[] = [];
  for (;;) {
    const answer = hex(await channel.receive());
    answers.push(answer);
    if (answer.startsWith('71')) break;
  }
  assert.equal(answers[0], '7f2221');
  assert.ok(answers.includes('7f3178'));
  assert.equal(answers.at(-1), '7101ff0000');
  await functional.send(bytes('3e 00'));
  assert.equal(hex(await channel.receive()), '7e00');
  await functional.send(bytes('22 9999'));
  await assert.rejects(channel.receive({ timeoutMs: 100 }), /no ISO-TP message/, 'functional 0x31 is suppressed');
});

test('the client refuses responses that do not match the request', async (t) => {
  const network = new VirtualNetwork();
  const testerBus = new VirtualBus({ channel: 'canb', network });
  const fakeBus = new VirtualBus({ channel: 'canb', network });
  const channel = new IsoTpChannel(testerBus, { txId: 0x730, rxId: 0x738 });
  const fake = new IsoTpChannel(fakeBus, { txId: 0x738, rxId: 0x730 });
  t.after(async () => { channel.close(); fake.close(); await Promise.all([testerBus.close(), fakeBus.close()]); });
  const client = new UdsClient(channel);
  const answers = ['6201', '7f1031', '7f22', '62f18a00'];
  void (async () => {
    for (const answer of answers) {
      await fake.receive();
      await fake.send(bytes(answer));
    }
  })();
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsResponseError);
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsResponseError);
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsResponseError);
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsResponseError);
  fake.close();
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsTimeoutError);
  channel.close();
  await assert.rejects(client.readDataByIdentifier(0xf189), UdsTransportError);
});
