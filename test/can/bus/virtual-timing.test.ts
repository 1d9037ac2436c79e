import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BusClosedError, BusConfigurationError, VirtualBus, VirtualNetwork, busLoadPercent, canFrame, frameDurationSeconds,
  isoTpPayloadLimitBytesPerSecond, nowSeconds, type BusTiming, type CanFrame,
} from '../../../src/can/bus/index.ts';

function nodes(count: number, timing: BusTiming, channel = 'cant'): VirtualBus[] {
  const network = new VirtualNetwork();
  return Array.from({ length: count }, () => new VirtualBus({ channel, network, timing }));
}

test('a sender that waits for each send fills the wire back to back, never ahead of real time', async (t) => {
  const timing: BusTiming = { bitrate: 1_000_000, stuffing: 'none' };
  const [sender, receiver] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const received: CanFrame[] = [];
  let aheadOfRealTime = 0;
  receiver.onFrame((frame) => {
    received.push(frame);
    if (frame.timestamp! > nowSeconds() + 1e-6) aheadOfRealTime += 1;
  });
  const count = 1000;
  const before = sender.wireStatistics()!;
  for (let i = 0; i < count; i += 1) {
    await sender.send(canFrame({ id: 0x7e0, data: [0x21 + (i % 15), 1, 2, 3, 4, 5, 6, 7] }));
  }
  const after = sender.wireStatistics()!;
  assert.equal(received.length, count);
  assert.equal(aheadOfRealTime, 0, 'a frame arrived before the wire could have finished it');

  const duration = frameDurationSeconds(received[0]!, timing);
  // Wire clock: from the end of the first frame to the end of the last, exactly count - 1 frame times
  // when nothing idles the wire in between (a stall of the process longer than 5 ms would show as a gap).
  const span = received.at(-1)!.timestamp! - received[0]!.timestamp!;
  assert.ok(span >= (count - 1) * duration - 1e-6, `frames closer than the wire allows: ${span}`);
  assert.ok(span <= (count - 1) * duration * 1.05, `the wire idled between back-to-back frames: ${span} s`);
  // Payload rate on the wire clock vs the theoretical ISO-TP limit for these frames.
  const rate = (7 * (count - 1)) / span;
  const limit = isoTpPayloadLimitBytesPerSecond({ timing, fd: false, frameDataLength: 8 });
  assert.ok(rate <= limit * 1.0001 && rate >= limit * 0.95, `rate ${rate} vs limit ${limit}`);
  assert.equal(after.frames - before.frames, count);
  assert.ok(busLoadPercent(before, after) > 90, `load ${busLoadPercent(before, after)}`);
});

test('the wire honours the data bit rate of FD frames with BRS', async (t) => {
  const timing: BusTiming = { bitrate: 500_000, dataBitrate: 2_000_000 };
  const [sender, receiver] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const received: CanFrame[] = [];
  receiver.onFrame((frame) => received.push(frame));
  const frames = Array.from({ length: 200 }, (_, i) => canFrame({ id: 0x7e8, fd: true, brs: true, data: new Uint8Array(64).fill(i) }));
  for (const frame of frames) await sender.send(frame);
  const expected = frames.slice(1).reduce((sum, frame) => sum + frameDurationSeconds(frame, timing), 0);
  const span = received.at(-1)!.timestamp! - received[0]!.timestamp!;
  assert.ok(span >= expected - 1e-6 && span <= expected * 1.05, `span ${span} vs ${expected}`);
  assert.ok(sender.wireStatistics()!.stuffBits >= 200 * 7);
});

test('arbitration: the lowest id among waiting nodes wins; each node keeps its own order', async (t) => {
  // 10 kbit/s: a frame lasts about 10 ms, so everything below queues while the first frame is on the wire.
  const [a, b, c, d, e, observer] = nodes(6, { bitrate: 10_000 }) as [VirtualBus, VirtualBus, VirtualBus, VirtualBus, VirtualBus, VirtualBus];
  t.after(() => Promise.all([a, b, c, d, e, observer].map((node) => node.close())));
  const order: string[] = [];
  observer.onFrame((frame) => order.push(`${frame.extended ? 'x' : ''}${frame.remote ? 'r' : ''}${frame.id.toString(16)}`));
  const sends = [
    d.send(canFrame({ id: 0x700, data: [0] })), // alone on an idle bus: goes first whatever its id
    a.send(canFrame({ id: 0x300 })),
    a.send(canFrame({ id: 0x050 })), // behind a's own 0x300 (one transmit FIFO per node)
    b.send(canFrame({ id: 0x200 })),
    c.send(canFrame({ id: 0x100, remote: true, dlc: 2 })),
    d.send(canFrame({ id: 0x100 << 18, extended: true })), // same base id, but SRR/IDE recessive
  ];
  const dataFrame = e.send(canFrame({ id: 0x100 })); // a data frame beats the remote frame with the same id
  await Promise.all([...sends, dataFrame]);
  assert.deepEqual(order, ['700', '100', 'r100', 'x4000000', '200', '300', '50']);
});

test('send resolves only once the frame has left the wire (back-pressure)', async (t) => {
  const [a, b] = nodes(2, { bitrate: 10_000, stuffing: 'none' }) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([a.close(), b.close()]));
  let seenByB = 0;
  b.onFrame(() => { seenByB += 1; });
  const sending = a.send(canFrame({ id: 1, data: new Uint8Array(8) }));
  await new Promise((resolve) => setTimeout(resolve, 2));
  assert.equal(seenByB, 0, 'an 11 ms frame arrived after 2 ms');
  await sending;
  assert.equal(seenByB, 1);
});

test('timing belongs to the channel: a different timing is refused, none joins, an empty channel starts over', async () => {
  const network = new VirtualNetwork();
  const first = new VirtualBus({ channel: 'canb', network, timing: { bitrate: 500_000, dataBitrate: 2_000_000 } });
  assert.throws(() => new VirtualBus({ channel: 'canb', network, timing: { bitrate: 500_000 } }),
    (error: unknown) => error instanceof BusConfigurationError && /runs at 500000\/2000000/.test(error.message));
  const joiner = new VirtualBus({ channel: 'canb', network });
  assert.deepEqual(joiner.timing, first.timing);
  await Promise.all([first.close(), joiner.close()]);

  const untimed = new VirtualBus({ channel: 'canb', network });
  assert.throws(() => new VirtualBus({ channel: 'canb', network, timing: { bitrate: 500_000 } }), /without a timing model/);
  await untimed.close();
  const retimed = new VirtualBus({ channel: 'canb', network, timing: { bitrate: 250_000 } });
  assert.equal(retimed.timing?.bitrate, 250_000);
  await retimed.close();
});

test('closing a node rejects its frames still waiting for the wire', async () => {
  const [a, b] = nodes(2, { bitrate: 10_000 }) as [VirtualBus, VirtualBus];
  const first = a.send(canFrame({ id: 1 }));
  const second = a.send(canFrame({ id: 2 }));
  await new Promise((resolve) => setImmediate(resolve));
  await a.close();
  await assert.rejects(first, BusClosedError);
  await assert.rejects(second, BusClosedError);
  await assert.rejects(a.send(canFrame({ id: 3 })), BusClosedError);
  await b.close();
});

test('bus load counts idle time: a burst followed by silence', async (t) => {
  const timing: BusTiming = { bitrate: 1_000_000, stuffing: 'none' };
  const [a, b] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([a.close(), b.close()]));
  const before = a.wireStatistics()!;
  for (let i = 0; i < 100; i += 1) await a.send(canFrame({ id: 0x10, data: new Uint8Array(8) }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const after = a.wireStatistics()!;
  const busy = after.busySeconds - before.busySeconds;
  assert.ok(Math.abs(busy - 100 * 111e-6) < 1e-9);
  // At least 50 ms of silence after ~11 ms of traffic.
  assert.ok(busLoadPercent(before, after) <= (100 * busy) / (busy + 0.05), `load ${busLoadPercent(before, after)}`);
  assert.ok(busLoadPercent(before, after) > 0);
});
