import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canFrame } from '../../../src/can/bus/frame.ts';
import { IsoTpObserver, IsoTpSequenceError, IsoTpTimeoutError, IsoTpUnexpectedPduError, describePdu } from '../../../src/can/isotp/index.ts';
import { channelPair, pattern } from './support.ts';

test('the observer reassembles both directions of a pair from the bus, without sending', async (t) => {
  const { tester, ecu, frames, monitorBus } = channelPair(t, { fd: true }, { blockSize: 2 });
  const request = pattern(300, 1);
  const response = pattern(20, 2);
  await Promise.all([tester.send(request), ecu.receive()]);
  await Promise.all([ecu.send(response), tester.receive()]);
  const sentBefore = monitorBus.statistics.framesSent;
  const observer = new IsoTpObserver({ ids: [0x730, 0x738] });
  const messages: [number, Uint8Array][] = [];
  const descriptions: string[] = [];
  for (const frame of frames) {
    const observation = observer.observe(frame);
    assert.ok(observation);
    descriptions.push(describePdu(observation.pdu));
    if (observation.message) messages.push([frame.id, observation.message]);
    assert.equal(observation.error, undefined);
  }
  assert.deepEqual(messages, [[0x730, request], [0x738, response]]);
  assert.equal(descriptions[0], 'FF len=300');
  assert.equal(descriptions[1], 'FC CTS bs=2 st=0ms');
  assert.equal(monitorBus.statistics.framesSent, sentBefore);
  assert.equal(observer.observe(canFrame({ id: 0x123, data: [1] })), null, 'ids not followed are not ISO-TP');
});

test('the observer reports lost frames, interruptions and stale receptions', () => {
  const observer = new IsoTpObserver({ ids: [0x7e8], nCrMs: 100 });
  const at = (timestamp: number, data: number[]) => canFrame({ id: 0x7e8, data, timestamp });
  observer.observe(at(1, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  assert.ok(observer.observe(at(1.01, [0x22, 1, 2, 3, 4, 5, 6, 7]))!.error instanceof IsoTpSequenceError);
  observer.observe(at(2, [0x10, 20, 1, 2, 3, 4, 5, 6]));
  const interrupted = observer.observe(at(2.01, [0x02, 0xaa, 0xbb]))!;
  assert.ok(interrupted.error instanceof IsoTpUnexpectedPduError);
  assert.deepEqual(interrupted.message, Uint8Array.from([0xaa, 0xbb]));
  observer.observe(at(3, [0x10, 9, 1, 2, 3, 4, 5, 6]));
  const late = observer.observe(at(3.5, [0x21, 7, 8, 9]))!;
  assert.ok(late.error instanceof IsoTpTimeoutError);
  assert.equal(late.message, undefined);
});
