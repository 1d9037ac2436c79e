import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FlowStatus, decodePdu, decodeStMin, describePdu, encodeConsecutiveFrame, encodeFirstFrame, encodeFlowControl,
  encodeSingleFrame, encodeStMin, firstFrameCapacity, frameLayout, framesForPayload, parseFirstFrame,
  parseFlowControl, parseSingleFrame, singleFrameCapacity, IsoTpConfigurationError,
} from '../../../src/can/isotp/index.ts';

const classic = frameLayout(false, 8, 0xcc);
const classicUnpadded = frameLayout(false, 8, null);
const fd64 = frameLayout(true, 64, 0xcc);
const fd64Unpadded = frameLayout(true, 64, null);
const bytes = (n: number, start = 1) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const hex = (data: Uint8Array) => Buffer.from(data).toString('hex');

test('single frame, classic: length nibble, padding to 8 or none', () => {
  assert.equal(hex(encodeSingleFrame(bytes(3), classic)), '03010203cccccccc');
  assert.equal(hex(encodeSingleFrame(bytes(7), classic)), '07010203040506' + '07');
  assert.equal(hex(encodeSingleFrame(bytes(3), classicUnpadded)), '03010203');
  assert.equal(hex(encodeSingleFrame(bytes(2), frameLayout(false, 8, 0x00))), '0201020000000000');
  assert.deepEqual(parseSingleFrame(Uint8Array.from([0x03, 1, 2, 3, 0xcc, 0xcc, 0xcc, 0xcc])), { headerLength: 1, length: 3 });
  assert.deepEqual(parseSingleFrame(Uint8Array.from([0x03, 1, 2, 3])), { headerLength: 1, length: 3 });
});

test('single frame, CAN FD: escape sequence for 8..62 bytes, padded to the next FD length', () => {
  assert.equal(singleFrameCapacity(fd64), 62);
  assert.equal(singleFrameCapacity(frameLayout(true, 8, 0xcc)), 7);
  const eight = encodeSingleFrame(bytes(8), fd64);
  assert.equal(eight.length, 12, '2 + 8 bytes need a 12-byte frame');
  assert.equal(hex(eight), '0008' + '0102030405060708' + 'cccc');
  const sixtyTwo = encodeSingleFrame(bytes(62), fd64Unpadded);
  assert.equal(sixtyTwo.length, 64);
  assert.equal(sixtyTwo[1], 62);
  // Without padding, a frame > 8 bytes is still filled to a valid FD length.
  const ten = encodeSingleFrame(bytes(10), fd64Unpadded);
  assert.equal(ten.length, 12);
  // Short payloads keep the classic form on FD, too.
  assert.equal(hex(encodeSingleFrame(bytes(5), fd64)), '050102030405cccc');
  assert.deepEqual(parseSingleFrame(eight), { headerLength: 2, length: 8 });
  assert.deepEqual(parseSingleFrame(sixtyTwo), { headerLength: 2, length: 62 });
});

test('single frames the standard says to ignore', () => {
  assert.equal(parseSingleFrame(Uint8Array.from([0x00, 1, 2, 3, 4, 5, 6, 7])), null, 'SF_DL 0 on a classic frame');
  assert.equal(parseSingleFrame(Uint8Array.from([0x05, 1, 2])), null, 'SF_DL longer than the frame');
  assert.equal(parseSingleFrame(Uint8Array.from([0x08, 1, 2, 3, 4, 5, 6, 7])), null, 'SF_DL 8 without escape');
  const fd = new Uint8Array(12);
  fd[0] = 0x05;
  // A plausible escape length in byte 1, so only the missing escape (nibble ≠ 0) can be why it is ignored.
  fd[1] = 5;
  assert.equal(parseSingleFrame(fd), null, 'FD frame > 8 bytes without the escape');
  fd[0] = 0x00;
  fd[1] = 11;
  assert.equal(parseSingleFrame(fd), null, 'escape SF_DL larger than the frame');
  fd[1] = 0;
  assert.equal(parseSingleFrame(fd), null, 'escape SF_DL 0');
  assert.equal(parseSingleFrame(Uint8Array.from([0x01])), null, 'no data byte');
});

test('first frame: 12-bit length, 32-bit escape above 4095, full TX_DL', () => {
  const short = encodeFirstFrame(bytes(100), classic);
  assert.equal(hex(short), '1064010203040506');
  assert.deepEqual(parseFirstFrame(short), { headerLength: 2, length: 100 });
  assert.equal(firstFrameCapacity(classic, 4095), 6);
  const max12 = encodeFirstFrame(bytes(4095), classic);
  assert.equal(hex(max12.subarray(0, 2)), '1fff');
  const escaped = encodeFirstFrame(bytes(4096), classic);
  assert.equal(hex(escaped), '1000000010000102');
  assert.equal(firstFrameCapacity(classic, 4096), 2);
  assert.deepEqual(parseFirstFrame(escaped), { headerLength: 6, length: 4096 });
  const fd = encodeFirstFrame(bytes(1 << 20), fd64);
  assert.equal(fd.length, 64);
  assert.equal(hex(fd.subarray(0, 6)), '100000100000');
  assert.deepEqual(parseFirstFrame(fd), { headerLength: 6, length: 1 << 20 });
  assert.equal(fd[6], 1);
});

test('first frames the standard says to ignore', () => {
  assert.equal(parseFirstFrame(Uint8Array.from([0x10, 0x07, 1, 2, 3, 4, 5, 6])), null, 'FF_DL 7 fits a single frame');
  assert.equal(parseFirstFrame(Uint8Array.from([0x10, 0x20, 1, 2, 3, 4])), null, 'FF shorter than 8 bytes');
  const fd = new Uint8Array(64);
  fd[0] = 0x10;
  fd[1] = 62;
  assert.equal(parseFirstFrame(fd), null, 'FD FF_DL that an escape SF would carry');
  assert.equal(parseFirstFrame(new Uint8Array(10).fill(0x10)), null, 'not a valid FD length');
});

test('consecutive frame: sequence nibble, last frame padded to 8 or the next FD length', () => {
  const payload = bytes(20);
  assert.equal(hex(encodeConsecutiveFrame(payload, 6, 1, classic)), '2107' + '08090a0b0c0d');
  assert.equal(hex(encodeConsecutiveFrame(payload, 13, 2, classic)), '220e0f1011121314');
  assert.equal(hex(encodeConsecutiveFrame(payload, 18, 15, classic)), '2f1314cccccccccc');
  assert.equal(hex(encodeConsecutiveFrame(payload, 18, 0, classicUnpadded)), '201314');
  const big = bytes(200);
  const full = encodeConsecutiveFrame(big, 62, 1, fd64);
  assert.equal(full.length, 64);
  assert.equal(full[1], 63);
  assert.equal(encodeConsecutiveFrame(big, 200 - 10, 5, fd64).length, 12, '1 + 10 bytes → 12');
  assert.equal(encodeConsecutiveFrame(big, 200 - 3, 5, fd64).length, 8, 'padding on: at least 8');
  assert.equal(encodeConsecutiveFrame(big, 200 - 3, 5, fd64Unpadded).length, 4, 'padding off: as short as allowed');
  const last = encodeConsecutiveFrame(big, 200 - 40, 5, fd64Unpadded);
  assert.equal(last.length, 48);
  assert.equal(last[41], 0xcc, 'FD length filler defaults to 0xCC');
});

test('flow control: status, block size, STmin; padded or 3 bytes', () => {
  assert.equal(hex(encodeFlowControl(FlowStatus.ContinueToSend, 8, 0x14, classic)), '300814cccccccccc');
  assert.equal(hex(encodeFlowControl(FlowStatus.Wait, 0, 0, classicUnpadded)), '310000');
  assert.equal(hex(encodeFlowControl(FlowStatus.Overflow, 0, 0, fd64)), '320000cccccccccc');
  assert.deepEqual(parseFlowControl(Uint8Array.from([0x30, 4, 0xf5])), { status: 0, blockSize: 4, stMinMs: 0.5 });
  assert.equal(parseFlowControl(Uint8Array.from([0x30, 4])), null);
});

test('STmin: milliseconds and 100-900 µs, reserved values mean 127 ms', () => {
  assert.equal(encodeStMin(0), 0);
  assert.equal(encodeStMin(127), 0x7f);
  assert.equal(encodeStMin(0.1), 0xf1);
  assert.equal(encodeStMin(0.9), 0xf9);
  for (const bad of [128, -1, 0.05, 0.35, 1.5, Number.NaN]) {
    assert.throws(() => encodeStMin(bad), IsoTpConfigurationError, String(bad));
  }
  assert.equal(decodeStMin(0x14), 20);
  assert.equal(decodeStMin(0xf3), 0.3);
  for (const reserved of [0x80, 0xf0, 0xfa, 0xff]) assert.equal(decodeStMin(reserved), 127);
});

test('layout checks: classic is 8 bytes, FD lengths only, padding a byte', () => {
  assert.throws(() => frameLayout(false, 64, 0xcc), IsoTpConfigurationError);
  assert.throws(() => frameLayout(true, 10, 0xcc), IsoTpConfigurationError);
  assert.throws(() => frameLayout(true, 64, 256), IsoTpConfigurationError);
  // CAN FD has DLCs below 8 too, but ISO-TP's TX_DL is at least 8.
  for (const short of [0, 4, 7]) assert.throws(() => frameLayout(true, short, 0xcc), /dataLength must be one of 8, 12, .* got /, String(short));
  assert.throws(() => frameLayout(false, 12, null), /classic CAN frames carry 8 data bytes; dataLength 12 needs fd/);
  assert.throws(() => frameLayout(false, 8, -1), /padding must be a byte \(0-255\) or null, got -1/);
  assert.throws(() => encodeStMin(0.05), /STmin must be 0-127 ms or 0.1-0.9 ms in 0.1 ms steps, got 0.05/);
  assert.equal(frameLayout(true, undefined, undefined).dataLength, 64);
  assert.equal(frameLayout(true, undefined, undefined).padding, 0xcc);
});

test('frame counts and PDU descriptions', () => {
  assert.equal(framesForPayload(classic, 7), 1);
  assert.equal(framesForPayload(classic, 8), 2);
  assert.equal(framesForPayload(classic, 4095), 1 + Math.ceil((4095 - 6) / 7));
  assert.equal(framesForPayload(classic, 4096), 1 + Math.ceil((4096 - 2) / 7));
  assert.equal(framesForPayload(fd64, 1 << 20), 1 + Math.ceil(((1 << 20) - 58) / 63));
  assert.equal(describePdu(decodePdu(encodeFirstFrame(bytes(4096), classic))), 'FF len=4096');
  assert.equal(describePdu(decodePdu(encodeConsecutiveFrame(bytes(20), 6, 3, classic))), 'CF sn=3');
  assert.equal(describePdu(decodePdu(encodeFlowControl(FlowStatus.Wait, 2, 0xf1, classic))), 'FC WAIT bs=2 st=0.1ms');
  assert.equal(describePdu(decodePdu(encodeFlowControl(FlowStatus.ContinueToSend, 0, 0, classic))), 'FC CTS bs=0 st=0ms');
  assert.equal(describePdu(decodePdu(encodeSingleFrame(bytes(2), classic))), 'SF len=2');
  assert.equal(decodePdu(Uint8Array.from([0x40, 1])).type, 'invalid');
  assert.equal(decodePdu(new Uint8Array(0)).type, 'invalid');
});

test('single frame boundaries: an unpadded 2-byte frame, the largest classic and escape lengths', () => {
  assert.deepEqual(decodePdu(Uint8Array.from([0x01, 0xaa])), { type: 'SF', length: 1, payload: Uint8Array.from([0xaa]) });
  assert.deepEqual(parseSingleFrame(Uint8Array.from([0x07, 1, 2, 3, 4, 5, 6, 7])), { headerLength: 1, length: 7 });
  assert.deepEqual(parseSingleFrame(Uint8Array.from([0x02, 1, 2])), { headerLength: 1, length: 2 }, 'SF_DL = CAN_DL - 1');
  const fd = new Uint8Array(12);
  fd[1] = 10;
  assert.deepEqual(parseSingleFrame(fd), { headerLength: 2, length: 10 }, 'escape SF_DL = CAN_DL - 2');
  fd[1] = 1;
  assert.deepEqual(parseSingleFrame(fd), { headerLength: 2, length: 1 }, 'escape SF_DL 1');
});

test('first frame boundaries: FF_DL 8 on classic, escape lengths checked against the frame', () => {
  assert.deepEqual(parseFirstFrame(Uint8Array.from([0x10, 0x08, 1, 2, 3, 4, 5, 6])), { headerLength: 2, length: 8 });
  // 32-bit escape: FF_DL below 8 (a single frame's worth) or not beyond what the FF itself carries is ignored.
  assert.equal(parseFirstFrame(Uint8Array.from([0x10, 0, 0, 0, 0, 7, 1, 2])), null, 'escape FF_DL 7');
  assert.deepEqual(parseFirstFrame(Uint8Array.from([0x10, 0, 0, 0, 0, 8, 1, 2])), { headerLength: 6, length: 8 }, 'escape FF_DL 8');
  const fd = new Uint8Array(64);
  fd[0] = 0x10;
  fd[5] = 58;
  assert.equal(parseFirstFrame(fd), null, 'escape FF_DL 58 fits the 58 payload bytes of a 64-byte escape FF');
  fd[5] = 59;
  assert.deepEqual(parseFirstFrame(fd), { headerLength: 6, length: 59 });
  fd[2] = 0xff;
  fd[3] = 0xff;
  fd[4] = 0xff;
  fd[5] = 0xff;
  assert.deepEqual(parseFirstFrame(fd), { headerLength: 6, length: 0xffff_ffff }, 'FF_DL read unsigned');
  const fd12 = new Uint8Array(12);
  fd12[0] = 0x10;
  fd12[1] = 10;
  assert.equal(parseFirstFrame(fd12), null, 'FF_DL 10 fits a 12-byte FF');
  fd12[1] = 11;
  assert.deepEqual(parseFirstFrame(fd12), { headerLength: 2, length: 11 });
});

test('decodePdu turns every malformed frame into an invalid PDU with its reason', () => {
  const cases: Array<[string, number[], string]> = [
    ['empty data', [], 'empty frame'],
    ['SF with no data byte', [0x01], 'single frame with an invalid length'],
    ['SF_DL 0', [0x00, 1, 2], 'single frame with an invalid length'],
    ['SF_DL beyond the frame', [0x03, 1, 2], 'single frame with an invalid length'],
    ['escape SF_DL beyond a 12-byte frame', [0x00, 11, ...new Array<number>(10).fill(0)], 'single frame with an invalid length'],
    ['FF of one byte', [0x10], 'first frame with an invalid length'],
    ['FF truncated to 7 bytes', [0x10, 0x20, 1, 2, 3, 4, 5], 'first frame with an invalid length'],
    ['FF with FF_DL 7', [0x10, 0x07, 1, 2, 3, 4, 5, 6], 'first frame with an invalid length'],
    ['escape FF with FF_DL 0', [0x10, 0, 0, 0, 0, 0, 1, 2], 'first frame with an invalid length'],
    ['escape FF with FF_DL 7', [0x10, 0, 0, 0, 0, 7, 1, 2], 'first frame with an invalid length'],
    ['FF of a length no FD frame has', [0x10, 0x20, ...new Array<number>(8).fill(0)], 'first frame with an invalid length'],
    ['CF without data', [0x21], 'consecutive frame without data'],
    ['FC of one byte', [0x30], 'flow control shorter than 3 bytes'],
    ['FC of two bytes', [0x30, 0], 'flow control shorter than 3 bytes'],
    ['PCI type 4', [0x40, 1, 2], 'reserved PCI type 4'],
    ['PCI type 15', [0xff, 1, 2, 3, 4, 5, 6, 7], 'reserved PCI type 15'],
  ];
  for (const [what, data, reason] of cases) {
    assert.deepEqual(decodePdu(Uint8Array.from(data)), { type: 'invalid', reason }, what);
  }
  assert.equal(describePdu(decodePdu(new Uint8Array(0))), 'not ISO-TP (empty frame)');
});

test('decodePdu: the shortest valid CF and FC, and flow statuses the standard does not define', () => {
  assert.deepEqual(decodePdu(Uint8Array.from([0x2f, 9])), { type: 'CF', sequence: 15, payload: Uint8Array.from([9]) });
  assert.deepEqual(decodePdu(Uint8Array.from([0x30, 0, 0])), { type: 'FC', status: 0, blockSize: 0, stMinMs: 0 });
  // FS 3-15 are reserved: shown as they are (the sender aborts on them, see sender.ts), not hidden.
  const reserved = decodePdu(Uint8Array.from([0x3f, 2, 0xf9]));
  assert.deepEqual(reserved, { type: 'FC', status: 15, blockSize: 2, stMinMs: 0.9 });
  assert.equal(describePdu(reserved), 'FC FS=15 bs=2 st=0.9ms');
  assert.equal(describePdu(decodePdu(Uint8Array.from([0x32, 0, 0]))), 'FC OVFLW bs=0 st=0ms');
});

test('STmin decoding at every boundary of ISO 15765-2 Table 20', () => {
  assert.equal(decodeStMin(0x00), 0);
  assert.equal(decodeStMin(0x7f), 127);
  assert.equal(decodeStMin(0x80), 127, 'reserved');
  assert.equal(decodeStMin(0xf0), 127, 'reserved');
  assert.equal(decodeStMin(0xf1), 0.1);
  assert.equal(decodeStMin(0xf9), 0.9, '900 µs');
  assert.equal(decodeStMin(0xfa), 127, 'reserved');
  for (let ms = 0; ms <= 127; ms++) assert.equal(decodeStMin(encodeStMin(ms)), ms);
  for (let tenths = 1; tenths <= 9; tenths++) assert.equal(decodeStMin(encodeStMin(tenths / 10)), tenths / 10);
});

test('decodePdu never throws, on any byte array of length 0 to 64', () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 64 }), (data) => {
    const pdu = decodePdu(data);
    assert.equal(typeof describePdu(pdu), 'string');
    if (pdu.type === 'SF' || pdu.type === 'FF' || pdu.type === 'CF') assert.ok(pdu.payload.length < data.length);
    if (pdu.type === 'SF') assert.equal(pdu.payload.length, pdu.length);
  }), { numRuns: 5000 });
});
