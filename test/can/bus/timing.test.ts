import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  BusLoadMeter, InvalidTimingError, busTiming, canFrame, crc15, frameBitLength, frameBits, frameDurationSeconds,
  isoTpPayloadLimitBytesPerSecond, FD_LENGTHS, type CanFrame,
} from '../../../src/can/bus/index.ts';

const bin = (value: number, width: number) => value.toString(2).padStart(width, '0');
const bytesToBits = (data: Uint8Array) => [...data].map((byte) => bin(byte, 8)).join('');

/** Oracle: the frame's unstuffed bits from SOF to the end of the data field, written out from ISO 11898-1's field list. */
function headerAndData(frame: CanFrame): { bits: string; arbitration: number } {
  const id = frame.extended ? `${bin(frame.id >>> 18, 11)}11${bin(frame.id & 0x3ffff, 18)}` : bin(frame.id, 11);
  if (frame.fd) {
    const arbitration = `0${id}0${frame.extended ? '' : '0'}10${frame.brs ? 1 : 0}`;
    const dlc = bin(FD_LENGTHS.indexOf(frame.data.length), 4);
    return { bits: `${arbitration}${frame.esi ? 1 : 0}${dlc}${bytesToBits(frame.data)}`, arbitration: arbitration.length };
  }
  const control = `${frame.remote ? 1 : 0}00${bin(frame.dlc, 4)}`;
  const bits = `0${id}${control}${bytesToBits(frame.data)}`;
  return { bits, arbitration: bits.length - 8 * frame.data.length };
}

/** Oracle: stuff a bit string (insert the complement after five equal bits; the stuff bit starts the next run). */
function stuff(bits: string, dropTrailing = false): string {
  let out = '';
  let run = 0;
  let last = '';
  for (let index = 0; index < bits.length; index += 1) {
    const bit = bits[index]!;
    out += bit;
    run = bit === last ? run + 1 : 1;
    last = bit;
    if (run === 5 && !(dropTrailing && index === bits.length - 1)) {
      last = bit === '0' ? '1' : '0';
      out += last;
      run = 1;
    }
  }
  return out;
}

const assertClose = (actual: number, expected: number) =>
  assert.ok(Math.abs(actual - expected) <= 1e-12 * Math.max(1, Math.abs(expected)), `${actual} != ${expected}`);

const toBitArray = (bits: string) => Uint8Array.from(bits, (c) => Number(c));

const arbitraryFrame = fc.oneof(
  fc.record({
    id: fc.integer({ min: 0, max: 0x7ff }), extended: fc.constant(false), data: fc.uint8Array({ maxLength: 8 }),
  }).map((init) => canFrame(init)),
  fc.record({
    id: fc.integer({ min: 0, max: 0x1fffffff }), extended: fc.constant(true), data: fc.uint8Array({ maxLength: 8 }),
  }).map((init) => canFrame(init)),
  fc.record({
    id: fc.integer({ min: 0, max: 0x7ff }), extended: fc.boolean(), dlc: fc.integer({ min: 0, max: 8 }),
  }).map((init) => canFrame({ ...init, remote: true })),
  fc.record({
    id: fc.integer({ min: 0, max: 0x7ff }), extended: fc.boolean(), brs: fc.boolean(), esi: fc.boolean(),
    length: fc.constantFrom(...FD_LENGTHS), fill: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  }).map(({ length, fill, ...init }) => canFrame({ ...init, fd: true, data: fill.subarray(0, length) })),
);

test('classic frame lengths before stuffing: 8-byte 11-bit is 111 bits, 29-bit 131, each data byte 8 more', () => {
  assert.equal(frameBitLength(canFrame({ id: 0x123, data: new Uint8Array(8) }), 'none'), 111);
  assert.equal(frameBitLength(canFrame({ id: 0x123, extended: true, data: new Uint8Array(8) }), 'none'), 131);
  assert.equal(frameBitLength(canFrame({ id: 0x123 }), 'none'), 47);
  assert.equal(frameBitLength(canFrame({ id: 0x123, data: [1, 2, 3] }), 'none'), 47 + 24);
  // A remote frame carries its DLC but no data field.
  assert.equal(frameBitLength(canFrame({ id: 0x123, remote: true, dlc: 8 }), 'none'), 47);
  // Error flag, delimiter, intermission.
  assert.equal(frameBitLength(canFrame({ id: 0x004, error: true, data: new Uint8Array(8) })), 17);
});

test('worst-case stuffing is one bit per four after the first, over SOF..CRC (classic)', () => {
  // 34 + 64 stuffed bits → floor(97 / 4) = 24 stuff bits: the textbook 135-bit worst case.
  assert.equal(frameBitLength(canFrame({ id: 0x123, data: new Uint8Array(8) }), 'worst-case'), 135);
  assert.equal(frameBitLength(canFrame({ id: 0x123, extended: true, data: new Uint8Array(8) }), 'worst-case'), 131 + 29);
});

test('CRC-15/CAN matches the catalogue check value for "123456789"', () => {
  assert.equal(crc15(toBitArray(bytesToBits(new TextEncoder().encode('123456789')))), 0x059e);
});

test('exact stuffing of an all-zero frame: 34 zero bits (CRC 0) get a stuff bit after every five', () => {
  const bits = frameBits(canFrame({ id: 0 }));
  assert.equal(bits.stuffBits, 6);
  assert.equal(bits.totalBits, 47 + 6);
});

test('exact classic stuffing equals the stuffed bit sequence of SOF..CRC, never above the worst case', () => {
  fc.assert(fc.property(arbitraryFrame.filter((frame) => !frame.fd), (frame) => {
    const { bits } = headerAndData(frame);
    const withCrc = bits + bin(crc15(toBitArray(bits)), 15);
    const stuffed = stuff(withCrc);
    assert.doesNotMatch(stuffed, /000000|111111/);
    const exact = frameBits(frame);
    assert.equal(exact.stuffBits, stuffed.length - withCrc.length);
    assert.equal(exact.totalBits, stuffed.length + 13);
    assert.ok(exact.totalBits <= frameBitLength(frame, 'worst-case'));
    assert.ok(exact.totalBits >= frameBitLength(frame, 'none'));
  }), { numRuns: 500 });
});

test('FD frames: dynamic stuffing to the end of data, stuff count, CRC-17/21 with 6/7 fixed stuff bits', () => {
  // 64 bytes, 11-bit, BRS: SOF..BRS = 17 bits and the ACK/EOF/IFS tail = 12 at the nominal rate;
  // ESI, DLC, 512 data bits, stuff count 4, CRC 21, 7 fixed stuff bits, CRC delimiter = 550 at the data rate.
  assert.deepEqual(frameBits(canFrame({ id: 0x123, fd: true, brs: true, data: new Uint8Array(64) }), 'none'),
    { nominalBits: 29, dataPhaseBits: 550, stuffBits: 7, totalBits: 579 });
  // 16 bytes still use CRC-17 (6 fixed stuff bits), 20 bytes CRC-21.
  assert.equal(frameBitLength(canFrame({ id: 1, fd: true, data: new Uint8Array(16) }), 'none'), 22 + 128 + 4 + 17 + 6 + 1 + 12);
  assert.equal(frameBitLength(canFrame({ id: 1, fd: true, data: new Uint8Array(20) }), 'none'), 22 + 160 + 4 + 21 + 7 + 1 + 12);
  assert.equal(frameBitLength(canFrame({ id: 1, fd: true, extended: true, data: new Uint8Array(20) }), 'none'), 41 + 160 + 4 + 21 + 7 + 1 + 12);
  // Without BRS everything is at the nominal rate.
  const slow = frameBits(canFrame({ id: 0x123, fd: true, data: new Uint8Array(64) }), 'none');
  assert.equal(slow.dataPhaseBits, 0);
  assert.equal(slow.nominalBits, 579);
});

test('exact FD stuffing matches the oracle; a stuff bit due right after the data field is the fixed stuff bit', () => {
  fc.assert(fc.property(arbitraryFrame.filter((frame) => frame.fd), (frame) => {
    const { bits, arbitration } = headerAndData(frame);
    const crcField = 4 + (frame.data.length > 16 ? 21 : 17);
    const fixed = frame.data.length > 16 ? 7 : 6;
    const stuffed = stuff(bits, true);
    const dynamic = stuffed.length - bits.length;
    const exact = frameBits(frame);
    assert.equal(exact.stuffBits, dynamic + fixed);
    assert.equal(exact.totalBits, stuffed.length + crcField + fixed + 1 + 12);
    if (frame.brs) {
      // Stuff bits inside SOF..BRS; one due right after BRS already runs at the data rate.
      const inArbitration = stuff(bits.slice(0, arbitration), true).length - arbitration;
      assert.equal(exact.nominalBits, arbitration + inArbitration + 12);
    }
  }), { numRuns: 500 });
});

test('durations split nominal and data phases; a classic 8-byte frame at 500 kbit/s takes 222 µs unstuffed', () => {
  const classic = canFrame({ id: 0x7e0, data: new Uint8Array(8) });
  assert.equal(frameDurationSeconds(classic, { bitrate: 500_000, stuffing: 'none' }), 111 / 500_000);
  const fd = canFrame({ id: 0x7e0, fd: true, brs: true, data: new Uint8Array(64) });
  assertClose(frameDurationSeconds(fd, { bitrate: 500_000, dataBitrate: 2_000_000, stuffing: 'none' }),
    29 / 500_000 + 550 / 2_000_000);
  // No data bit rate: BRS frames stay at the nominal rate.
  assertClose(frameDurationSeconds(fd, { bitrate: 500_000, stuffing: 'none' }), 579 / 500_000);
});

test('ISO-TP payload limit: one consecutive frame payload per consecutive frame time', () => {
  const classic = isoTpPayloadLimitBytesPerSecond({ timing: { bitrate: 500_000 }, fd: false, frameDataLength: 8 });
  assert.ok(Math.abs(classic - 7 / (111 / 500_000)) < 1e-6);
  assert.ok(classic > 31_500 && classic < 31_550);
  const fd = isoTpPayloadLimitBytesPerSecond({ timing: { bitrate: 500_000, dataBitrate: 2_000_000 }, fd: true, frameDataLength: 64 });
  assert.ok(Math.abs(fd - 63 / (29 / 500_000 + 550 / 2_000_000)) < 1e-6);
  const worst = isoTpPayloadLimitBytesPerSecond({ timing: { bitrate: 500_000 }, fd: false, frameDataLength: 8, stuffing: 'worst-case' });
  assert.ok(Math.abs(worst - 7 / (135 / 500_000)) < 1e-6);
  assert.throws(() => isoTpPayloadLimitBytesPerSecond({ timing: { bitrate: 500_000 }, fd: true, frameDataLength: 10 }), /CAN FD frame carries/);
  assert.throws(() => isoTpPayloadLimitBytesPerSecond({ timing: { bitrate: 500_000 }, fd: false, frameDataLength: 12 }), /at most 8 bytes/);
});

test('bad timings are rejected with the reason', () => {
  assert.throws(() => busTiming({ bitrate: 0 }), InvalidTimingError);
  assert.throws(() => busTiming({ bitrate: 2_000_000 }), /nominal bitrate/);
  assert.throws(() => busTiming({ bitrate: 500_000, dataBitrate: 250_000 }), /data bitrate/);
  assert.throws(() => busTiming({ bitrate: Number.NaN }), /nominal bitrate/);
  assert.throws(() => busTiming({ bitrate: 500_000, stuffing: 'some' as never }), /stuffing/);
  assert.deepEqual(busTiming({ bitrate: 500_000 }), { bitrate: 500_000, stuffing: 'exact' });
});

test('a load meter adds up wire time of frames seen on any bus', () => {
  const meter = new BusLoadMeter({ bitrate: 500_000, stuffing: 'none' });
  for (let i = 0; i < 10; i += 1) meter.add(canFrame({ id: 0x100, data: new Uint8Array(8) }));
  assert.equal(meter.frames, 10);
  assert.ok(Math.abs(meter.loadPercent(0.00444) - 50) < 1e-9);
});
