import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VirtualBus, VirtualNetwork } from '../../../src/can/bus/virtual.ts';
import {
  IsoTpChannel, IsoTpError, IsoTpPayloadError, IsoTpReceiveTimeoutError, IsoTpSequenceError, IsoTpTimeoutError,
  IsoTpUnexpectedPduError, framesForPayload, frameLayout,
} from '../../../src/can/isotp/index.ts';
import { LossyBus, pattern } from './support.ts';
import { errorMessage } from '../../../src/errors/error-message.ts';

const FD_LENGTHS = [8, 12, 16, 20, 24, 32, 48, 64];
const STMINS = [0, 0, 0, 0.1, 0.5, 0.9, 1, 2];

/** Payload sizes weighted towards the small and medium, with a few up to 1 MiB, so a run stays fast. */
const payloadLength = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 70 }), weight: 8 },
  { arbitrary: fc.integer({ min: 71, max: 5000 }), weight: 6 },
  { arbitrary: fc.integer({ min: 5001, max: 70_000 }), weight: 2 },
  { arbitrary: fc.integer({ min: 70_001, max: 1 << 20 }), weight: 1 },
);

const settings = fc.record({
  fd: fc.boolean(),
  dataLength: fc.constantFrom(...FD_LENGTHS),
  txPadding: fc.option(fc.integer({ min: 0, max: 255 })),
  rxPadding: fc.option(fc.integer({ min: 0, max: 255 })),
  blockSize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 255 })),
  stMin: fc.constantFrom(...STMINS),
  extended: fc.boolean(),
});

test('any payload of 0 to 1 MiB round-trips through random BS, STmin, FD and padding settings', async () => {
  await fc.assert(fc.asyncProperty(payloadLength, settings, fc.integer(), async (length, s, seed) => {
    const network = new VirtualNetwork();
    const a = new VirtualBus({ channel: 'p', network });
    const b = new VirtualBus({ channel: 'p', network });
    const layout = frameLayout(s.fd, s.fd ? s.dataLength : 8, s.txPadding);
    // STmin costs real time per frame; keep each run's pacing within ~200 ms.
    const stMin = s.stMin * framesForPayload(layout, length) > 200 ? 0 : s.stMin;
    const sender = new IsoTpChannel(a, {
      txId: 0x123, rxId: 0x456, extended: s.extended, fd: s.fd, dataLength: layout.dataLength, padding: s.txPadding,
    });
    const receiver = new IsoTpChannel(b, {
      txId: 0x456, rxId: 0x123, extended: s.extended, blockSize: s.blockSize, stMin, padding: s.rxPadding,
      maxMessageLength: 1 << 20,
    });
    try {
      const payload = pattern(length, seed);
      if (length === 0) {
        await assert.rejects(sender.send(payload), IsoTpPayloadError);
        return;
      }
      const [, received] = await Promise.all([sender.send(payload), receiver.receive()]);
      assert.equal(received.length, length);
      assert.ok(Buffer.from(received).equals(Buffer.from(payload)), 'payload differs');
    } finally {
      sender.close();
      receiver.close();
      await Promise.all([a.close(), b.close()]);
    }
  }), { numRuns: 60 });
});

test('random frame loss ends in a typed error, never in a wrong payload', async () => {
  let lossyRuns = 0;
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 1, max: 3000 }), settings,
    fc.oneof({ arbitrary: fc.constant(0), weight: 1 }, { arbitrary: fc.double({ min: 0.01, max: 0.3, noNaN: true }), weight: 4 }),
    fc.integer(),
    async (length, s, lossRate, seed) => {
      const network = new VirtualNetwork();
      const timeouts = { nBs: 100, nCr: 100 };
      const a = new LossyBus(network, 'loss', lossRate, seed);
      const b = new LossyBus(network, 'loss', lossRate, seed ^ 0x5a5a5a5a);
      const sender = new IsoTpChannel(a, { txId: 0x700, rxId: 0x708, fd: s.fd, dataLength: s.fd ? s.dataLength : 8, timeouts });
      const receiver = new IsoTpChannel(b, { txId: 0x708, rxId: 0x700, blockSize: s.blockSize, timeouts });
      try {
        const payload = pattern(length, seed);
        const [sent, received] = await Promise.allSettled([sender.send(payload), receiver.receive({ timeoutMs: 150 })]);
        const lost = a.dropped + b.dropped;
        if (lost > 0) lossyRuns += 1;
        if (received.status === 'fulfilled') {
          assert.ok(Buffer.from(received.value).equals(Buffer.from(payload)), 'a wrong payload was delivered');
        } else {
          const error: unknown = received.reason;
          assert.ok(lost > 0, `no frame was lost, yet reception failed: ${errorMessage(error)}`);
          assert.ok(error instanceof IsoTpTimeoutError || error instanceof IsoTpSequenceError
            || error instanceof IsoTpReceiveTimeoutError || error instanceof IsoTpUnexpectedPduError, `untyped failure ${String(error)}`);
        }
        if (sent.status === 'rejected') {
          assert.ok(lost > 0, 'the send failed without loss');
          assert.ok(sent.reason instanceof IsoTpError && sent.reason instanceof IsoTpTimeoutError, String(sent.reason));
        }
      } finally {
        sender.close();
        receiver.close();
        await Promise.all([a.close(), b.close()]);
      }
    },
  ), { numRuns: 60 });
  assert.ok(lossyRuns >= 20, `only ${lossyRuns} runs lost frames; the property was barely exercised`);
});
