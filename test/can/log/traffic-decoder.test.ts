import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canFrame } from '../../../src/can/bus/index.ts';
import { DecodeIdsError, TrafficDecoder, VEHICLE_DIAGNOSTIC_IDS } from '../../../src/can/log/traffic-decoder.ts';

const frame = (id: number, hex: string, timestamp = 1) => canFrame({ id, data: Buffer.from(hex, 'hex'), timestamp });

test('notes name ISO-TP PDUs and the UDS message a frame completes', () => {
  const decoder = new TrafficDecoder();
  assert.deepEqual(decoder.describe(frame(0x720, '0322f19000000000')), ['ISO-TP SF len=3', 'UDS ReadDataByIdentifier request f190']);
  assert.deepEqual(decoder.describe(frame(0x728, '037f2278')), ['ISO-TP SF len=3', 'UDS negative response to ReadDataByIdentifier: requestCorrectlyReceivedResponsePending (0x78)']);
  assert.deepEqual(decoder.describe(frame(0x123, '0322f190')), [], 'not a diagnostic id');
  assert.deepEqual(decoder.describe(frame(0x730, '')), ['not ISO-TP (empty frame)']);
});

test('a long TransferData is described by its start and its length; a lost frame is an ISO-TP error', () => {
  const decoder = new TrafficDecoder([0x730, 0x738]);
  const block = Buffer.alloc(100, 0xab);
  const message = Buffer.concat([Buffer.from([0x36, 0x01]), block]);
  const frames = [Buffer.concat([Buffer.from([0x10, message.length]), message.subarray(0, 6)])];
  for (let offset = 6, sn = 1; offset < message.length; offset += 7, sn += 1) {
    frames.push(Buffer.concat([Buffer.from([0x20 | (sn & 0xf)]), message.subarray(offset, offset + 7)]));
  }
  const notes = frames.map((data) => decoder.describe(canFrame({ id: 0x730, data: Buffer.concat([data, Buffer.alloc(8 - data.length, 0xcc)]), timestamp: 1 })));
  const last = notes.at(-1)!;
  assert.match(last[1]!, /^UDS TransferData request 01abab.*… \(102 bytes\)$/);
  assert.ok(last[1]!.length < 140);

  decoder.describe(frame(0x730, '10142ef190000102'));
  assert.deepEqual(decoder.describe(frame(0x730, '2203040506070809')),
    ['ISO-TP CF sn=2', 'N_WRONG_SN: ISO-TP wrong sequence number on 0x730: expected 1, got 2']);
});

test('decode ids parse as hex pairs; anything else is refused', () => {
  assert.deepEqual(TrafficDecoder.parseIdPairs(undefined), [...VEHICLE_DIAGNOSTIC_IDS]);
  assert.deepEqual(TrafficDecoder.parseIdPairs('7E0:7E8,0x7df'), [0x7e0, 0x7e8, 0x7df]);
  assert.throws(() => TrafficDecoder.parseIdPairs('7E0:800'), DecodeIdsError);
  assert.throws(() => TrafficDecoder.parseIdPairs('7E0;7E8'), /not an 11-bit hex id/);
});
