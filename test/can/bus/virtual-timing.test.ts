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

test('frames queued together go out back to back on the wire clock, never ahead of real time', async (t) => {
  const timing: BusTiming = { bitrate: 250_000, stuffing: 'none' };
  const [sender, receiver] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const received: CanFrame[] = [];
  let aheadOfRealTime = 0;
  receiver.onFrame((frame) => {
    received.push(frame);
    if (frame.timestamp! > nowSeconds() + 1e-6) aheadOfRealTime += 1;
  });
  const count = 300;
  const frames = Array.from({ length: count }, (_, i) => canFrame({ id: 0x7e0, data: [0x21 + (i % 15), 1, 2, 3, 4, 5, 6, 7] }));
  const before = sender.wireStatistics()!;
  await Promise.all(frames.map((frame) => sender.send(frame)));
  const after = sender.wireStatistics()!;
  assert.equal(received.length, count);
  assert.equal(aheadOfRealTime, 0, 'a frame arrived before the wire could have finished it');

  const duration = frameDurationSeconds(received[0]!, timing);
  for (let i = 1; i < count; i += 1) {
    const gap = received[i]!.timestamp! - received[i - 1]!.timestamp!;
    assert.ok(Math.abs(gap - duration) < 1e-6, `frame ${i} ended ${gap} s after the previous one, not ${duration}`);
  }
  // Payload rate on the wire clock equals the theoretical ISO-TP limit for these frames ...
  const span = received.at(-1)!.timestamp! - received[0]!.timestamp!;
  const limit = isoTpPayloadLimitBytesPerSecond({ timing, fd: false, frameDataLength: 8 });
  // (Epoch timestamps near 1.8e9 s resolve to about 0.2 µs.)
  assert.ok(Math.abs((7 * (count - 1)) / span - limit) < limit * 1e-4, `${(7 * (count - 1)) / span} vs ${limit}`);
  // ... and on the model's clock the frames take exactly `count` frame times from the first one's start: the
  // wire never beats its bit rate. (Not asserted on the wall clock: after a stall the wire may catch up on up
  // to 50 ms of lag, documented in wire.ts, so real time can legitimately be shorter than wire time.)
  const wireSpan = received.at(-1)!.timestamp! - (received[0]!.timestamp! - duration);
  assert.ok(Math.abs(wireSpan - count * duration) < 1e-6, `${count} frames in ${wireSpan} s of wire time`);
  assert.equal(after.frames - before.frames, count);
  assert.ok(Math.abs(after.busySeconds - before.busySeconds - count * duration) < 1e-9);
  // Load from the first frame's start to the last one's end (the read of `after` may come late).
  const load = (after.busySeconds - before.busySeconds) / (after.lastFrameEndSeconds - before.elapsedSeconds);
  assert.ok(Math.abs(load - 1) < 1e-6, `load ${load}`);
});

test('a sender that awaits each send keeps the wire busy: its next frame is queued when the last one ended', async (t) => {
  const timing: BusTiming = { bitrate: 500_000, stuffing: 'none' };
  const [sender, receiver] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const received: Array<{ frame: CanFrame; lateness: number }> = [];
  // How long after its end on the wire the process got to deliver each frame (timers fire late on a busy machine).
  receiver.onFrame((frame) => received.push({ frame, lateness: nowSeconds() - frame.timestamp! }));
  const count = 500;
  for (let i = 0; i < count; i += 1) await sender.send(canFrame({ id: 0x7e0, data: [0x21 + (i % 15), 1, 2, 3, 4, 5, 6, 7] }));
  const duration = frameDurationSeconds(received[0]!.frame, timing);
  let backToBack = 0;
  for (let i = 1; i < count; i += 1) {
    const gap = received[i]!.frame.timestamp! - received[i - 1]!.frame.timestamp!;
    assert.ok(gap >= duration - 1e-6, `frames closer than the wire allows: ${gap}`);
    // The wire stays busy unless the process got to the previous frame more than its 50 ms lag
    // allowance late (a stall); then the wire shows idle time, as a real bus would.
    if (received[i - 1]!.lateness < 0.04) {
      assert.ok(gap <= duration + 1e-6, `frame ${i}: the wire idled ${gap - duration} s after a frame delivered ${received[i - 1]!.lateness} s late`);
    }
    if (gap <= duration + 1e-6) backToBack += 1;
  }
  assert.ok(backToBack > 0);
});

test('the wire honours the data bit rate of FD frames with BRS', async (t) => {
  const timing: BusTiming = { bitrate: 500_000, dataBitrate: 2_000_000 };
  const [sender, receiver] = nodes(2, timing) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([sender.close(), receiver.close()]));
  const received: CanFrame[] = [];
  receiver.onFrame((frame) => received.push(frame));
  const frames = Array.from({ length: 200 }, (_, i) => canFrame({ id: 0x7e8, fd: true, brs: true, data: new Uint8Array(64).fill(i) }));
  await Promise.all(frames.map((frame) => sender.send(frame)));
  const expected = frames.slice(1).reduce((sum, frame) => sum + frameDurationSeconds(frame, timing), 0);
  const span = received.at(-1)!.timestamp! - received[0]!.timestamp!;
  assert.ok(Math.abs(span - expected) < 1e-6, `span ${span} vs ${expected}`);
  assert.ok(sender.wireStatistics()!.stuffBits >= 200 * 7);
});

test('arbitration: the lowest id among waiting nodes wins; each node keeps its own order', async (t) => {
  // 10 kbit/s: a frame lasts about 10 ms, so everything below queues while the first frame is on the wire.
  const [a, b, c, d, e, observer] = nodes(6, { bitrate: 10_000 }) as [VirtualBus, VirtualBus, VirtualBus, VirtualBus, VirtualBus, VirtualBus];
  t.after(() => Promise.all([a, b, c, d, e, observer].map((node) => node.close())));
  const order: string[] = [];
  observer.onFrame((frame) => order.push(`${frame.extended ? 'x' : ''}${frame.remote ? 'r' : ''}${frame.id.toString(16)}`));
  const first = d.send(canFrame({ id: 0x700, data: [0] })); // alone on an idle bus: goes first whatever its id
  await new Promise((resolve) => setImmediate(resolve));
  // Everything below is queued in one turn of the event loop, while 0x700 is on the wire.
  const sends = [
    first,
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
  // 1 kbit/s: the 111-bit frame lasts 111 ms.
  const [a, b] = nodes(2, { bitrate: 1_000, stuffing: 'none' }) as [VirtualBus, VirtualBus];
  t.after(() => Promise.all([a.close(), b.close()]));
  let seenByB = 0;
  b.onFrame(() => { seenByB += 1; });
  const started = performance.now();
  const sending = a.send(canFrame({ id: 1, data: new Uint8Array(8) }));
  await new Promise((resolve) => setTimeout(resolve, 2));
  assert.equal(seenByB, 0, 'a 111 ms frame arrived after 2 ms');
  await sending;
  assert.equal(seenByB, 1);
  assert.ok(performance.now() - started >= 111 - 1, `sent after ${performance.now() - started} ms`);
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
  // 100 bit/s: the first frame would take half a second.
  const [a, b] = nodes(2, { bitrate: 100 }) as [VirtualBus, VirtualBus];
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
  await new Promise((resolve) => setTimeout(resolve, 200));
  const after = a.wireStatistics()!;
  const busy = after.busySeconds - before.busySeconds;
  assert.ok(Math.abs(busy - 100 * 111e-6) < 1e-9);
  // At least 200 ms of silence after ~11 ms of traffic; wire time may lag real time by up to 50 ms.
  assert.ok(busLoadPercent(before, after) <= (100 * busy) / (busy + 0.15), `load ${busLoadPercent(before, after)}`);
  assert.ok(busLoadPercent(before, after) > 0);
});
