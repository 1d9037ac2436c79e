import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canFrame, type CanFrame } from '../../../src/can/bus/frame.ts';
import { frameDurationSeconds } from '../../../src/can/bus/timing.ts';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import {
  IsoTpChannel, IsoTpChannelClosedError, IsoTpConfigurationError, IsoTpError, IsoTpInvalidFlowStatusError,
  IsoTpOverflowError, IsoTpPayloadError, IsoTpReceiveTimeoutError, IsoTpSequenceError, IsoTpTimeoutError,
  IsoTpUnexpectedPduError, IsoTpWaitLimitError, decodePdu, type IsoTpPdu,
} from '../../../src/can/isotp/index.ts';
import { StalledBus, channelPair, pattern, settle, sleep } from './support.ts';

const pdus = (frames: CanFrame[], id: number): IsoTpPdu[] => frames.filter((f) => f.id === id).map((f) => decodePdu(f.data));
const raw = (id: number, bytes: number[]) => canFrame({ id, data: bytes });

test('round trip in both frame formats across the SF/FF and 12/32-bit length boundaries', async (t) => {
  for (const fd of [false, true]) {
    const { tester, ecu } = channelPair(t, { fd }, { fd });
    for (const length of [1, 7, 8, 61, 62, 63, 64, 127, 4095, 4096, 70_000]) {
      const payload = pattern(length, length);
      const [, received] = await Promise.all([tester.send(payload), ecu.receive()]);
      assert.deepEqual(received, payload, `fd=${fd} length=${length}`);
    }
  }
});

test('29-bit ids and a peer that pads with another byte', async (t) => {
  const { tester, ecu, frames } = channelPair(t, { extended: true, padding: 0x55 }, { extended: true, padding: null });
  const payload = pattern(30);
  await Promise.all([tester.send(payload), ecu.receive().then((m) => assert.deepEqual(m, payload))]);
  assert.ok(frames.every((f) => f.extended));
  assert.equal(frames.filter((f) => f.id === 0x730).at(-1)!.data.at(-1), 0x55, 'last CF padded with 0x55');
  assert.equal(frames.find((f) => f.id === 0x738)!.data.length, 3, 'unpadded FC is 3 bytes');
});

test('the sender honours the receiver\'s block size: one FC per BS consecutive frames', async (t) => {
  const { tester, ecu, frames } = channelPair(t, {}, { blockSize: 4 });
  const payload = pattern(6 + 7 * 10);
  await Promise.all([tester.send(payload), ecu.receive()]);
  const sequence = frames.map((f) => decodePdu(f.data).type).join(' ');
  assert.equal(sequence, 'FF FC CF CF CF CF FC CF CF CF CF FC CF CF');
});

test('sequence numbers wrap 15 → 0', async (t) => {
  const { tester, ecu, frames } = channelPair(t);
  await Promise.all([tester.send(pattern(6 + 7 * 20)), ecu.receive()]);
  const sequence = pdus(frames, 0x730).flatMap((p) => (p.type === 'CF' ? [p.sequence] : []));
  assert.deepEqual(sequence, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4]);
});

test('STmin in milliseconds and in 100 µs steps separates consecutive frames', async (t) => {
  for (const stMin of [3, 0.5]) {
    const { tester, ecu, frames } = channelPair(t, {}, { stMin });
    await Promise.all([tester.send(pattern(6 + 7 * 12)), ecu.receive()]);
    const times = frames.filter((f) => f.id === 0x730 && f.data[0]! >> 4 === 2).map((f) => f.timestamp!);
    assert.equal(times.length, 12);
    for (let i = 1; i < times.length; i += 1) {
      assert.ok((times[i]! - times[i - 1]!) * 1000 >= stMin - 0.01, `gap ${i} ${((times[i]! - times[i - 1]!) * 1000).toFixed(3)} ms < ${stMin}`);
    }
  }
});

test('full duplex: both directions of one pair transfer at once', async (t) => {
  const { tester, ecu } = channelPair(t, { blockSize: 3 }, { blockSize: 5 });
  const up = pattern(10_000, 1);
  const down = pattern(9_000, 2);
  const [, , fromTester, fromEcu] = await Promise.all([tester.send(up), ecu.send(down), ecu.receive(), tester.receive()]);
  assert.deepEqual(fromTester, up);
  assert.deepEqual(fromEcu, down);
});

test('many channels share one bus', async (t) => {
  const { network } = channelPair(t);
  const left = new VirtualBus({ channel: 'many', network });
  const right = new VirtualBus({ channel: 'many', network });
  t.after(() => Promise.all([left.close(), right.close()]));
  const pairs = Array.from({ length: 24 }, (_, i) => [
    new IsoTpChannel(left, { txId: 0x100 + i, rxId: 0x200 + i, fd: i % 2 === 0 }),
    new IsoTpChannel(right, { txId: 0x200 + i, rxId: 0x100 + i, blockSize: i % 5 }),
  ] as const);
  await Promise.all(pairs.map(async ([a, b], i) => {
    const there = pattern(500 + i * 37, i + 1);
    const back = pattern(300 + i * 11, i + 100);
    const [, , gotThere, gotBack] = await Promise.all([a.send(there), b.send(back), b.receive(), a.receive()]);
    assert.deepEqual(gotThere, there);
    assert.deepEqual(gotBack, back);
  }));
  assert.throws(() => new IsoTpChannel(left, { txId: 0x300, rxId: 0x200 }), IsoTpConfigurationError, 'rx id already in use');
  for (const [a, b] of pairs) { a.close(); b.close(); }
});

test('a receiver refuses an oversize message with FC.OVFLW; both ends get IsoTpOverflowError', async (t) => {
  const { tester, ecu, frames } = channelPair(t, {}, { maxMessageLength: 100 });
  const receiving = assert.rejects(ecu.receive(), IsoTpOverflowError);
  await assert.rejects(tester.send(pattern(101)), (error: unknown) => error instanceof IsoTpOverflowError && error.result === 'N_BUFFER_OVFLW');
  await receiving;
  assert.deepEqual(pdus(frames, 0x738).map((p) => p.type === 'FC' && p.status), [2]);
  await Promise.all([tester.send(pattern(100)), ecu.receive()]);
});

test('a full receive queue holds the sender back with FC.WAIT until the application reads (back-pressure)', async (t) => {
  const { tester, ecu, frames } = channelPair(t, {}, { receiveQueueLimit: 1, waitFrameIntervalMs: 10, maxWaitFrames: 50 });
  await tester.send(pattern(5, 1));
  const second = pattern(400, 2);
  const sending = tester.send(second);
  const waitFrames = () => pdus(frames, 0x738).filter((p) => p.type === 'FC' && p.status === 1).length;
  for (let waited = 0; waitFrames() < 2 && waited < 2000; waited += 5) await sleep(5);
  const waits = waitFrames();
  assert.ok(waits >= 2, `expected repeated FC.WAIT, saw ${waits}`);
  assert.equal(ecu.pending, 1, 'the second message is not buffered while the queue is full');
  assert.deepEqual(await ecu.receive(), pattern(5, 1));
  await sending;
  assert.deepEqual(await ecu.receive(), second);
});

test('a receiver whose queue stays full gives up after N_WFTmax FC.WAIT with FC.OVFLW', async (t) => {
  const { tester, ecu, frames } = channelPair(t, {}, { receiveQueueLimit: 1, waitFrameIntervalMs: 5, maxWaitFrames: 3 });
  await tester.send(pattern(5));
  await assert.rejects(tester.send(pattern(50)), IsoTpOverflowError);
  const statuses = pdus(frames, 0x738).map((p) => p.type === 'FC' && p.status);
  assert.deepEqual(statuses, [1, 1, 1, 2]);
  assert.equal(ecu.statistics.refusedMessages, 1);
});

test('a sender gives up after more FC.WAIT than N_WFTmax', async (t) => {
  const { tester, ecu, ecuBus } = channelPair(t, { maxWaitFrames: 2 });
  ecu.close();
  // A hand-driven peer that answers the FF with FC.WAIT forever.
  ecuBus.onFrame((frame) => {
    if (frame.id === 0x730 && frame.data[0] === 0x10) {
      for (let i = 0; i < 3; i += 1) void ecuBus.send(raw(0x738, [0x31, 0, 0]));
    }
  });
  await assert.rejects(tester.send(pattern(20)), (error: unknown) => error instanceof IsoTpWaitLimitError && error.result === 'N_WFT_OVRN');
});

test('a flow control with a reserved flow status aborts the send', async (t) => {
  const { tester, ecu, ecuBus } = channelPair(t);
  ecu.close();
  ecuBus.onFrame((frame) => {
    if (frame.id === 0x730 && frame.data[0]! >> 4 === 1) void ecuBus.send(raw(0x738, [0x35, 0, 0]));
  });
  await assert.rejects(tester.send(pattern(20)), IsoTpInvalidFlowStatusError);
});

test('N_Bs: no flow control after the first frame; the channel then recovers', async (t) => {
  const { tester, ecu, ecuBus } = channelPair(t, { timeouts: { nBs: 40 } });
  ecu.close();
  const started = performance.now();
  await assert.rejects(tester.send(pattern(20, 9)), (error: unknown) =>
    error instanceof IsoTpTimeoutError && error.timer === 'N_Bs' && error.result === 'N_TIMEOUT_Bs');
  assert.ok(performance.now() - started >= 39);
  const again = new IsoTpChannel(ecuBus, { txId: 0x738, rxId: 0x730 });
  t.after(() => again.close());
  await Promise.all([tester.send(pattern(20, 9)), again.receive().then((m) => assert.deepEqual(m, pattern(20, 9)))]);
});

test('N_Cr: consecutive frames stop coming; wrong sequence number; interrupted reception', async (t) => {
  const { ecu, testerBus } = channelPair(t, {}, { timeouts: { nCr: 40 } });
  await testerBus.send(raw(0x730, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  await assert.rejects(ecu.receive(), (error: unknown) => error instanceof IsoTpTimeoutError && error.timer === 'N_Cr');

  await testerBus.send(raw(0x730, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  await testerBus.send(raw(0x730, [0x22, 7, 8, 9, 10, 11, 12, 13]));
  await assert.rejects(ecu.receive(), (error: unknown) => error instanceof IsoTpSequenceError && error.result === 'N_WRONG_SN');

  await testerBus.send(raw(0x730, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  await testerBus.send(raw(0x730, [0x21, 7, 8, 9, 10, 11, 12, 13]));
  await testerBus.send(raw(0x730, [0x02, 0xaa, 0xbb]));
  await assert.rejects(ecu.receive(), IsoTpUnexpectedPduError);
  assert.deepEqual(await ecu.receive(), Uint8Array.from([0xaa, 0xbb]));
  // Stray CFs and FCs outside a transfer are ignored.
  await testerBus.send(raw(0x730, [0x21, 1, 2, 3, 4, 5, 6, 7]));
  await testerBus.send(raw(0x730, [0x30, 0, 0]));
  await settle();
  assert.equal(ecu.pending, 0);
});

test('N_As and N_Ar: a bus that never transmits', async (t) => {
  const bus = new StalledBus();
  const channel = new IsoTpChannel(bus, { txId: 0x730, rxId: 0x738, timeouts: { nAs: 30, nAr: 30 } });
  t.after(() => { channel.close(); return bus.close(); });
  await assert.rejects(channel.send(pattern(3)), (error: unknown) => error instanceof IsoTpTimeoutError && error.timer === 'N_As');
  await assert.rejects(channel.send(pattern(300)), (error: unknown) => error instanceof IsoTpTimeoutError && error.timer === 'N_As');
  bus.inject(raw(0x738, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  await assert.rejects(channel.receive(), (error: unknown) => error instanceof IsoTpTimeoutError && error.timer === 'N_Ar');
});

test('receive timeout counts until a message starts, not until it ends', async (t) => {
  const { ecu, testerBus } = channelPair(t);
  await assert.rejects(ecu.receive({ timeoutMs: 20 }), IsoTpReceiveTimeoutError);
  const receiving = ecu.receive({ timeoutMs: 30 });
  await testerBus.send(raw(0x730, [0x10, 10, 1, 2, 3, 4, 5, 6]));
  await sleep(60);
  await testerBus.send(raw(0x730, [0x21, 7, 8, 9, 10, 0xcc, 0xcc, 0xcc]));
  assert.deepEqual(await receiving, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  const controller = new AbortController();
  const aborted = ecu.receive({ signal: controller.signal });
  controller.abort(new Error('stop'));
  await assert.rejects(aborted, /stop/);
});

test('functional addressing: single frames only, no flow control', async (t) => {
  const { network, frames } = channelPair(t);
  const testerBus = new VirtualBus({ channel: 'test', network });
  const ecuBus = new VirtualBus({ channel: 'test', network });
  t.after(() => Promise.all([testerBus.close(), ecuBus.close()]));
  const broadcast = new IsoTpChannel(testerBus, { txId: 0x7df, rxId: 0x7de, functional: true });
  const listener = new IsoTpChannel(ecuBus, { txId: 0x7e8, rxId: 0x7df, functional: true });
  const second = new IsoTpChannel(ecuBus, { txId: 0x7e9, rxId: 0x7df, functional: true });
  await broadcast.send(Uint8Array.from([0x3e, 0x80]));
  assert.deepEqual(await listener.receive(), Uint8Array.from([0x3e, 0x80]));
  assert.deepEqual(await second.receive(), Uint8Array.from([0x3e, 0x80]), 'functional receivers may share an id');
  await assert.rejects(broadcast.send(pattern(8)), IsoTpPayloadError);
  await testerBus.send(raw(0x7df, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  await settle();
  assert.equal(listener.pending, 0);
  assert.equal(frames.filter((f) => f.id === 0x7e8).length, 0, 'no FC on a functional id');
  for (const channel of [broadcast, listener, second]) channel.close();
});

test('bad payloads and options are refused with typed errors', async (t) => {
  const { tester } = channelPair(t);
  await assert.rejects(tester.send(new Uint8Array(0)), (error: unknown) => error instanceof IsoTpPayloadError && error instanceof IsoTpError);
  const bus = new StalledBus();
  t.after(() => bus.close());
  const bad: object[] = [
    { txId: 0x800, rxId: 0x7e8 }, { txId: 0x7e0, rxId: 0x7e0 }, { txId: 1, rxId: 2, blockSize: 256 },
    { txId: 1, rxId: 2, stMin: 0.25 }, { txId: 1, rxId: 2, dataLength: 64 }, { txId: 1, rxId: 2, timeouts: { nCr: 0 } },
    { txId: 1, rxId: 2, padding: -1 },
  ];
  for (const options of bad) {
    assert.throws(() => new IsoTpChannel(bus, options as never), IsoTpConfigurationError, JSON.stringify(options));
  }
});

test('close rejects waiting receives and ends async iteration', async (t) => {
  const { tester, ecu } = channelPair(t);
  const seen: Uint8Array[] = [];
  const iterating = (async () => { for await (const message of ecu) seen.push(message); })();
  await tester.send(pattern(3, 1));
  await tester.send(pattern(30, 2));
  await settle();
  ecu.close();
  await iterating;
  assert.deepEqual(seen, [pattern(3, 1), pattern(30, 2)]);
  await assert.rejects(ecu.receive(), IsoTpChannelClosedError);
  await assert.rejects(ecu.send(pattern(3)), IsoTpChannelClosedError);
  const pending = tester.receive();
  const sends = [tester.send(pattern(5000, 1)), tester.send(pattern(3, 2)), tester.send(pattern(3, 3))];
  tester.close();
  await assert.rejects(pending, IsoTpChannelClosedError);
  for (const send of sends) await assert.rejects(send, IsoTpChannelClosedError, 'queued sends fail too');
});

test('on the timed virtual bus (arbitration, real frame times), full-duplex transfers with block sizes arrive intact', async (t) => {
  for (const timing of [{ bitrate: 500_000 }, { bitrate: 500_000, dataBitrate: 2_000_000 }]) {
    const network = new VirtualNetwork();
    const left = new VirtualBus({ channel: 'timed', network, timing });
    const right = new VirtualBus({ channel: 'timed', network, timing });
    const fd = timing.dataBitrate !== undefined;
    const a = new IsoTpChannel(left, { txId: 0x730, rxId: 0x738, fd, blockSize: 4 });
    const b = new IsoTpChannel(right, { txId: 0x738, rxId: 0x730, fd, blockSize: 0, stMin: 0.5 });
    t.after(async () => { a.close(); b.close(); await Promise.all([left.close(), right.close()]); });
    const up = pattern(fd ? 6000 : 1500, 1);
    const down = pattern(fd ? 5000 : 1200, 2);
    const busy = { seconds: 0 };
    left.onTraffic((frame, direction) => { if (direction === 'tx') busy.seconds += frameDurationSeconds(frame, timing); });
    right.onTraffic((frame, direction) => { if (direction === 'tx') busy.seconds += frameDurationSeconds(frame, timing); });
    const started = performance.now();
    const [, , gotUp, gotDown] = await Promise.all([a.send(up), b.send(down), b.receive(), a.receive()]);
    const elapsed = (performance.now() - started) / 1000;
    assert.deepEqual(gotUp, up);
    assert.deepEqual(gotDown, down);
    // A wire carries one frame at a time: the exchange cannot be faster than its frames back to back.
    assert.ok(elapsed >= busy.seconds * 0.99, `${elapsed.toFixed(4)} s for ${busy.seconds.toFixed(4)} s of frames`);
  }
});
